//! Command tiers: a tier that runs any test runner's command (pytest, go test through
//! gotestsum, jest, maven, ...) instead of nextest. The tier's `timeout` bounds the whole tier
//! (every attempt together); `retries` run the command again (or its `rerun` command); results
//! come from the JUnit the command writes at `{junit}`, or else from its exit code as one
//! pseudo-test named `<tier>::<program>`.
//!
//! * [`process`]: one run of the command (process group, deadline, output, signals).
//! * [`junit`]: reading JUnit of any common flavour; writing the tier's normalized copy.
//! * [`tier`]: a tier's attempts, deadline and result.
//! * [`attempts`]: merging attempts, flaky detection.

pub(crate) mod attempts;
pub(crate) mod list;
pub(crate) mod process;
mod tier;

pub(crate) use tier::{CommandRun, check_programs, display, run_tier, threads};
