//! Machines around a run: preflight (provider health, pressure, run lock, reaping, warm images,
//! baselines, worker machines) and postflight (cleanup, leak check).

pub mod baselines;
pub mod blame;
pub mod cleanup;
pub mod docker;
pub mod health;
pub mod parallel;
pub mod pressure;
pub mod provider;
pub mod reap;
pub mod remedy;
pub mod sampler;
pub mod session;
pub mod shim_setup;
pub mod state;
pub mod stats;
pub mod warm;
pub mod worker_provisioning;

pub use session::{LifecycleOptions, Postflight, Preflight, PreflightContext, Session};
