//! The process exit codes of `cargo orbtest` (documented in the README; CI scripts rely on them).

/// Every tier that ran passed (and the gate, when evaluated).
pub(crate) const PASSED: i32 = 0;
/// At least one test failed or timed out.
pub(crate) const TESTS_FAILED: i32 = 1;
/// Tests passed but the release gate did not.
pub(crate) const GATE_FAILED: i32 = 2;
/// Preflight or infrastructure failure: build failed, nextest or OrbStack unusable, reports
/// could not be written.
pub(crate) const INFRASTRUCTURE: i32 = 3;
/// The only failure: tiers selected no test (`no_tests = "fail"`, the default), as nextest's
/// "no tests to run".
pub(crate) const NO_TESTS: i32 = 4;
/// Bad command line or config.
pub(crate) const USAGE: i32 = 64;
/// Ended by SIGHUP (the terminal went away), handled like SIGTERM.
pub(crate) const HANGUP: i32 = 129;
/// Interrupted by SIGINT (Ctrl-C).
pub(crate) const INTERRUPTED: i32 = 130;
/// Terminated by SIGTERM.
pub(crate) const TERMINATED: i32 = 143;
