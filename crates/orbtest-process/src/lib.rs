//! The one child-process supervisor of cargo-orbtest. cargo-nextest, command tiers' test
//! runners, provisioning steps and every orbctl call run through [`run`], so timeouts,
//! interrupts and orphans behave the same for all of them:
//!
//! * each child leads its own process group (so it and everything it spawned can be
//!   signalled at once) and, on Linux, dies with us;
//! * output is captured, streamed line by line, or redirected ([`Output`]);
//! * a deadline sends SIGTERM to the group and SIGKILL after a grace, or SIGKILL at once
//!   ([`Stop`]);
//! * interrupts are a value the caller passes in ([`Interrupts`]): the first is forwarded to
//!   the group, a second kills it;
//! * processes that escaped the group but carry the child's [`Mark`] are killed after a forced
//!   end.
//!
//! Used by `orbtest-machines` (orbctl calls) and `cargo-orbtest` (tiers, lifecycle).

mod group;
mod interrupts;
mod invocation;
mod orphans;
mod supervise;

pub use interrupts::{Interrupt, Interrupts, Listening};
pub use invocation::{Invocation, StdinMode};
pub use orphans::{Mark, kill_marked, kill_marked_if};
pub use supervise::{ChildExit, Output, Sink, Stop, SuperviseError, Supervision, Watch, capture, run};
