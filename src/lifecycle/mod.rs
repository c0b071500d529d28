//! Machines around a run: preflight (provider health, pressure, run lock, reaping, warm images,
//! baselines) and postflight (cleanup, leak check).

pub mod reap;
pub mod state;
