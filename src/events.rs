//! What a run reports while it happens. The runner emits these; the terminal views (plain lines
//! for CI, a live view on a terminal) consume them. Final results travel separately, in
//! `results::RunResult`.

use std::time::Duration;

use crate::results::{MachineActivity, TestStatus, TierResult};

#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// The one build before any tier runs.
    BuildStarted,
    BuildFinished {
        duration: Duration,
        ok: bool,
    },
    /// A preflight/postflight step (spinner with its duration on a terminal).
    StepStarted {
        step: &'a str,
    },
    StepFinished {
        step: &'a str,
        duration: Duration,
        outcome: Result<String, String>,
    },
    TierStarted {
        tier: &'a str,
        machines: bool,
    },
    /// nextest announced how many tests the tier runs.
    TierTotal {
        tier: &'a str,
        total: usize,
    },
    TestFinished {
        tier: &'a str,
        test: &'a str,
        status: TestStatus,
        done: usize,
        total: usize,
    },
    /// A line of nextest's output for the tier (shown live with `-v`).
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
pub struct Silent;

impl Observer for Silent {
    fn event(&self, _: &Event<'_>) {}
}
