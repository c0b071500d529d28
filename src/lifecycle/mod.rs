//! Machines around a run: preflight (provider health, pressure, run lock, reaping, warm images,
//! baselines) and postflight (cleanup, leak check).

pub mod baselines;
pub mod cleanup;
pub mod pressure;
pub mod provider;
pub mod reap;
pub mod sampler;
pub mod session;
pub mod state;
pub mod warm;

pub use session::{LifecycleOptions, Postflight, Preflight, PreflightContext, Session};
