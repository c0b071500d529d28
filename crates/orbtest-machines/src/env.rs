//! The environment variables a run gives the processes that call orbctl on its behalf. Each is
//! named here once; cargo-orbtest's `env` module re-exports them beside its own.

/// The run directory: its settings (`settings.json`), journal, create slots and worker set.
/// Set in machine tiers; the shim and [`crate::Machines::from_env`] read it.
pub const RUN_DIR: &str = "ORBTEST_RUN_DIR";
/// The real orbctl behind the shim (informational; the shim trusts the run's settings).
pub const REAL_ORBCTL: &str = "ORBTEST_REAL_ORBCTL";
/// The worker machine of this test (set per test by orbtest's target runner).
pub const WORKER: &str = "ORBTEST_WORKER";
/// Every worker machine of the run, comma-separated, in slot order.
pub const WORKERS: &str = "ORBTEST_WORKERS";
