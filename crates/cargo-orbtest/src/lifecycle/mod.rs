//! Machines around a run: preflight (provider health, pressure, run lock, reaping, warm images,
//! baselines, worker machines) and postflight (cleanup, leak check).

pub(crate) mod baselines;
pub mod blame;
pub(crate) mod cleanup;
pub mod docker;
pub(crate) mod health;
pub(crate) mod parallel;
pub(crate) mod pressure;
pub mod provider;
pub(crate) mod reap;
pub(crate) mod remedy;
mod resolved;
pub(crate) mod sampler;
pub(crate) mod session;
pub(crate) mod shim_setup;
pub(crate) mod state;
pub(crate) mod stats;
pub(crate) mod warm;
pub(crate) mod worker_provisioning;

pub use session::{LifecycleOptions, Postflight, Preflight, PreflightContext, Session};
