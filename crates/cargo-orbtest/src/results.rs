//! What a run produced: per-test outcomes, per-tier results, the run as a whole. Reports,
//! the terminal summary and the gate all read these; nothing here writes files.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::signals::Interrupt;

/// A test as nextest names it: binary id plus test name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TestId {
    pub binary_id: String,
    pub name: String,
}

impl fmt::Display for TestId {
    /// `binary-id::test-name`, the form summary.json uses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}", self.binary_id, self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestStatus {
    Passed,
    /// Failed, then passed on a retry.
    Flaky,
    Failed,
    TimedOut,
    /// Selected but not run (a cancelled tier, or a runner's own skip).
    Skipped,
}

impl TestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TestStatus::Passed => "passed",
            TestStatus::Flaky => "flaky",
            TestStatus::Failed => "failed",
            TestStatus::TimedOut => "timed-out",
            TestStatus::Skipped => "skipped",
        }
    }

    pub fn is_failure(self) -> bool {
        matches!(self, TestStatus::Failed | TestStatus::TimedOut)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    pub id: TestId,
    pub status: TestStatus,
    /// Of the final attempt.
    pub duration: Duration,
    pub attempts: u32,
    /// The failure message nextest recorded (panic location, "test timeout", ...).
    pub message: Option<String>,
    /// Captured output of the final failing attempt.
    pub output: Option<String>,
}

/// Counts in summary.json. `passed` includes `flaky` (they passed, on a retry); `failed` does
/// not include `timed_out`; `skipped` are tests the tier selected that never ran (cancelled,
/// also counted in `not_run`) or that a runner reported as skipped. `#[ignore]`d tests are not
/// selected and not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TestCounts {
    pub passed: u64,
    pub failed: u64,
    pub flaky: u64,
    pub timed_out: u64,
    pub skipped: u64,
    pub not_run: u64,
    /// Failed or timed-out tests a `[[quarantine]]` entry covers: not in `failed`/`timed_out`,
    /// they do not fail their tier.
    pub quarantined: u64,
}

impl TestCounts {
    pub fn of(tests: &[TestResult]) -> Self {
        let mut c = Self::default();
        for t in tests {
            match t.status {
                TestStatus::Passed => c.passed += 1,
                TestStatus::Flaky => {
                    c.passed += 1;
                    c.flaky += 1;
                }
                TestStatus::Failed => c.failed += 1,
                TestStatus::TimedOut => c.timed_out += 1,
                TestStatus::Skipped => c.skipped += 1,
            }
        }
        c
    }

    pub fn total(&self) -> u64 {
        self.passed + self.failed + self.timed_out + self.skipped
    }

    pub fn failures(&self) -> u64 {
        self.failed + self.timed_out
    }

    pub fn add(&mut self, other: &TestCounts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.flaky += other.flaky;
        self.timed_out += other.timed_out;
        self.skipped += other.skipped;
        self.not_run += other.not_run;
        self.quarantined += other.quarantined;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierOutcome {
    Passed,
    Failed,
    Skipped,
}

impl TierOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            TierOutcome::Passed => "passed",
            TierOutcome::Failed => "failed",
            TierOutcome::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone)]
pub struct TierResult {
    pub name: String,
    pub outcome: TierOutcome,
    /// Why a skipped tier did not run, or why a failed tier failed without test failures.
    pub reason: Option<String>,
    pub started_at: Option<SystemTime>,
    pub duration: Duration,
    pub tests: Vec<TestResult>,
    pub counts: TestCounts,
    /// nextest's exit code (a command tier's: its command's), when it ran.
    pub nextest_exit: Option<i32>,
    /// nextest's own output for this tier (a command tier's: its command's).
    pub log: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    /// A command tier's command line (shell-quoted); `None` for nextest tiers.
    pub command: Option<String>,
    /// Tests that failed under a `[[quarantine]]` entry (still failed in `tests`).
    pub quarantined: Vec<QuarantinedTest>,
}

/// A failing test excused by a `[[quarantine]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantinedTest {
    pub id: TestId,
    pub status: TestStatus,
    pub reason: String,
    pub owner: String,
    /// `YYYY-MM-DD`
    pub expires: String,
}

impl TierResult {
    pub fn skipped(name: &str, reason: String) -> Self {
        Self {
            name: name.to_string(),
            outcome: TierOutcome::Skipped,
            reason: Some(reason),
            started_at: None,
            duration: Duration::ZERO,
            tests: Vec::new(),
            counts: TestCounts::default(),
            nextest_exit: None,
            log: None,
            junit: None,
            command: None,
            quarantined: Vec::new(),
        }
    }

    /// A tier this run left empty on purpose (`--shard`): passed, with why, so the tiers that
    /// need it still run.
    pub fn nothing_selected(name: &str, reason: String) -> Self {
        Self {
            outcome: TierOutcome::Passed,
            ..Self::skipped(name, reason)
        }
    }

    /// "passed", "passed (2 quarantined failed)", "failed", "skipped".
    pub fn verdict(&self) -> String {
        match self.outcome {
            TierOutcome::Passed if self.counts.quarantined > 0 => {
                format!("passed ({} quarantined failed)", self.counts.quarantined)
            }
            other => other.as_str().to_string(),
        }
    }

    /// A tier that ran, before its results are read: failed until they say otherwise.
    pub fn ran(name: &str, started_at: SystemTime, duration: Duration, log: PathBuf) -> Self {
        Self {
            outcome: TierOutcome::Failed,
            reason: None,
            started_at: Some(started_at),
            duration,
            log: Some(log),
            ..Self::skipped(name, String::new())
        }
    }

    /// Failed and timed-out tests, quarantined ones excepted.
    pub fn failures(&self) -> impl Iterator<Item = &TestResult> {
        self.tests
            .iter()
            .filter(|t| t.status.is_failure() && !self.is_quarantined(&t.id))
    }

    pub fn is_quarantined(&self, id: &TestId) -> bool {
        // By name: a run read back from its reports may split binary ids differently.
        let name = id.to_string();
        self.quarantined.iter().any(|q| q.id.to_string() == name)
    }

    pub fn flaky(&self) -> impl Iterator<Item = &TestResult> {
        self.tests.iter().filter(|t| t.status == TestStatus::Flaky)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    Passed,
    Failed,
    GateFailed,
    Error,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Passed => "passed",
            RunOutcome::Failed => "failed",
            RunOutcome::GateFailed => "gate-failed",
            RunOutcome::Error => "error",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunResult {
    pub run_id: String,
    pub started_at: SystemTime,
    pub duration: Duration,
    pub tiers: Vec<TierResult>,
    pub interrupted: Option<Interrupt>,
    /// An infrastructure failure that ended the run early.
    pub error: Option<String>,
    pub nextest_version: String,
    pub machines: MachineStats,
    pub resources: ResourcePeaks,
    pub gate: GateVerdict,
    /// Set when the run was one shard of a partitioned run (`--shard K/N`).
    pub shard: Option<ShardInfo>,
}

/// Which shard a run was and how its tests were chosen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardInfo {
    /// `K/N`
    pub spec: String,
    /// The plan's id (`--plan`); `None` for nextest's `slice:` without a plan.
    pub plan_id: Option<String>,
    /// The plan's predicted time for this shard.
    pub predicted_ms: Option<u64>,
    /// Tests the plan did not know, placed by hash (`tier: id`).
    pub newer_than_plan: Vec<String>,
}

/// What the run did with machines (all zero when no tier uses machines).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineStats {
    pub created: u64,
    pub cloned: u64,
    /// Creates that timed out (or hit "already exists" on a retry) but had succeeded.
    pub recovered: u64,
    pub retried: u64,
    pub peak_concurrent_creates: u64,
    /// Prefix-matched machines still present after postflight.
    pub leftover: Vec<String>,
}

/// What a machine tier's tests did with machines (shown after the tier).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineActivity {
    pub creates: u64,
    pub clones: u64,
    /// Creates that hung or timed out but had succeeded.
    pub recoveries: u64,
    pub retries: u64,
    pub peak_concurrent_creates: u64,
    /// The slowest operations: (op, machine, duration).
    pub slowest: Vec<(String, Option<String>, std::time::Duration)>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ResourcePeaks {
    pub peak_memory_percent: Option<f64>,
    pub peak_swap_percent: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateVerdict {
    pub evaluated: bool,
    pub passed: bool,
    pub violations: Vec<String>,
}

impl RunResult {
    /// Masks what a finished run carries into its reports (test output and messages, reasons,
    /// the run's error), so summary.json, report.html, the terminal summary and GitHub output
    /// are clean whatever produced the text.
    pub fn redact(&mut self, redactor: &orbtest_machines::redact::Redactor) {
        let mask = |s: &mut String| {
            if let std::borrow::Cow::Owned(clean) = redactor.redact(s) {
                *s = clean;
            }
        };
        if let Some(e) = self.error.as_mut() {
            mask(e);
        }
        for tier in &mut self.tiers {
            if let Some(r) = tier.reason.as_mut() {
                mask(r);
            }
            for test in &mut tier.tests {
                test.message.iter_mut().chain(test.output.iter_mut()).for_each(mask);
            }
        }
    }

    pub fn counts(&self) -> TestCounts {
        let mut c = TestCounts::default();
        for t in &self.tiers {
            c.add(&t.counts);
        }
        c
    }

    /// The run's outcome, the gate included.
    pub fn outcome(&self) -> RunOutcome {
        match self.test_outcome() {
            RunOutcome::Passed if self.gate.evaluated && !self.gate.passed => RunOutcome::GateFailed,
            other => other,
        }
    }

    /// The process exit code for this outcome (see `exit_code`).
    pub fn exit_code(&self) -> i32 {
        use crate::exit_code;
        if let Some(i) = self.interrupted {
            return i.exit_code();
        }
        match self.outcome() {
            RunOutcome::Passed => exit_code::PASSED,
            RunOutcome::Failed => exit_code::TESTS_FAILED,
            RunOutcome::GateFailed => exit_code::GATE_FAILED,
            RunOutcome::Error => exit_code::INFRASTRUCTURE,
        }
    }

    /// The outcome before the gate is considered.
    pub fn test_outcome(&self) -> RunOutcome {
        if self.error.is_some() || self.interrupted.is_some() {
            RunOutcome::Error
        } else if self.tiers.iter().any(|t| t.outcome == TierOutcome::Failed) {
            RunOutcome::Failed
        } else {
            RunOutcome::Passed
        }
    }
}
