//! What a run reports while it happens. The runner emits these; the terminal views (plain lines
//! for CI, a live view on a terminal) consume them. Final results travel separately, in
//! `results::RunResult`.

use std::path::Path;
use std::time::Duration;

use crate::results::Sample;
use crate::results::{MachineActivity, TestStatus, TierResult};
use crate::signals::Interrupt;

/// How a preflight or postflight step ended, as the views show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// Done; what it did (may be empty).
    Done(String),
    /// Failed; why.
    Failed(String),
}

#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// The run directory exists: the run's clock starts here (the resource monitor starts
    /// sampling into `<dir>/timeline.jsonl`).
    RunStarted {
        run_id: &'a str,
        dir: &'a Path,
    },
    /// The one build before any tier runs.
    BuildStarted,
    BuildFinished {
        duration: Duration,
        /// `None` when built; else what went wrong, in a few words ("build failed").
        failure: Option<&'a str>,
    },
    /// The build's test binaries (path, binary id), for naming the tests that run.
    TestBinaries {
        binaries: &'a [(std::path::PathBuf, String)],
    },
    /// A preflight/postflight step (spinner with its duration on a terminal).
    StepStarted {
        step: &'a str,
    },
    StepFinished {
        step: &'a str,
        duration: Duration,
        outcome: StepOutcome,
    },
    TierStarted {
        tier: &'a str,
        machines: bool,
    },
    /// The tier's `cargo-nextest` process started (cargo execs into it, so this is nextest's
    /// own pid; its direct children are the running tests).
    TierProcess {
        tier: &'a str,
        pid: u32,
    },
    /// A command tier starts its command (`attempt` 1) or runs it again for a retry.
    TierCommand {
        tier: &'a str,
        attempt: u32,
        command: &'a str,
    },
    /// nextest announced how many tests the tier runs.
    TierTotal {
        tier: &'a str,
        total: usize,
    },
    /// What the tier's tests took in earlier runs and how many run at once: for an ETA.
    TierExpected {
        tier: &'a str,
        /// Tests at once (the tier's `threads`, or `-j`).
        threads: usize,
        /// Each known test (as shown: `binary-id test`) and its last duration.
        durations: &'a [(String, Duration)],
    },
    /// A test reached its final status. `test` is as shown: `binary-id test-name`.
    TestFinished {
        tier: &'a str,
        test: &'a str,
        status: TestStatus,
        /// Of the final attempt.
        duration: Duration,
        done: usize,
        total: usize,
    },
    /// An attempt of a test failed or timed out (a retry may follow), with the first lines
    /// of its message.
    TestFailed {
        tier: &'a str,
        test: &'a str,
        /// 1 for the first run.
        attempt: u32,
        status: TestStatus,
        message: &'a [String],
    },
    /// A failed test waits before its next attempt.
    TestRetrying {
        tier: &'a str,
        test: &'a str,
        /// The attempt to come, of how many at most.
        attempt: u32,
        of: u32,
        delay: Duration,
    },
    /// The tests running now in the tier, longest running first (from the monitor).
    TestsRunning {
        tier: &'a str,
        tests: &'a [(String, Duration)],
    },
    /// SIGINT or SIGTERM arrived (`count` 2 and up: the impatient kind); sent the moment it
    /// does, from the signal thread.
    Interrupted {
        interrupt: Interrupt,
        count: usize,
    },
    /// A line of nextest's (or a command tier's) output for the tier (shown live with `-v`).
    TierOutput {
        tier: &'a str,
        line: &'a str,
    },
    TierFinished {
        result: &'a TierResult,
    },
    TierSkipped {
        tier: &'a str,
        reason: &'a str,
    },
    /// After a machine tier: what its tests did with machines.
    MachineActivity {
        tier: &'a str,
        activity: &'a MachineActivity,
    },
    /// A resource sample from the monitor (at least once a second while a live view is shown).
    Resources {
        sample: &'a Sample,
    },
    /// Something worth telling the user that is not an error.
    Note {
        message: &'a str,
    },
}

/// Receives events. Implementations use interior mutability: events may come from several
/// threads (the runner, the resource monitor).
pub trait Observer: Send + Sync {
    fn event(&self, event: &Event<'_>);
}

/// Discards everything (`-q`, tests).
pub(crate) struct Silent;

impl Observer for Silent {
    fn event(&self, _: &Event<'_>) {}
}

/// Sends every event to each observer in turn (the monitor, then the view).
pub struct Tee<'a>(pub Vec<&'a dyn Observer>);

impl Observer for Tee<'_> {
    fn event(&self, event: &Event<'_>) {
        for o in &self.0 {
            o.event(event);
        }
    }
}
