//! Every `ORBTEST_*` environment variable, named once: those the machines client reads (from
//! `orbtest_machines::env`) and the orchestrator's own.

pub use orbtest_machines::env::{REAL_ORBCTL, RUN_DIR, WORKER, WORKERS};

/// orbtest's state directory (default: the user's cache directory).
pub(crate) const HOME: &str = "ORBTEST_HOME";
/// `tracing` filter for orbtest's own diagnostics (default `warn`).
pub(crate) const LOG: &str = "ORBTEST_LOG";
/// Marks every process of a tier, so the ones left when nextest dies can be found and ended.
pub(crate) const TIER_PROCESS: &str = "ORBTEST_TIER_PROCESS";
/// The lock a run holds while it lives, on every process of its tiers: a later run ends the
/// processes of a run that was killed outright (nobody holds its lock any more).
pub(crate) const RUN_ALIVE: &str = "ORBTEST_RUN_ALIVE";
/// The user's own target runner, which orbtest's runner chains to.
pub(crate) const CHAINED_RUNNER: &str = "ORBTEST_CHAINED_RUNNER";
/// A command tier's name, attempt number and JUnit path, as its command sees them.
pub(crate) const TIER: &str = "ORBTEST_TIER";
pub(crate) const ATTEMPT: &str = "ORBTEST_ATTEMPT";
pub(crate) const JUNIT: &str = "ORBTEST_JUNIT";

/// `inv` without inherited `NEXTEST_*` variables: when orbtest itself runs under nextest (our
/// own tests do), they would silently override a tier's profile (e.g. `NEXTEST_TEST_THREADS`)
/// or the workspace nextest and cargo see.
pub(crate) fn scrubbed(inv: orbtest_process::Invocation) -> orbtest_process::Invocation {
    inv.without_inherited("NEXTEST_")
}
