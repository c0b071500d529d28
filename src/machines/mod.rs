//! The one place that talks to orbctl.
//!
//! * [`op`]: typed operations and their argv; [`argv`]: reading argv the way orbctl does.
//! * [`output`]: `list`/`info` JSON; [`errors`]: classifying failures.
//! * [`provider`]: what executes an argv (real orbctl, orbsim; later Docker/Incus).
//! * [`process`]: children in their own process group, killed as a group on timeout.
//! * [`policy`] + [`client`]: timeouts per class, retries, idempotent create under timeouts,
//!   and the observer/admission hooks.
//! * [`journal`]: every attempt and every change of ownership, per run (crash-safe).
//! * [`api`]: machines for Rust tests that delete themselves on drop.
//! * [`workers`]: the run's warm worker machines: which one a process has, health, replacement.

pub mod admission;
pub mod api;
pub mod argv;
pub mod client;
pub mod errors;
pub mod images;
pub mod journal;
pub mod op;
pub mod output;
pub mod policy;
pub mod process;
pub mod provider;
pub mod settings;
pub mod tracked;
pub mod workers;

pub use api::{Machine, Machines, RunOutput};
pub use client::{Admission, Attempt, AttemptOutcome, Client, MachinesError, Observer, OpResult, Outcome, Permit};
pub use errors::{ErrorKind, classify};
pub use journal::{Journal, JournalView, OpRecord, Owned, Record};
pub use op::{Flavor, Op, OpClass};
pub use output::{MachineInfo, MachineRecord, parse_info, parse_list};
pub use policy::{Backoff, Policy, Retry, Timeouts};
pub use provider::{OrbctlProvider, Pressure, Provider, host_pressure};
