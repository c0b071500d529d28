//! The one way cargo-orbtest runs child processes: each in its own process group (so it and
//! everything it spawned can be signalled at once), killed with us on Linux, with timeouts that
//! end the whole group.
//!
//! * [`group`]: preparing a child to live in its own group, and signalling that group.
//! * [`capture`]: running a child to completion with captured output and an optional timeout.

pub mod capture;
pub mod group;

pub use capture::{Captured, Invocation, StdinMode, run};
pub use group::{signal_group, supervise, supervise_duct};
