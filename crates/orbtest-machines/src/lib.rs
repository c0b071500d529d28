//! Machines for tests, through orbctl: the client side of cargo-orbtest.
//!
//! Test suites depend on this crate (and only this one) to get machines that respect a run's
//! policy; cargo-orbtest's shim and lifecycle use it for every machine operation, so there is
//! one retry/timeout implementation. What orbctl *says* (argv, messages, JSON) is defined in
//! the [`orbctl`] crate; this crate decides *how to call it*.
//!
//! * [`provider`]: what executes an argv (real orbctl, orbsim; later Docker).
//! * [`policy`] + [`client`]: timeouts per class, retries, idempotent create under timeouts,
//!   and the observer/admission hooks.
//! * [`admission`]: the run's create gate: how many creates at once (the host's headroom, or
//!   an explicit cap) and pressure backpressure.
//! * [`broker`]: the run's machine broker, which carries out every call of its tests (over a
//!   Unix socket), and its client [`broker::remote::Remote`].
//! * [`journal`]: every attempt and every change of ownership, per run (crash-safe).
//! * [`tracked`]: the broker's executor: ownership, create→clone.
//! * [`settings`]: what a run tells the processes that call orbctl on its behalf.
//! * [`api`]: machines for Rust tests that delete themselves on drop.
//! * [`worker_machines`]: the run's warm worker machines: which one a process has, health, replacement.
//! * [`redact`]: secrets masked in everything a run writes; [`files`]: atomic, private files;
//!   [`text`]: other programs' output bounded before it enters a message.

pub mod admission;
pub mod api;
pub mod broker;
pub(crate) mod client;
pub(crate) mod clock;
pub(crate) mod decision;
pub mod env;
pub mod files;
pub mod journal;
pub mod policy;
pub mod provider;
pub mod redact;
pub mod settings;
pub mod text;
pub mod tracked;
pub mod worker_machines;

pub use api::{Machine, Machines, RunOutput};
pub use client::{
    Admission, AttemptObserver, AttemptOutcome, CallAttempt, Client, MachinesError, OpResult, Outcome, Permit,
};
pub use journal::{Journal, JournalView, OpRecord, Owned, Record};
pub use orbctl::{ErrorKind, Flavor, MachineInfo, MachineRecord, Op, OpClass, classify, parse_info, parse_list};
pub use policy::{Backoff, Policy, Retry, Timeouts};
pub use provider::{MemoryMib, OrbctlProvider, Pressure, PressureSource, Provider};
