//! What a run produced: per-test outcomes, per-tier results, the run as a whole. Reports,
//! the terminal summary and the gate all read these; nothing here writes files.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

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

impl TestId {
    /// `binary-id test-name`, as nextest shows a test (the space is where the binary ends):
    /// what the terminal, report.html and GitHub show.
    pub fn shown(&self) -> String {
        if self.name.is_empty() {
            return self.binary_id.clone();
        }
        format!("{} {}", self.binary_id, self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestStatus {
    Passed,
    /// Failed, then passed on a retry.
    Flaky,
    Failed,
    TimedOut,
    /// Selected but not run by design (`#[ignore]`d, or a runner's own skip).
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

    /// The inverse of `as_str`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "passed" => TestStatus::Passed,
            "flaky" => TestStatus::Flaky,
            "failed" => TestStatus::Failed,
            "timed-out" => TestStatus::TimedOut,
            "skipped" => TestStatus::Skipped,
            _ => return None,
        })
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
    /// Every attempt, oldest first, for tests that failed at least once (failed, timed out,
    /// flaky); empty for a test that passed at once or was skipped. `message` and `output`
    /// above are the final attempt's.
    pub attempt_log: Vec<Attempt>,
}

/// One attempt of a test: its first run or a retry.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// 1 for the first run.
    pub n: u32,
    /// Passed, Failed or TimedOut.
    pub status: TestStatus,
    pub duration: Duration,
    /// When the attempt started, where the runner says (nextest does); machine-layer blame
    /// looks for machine calls inside this window.
    pub started_at: Option<SystemTime>,
    pub message: Option<String>,
    /// What the attempt printed (its last lines).
    pub output: Option<String>,
    pub blame: Blame,
}

/// Who an attempt's failure is put on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Blame {
    /// The test itself (also: it passed).
    #[default]
    Test,
    /// The machine layer, and why (a create that timed out, a call its caller gave up on, ...).
    Machines(String),
}

impl Attempt {
    /// An attempt that started at an unknown time, blamed on the test.
    pub fn new(n: u32, status: TestStatus, duration: Duration) -> Self {
        Self {
            n,
            status,
            duration,
            started_at: None,
            message: None,
            output: None,
            blame: Blame::Test,
        }
    }
}

/// A timed-out attempt's message: `timed out after 3s` (whole seconds from one second up, as
/// a timeout is configured; milliseconds below).
pub(crate) fn timed_out_after(limit: Duration) -> String {
    let shown = if limit >= Duration::from_secs(1) {
        Duration::from_secs(limit.as_secs())
    } else {
        Duration::from_millis(limit.as_millis() as u64)
    };
    format!("timed out after {}", humantime::format_duration(shown))
}

impl TestResult {
    /// A test selected but not run by design (`#[ignore]`d).
    pub fn skipped(id: TestId) -> Self {
        Self {
            id,
            status: TestStatus::Skipped,
            duration: Duration::ZERO,
            attempts: 0,
            message: None,
            output: None,
            attempt_log: Vec::new(),
        }
    }

    /// Gives every timed-out attempt without a message of its own the limit it ran into (the
    /// tier's timeout), rather than the time the runner measured.
    pub(crate) fn label_timeouts(&mut self, limit: Duration) {
        let label = timed_out_after(limit);
        for a in self.attempt_log.iter_mut().filter(|a| a.status == TestStatus::TimedOut) {
            if a.message.as_deref().is_none_or(|m| m.starts_with("timed out after")) {
                a.message = Some(label.clone());
            }
        }
        if self.status == TestStatus::TimedOut {
            self.message = self
                .final_attempt()
                .and_then(|a| a.message.clone())
                .or(self.message.take());
        }
    }

    /// The final attempt: the one whose outcome the test has.
    pub(crate) fn final_attempt(&self) -> Option<&Attempt> {
        self.attempt_log.last()
    }

    /// Whether any attempt failed because of the machine layer.
    pub(crate) fn machine_blame(&self) -> Option<&str> {
        self.attempt_log.iter().rev().find_map(|a| match &a.blame {
            Blame::Machines(reason) => Some(reason.as_str()),
            Blame::Test => None,
        })
    }
}

/// Counts in summary.json. `passed` includes `flaky` (they passed, on a retry); `failed` does
/// not include `timed_out`; `skipped` are tests the tier's filter selects that are not run by
/// design (`#[ignore]`d ones, as nextest counts them, or a runner's own skip); `not_run` are
/// tests the tier selected that should have run and did not (the tier was skipped because a
/// need failed, an interrupt, fail-fast).
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

    /// Every selected test: run, skipped or not run.
    pub fn total(&self) -> u64 {
        self.passed + self.failed + self.timed_out + self.skipped + self.not_run
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
    /// The tier selected no test (its `no_tests` setting, or this run's filters, decided its
    /// outcome).
    pub nothing_selected: bool,
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
            nothing_selected: false,
        }
    }

    /// A tier this shard leaves to other shards (`--shard`): passed with nothing selected,
    /// with why, so the tiers that need it still run.
    pub(crate) fn left_to_other_shards(name: &str, reason: String) -> Self {
        Self {
            outcome: TierOutcome::Passed,
            nothing_selected: true,
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

    pub(crate) fn is_quarantined(&self, id: &TestId) -> bool {
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

/// How a run was asked for: shown in report.html's header, and what reruns keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunInvocation {
    /// The command line, shell-quoted (`cargo orbtest --tier fast -E 'test(/db/)'`).
    pub command_line: String,
    /// Arguments a rerun of one test keeps: everything but what selected tests (tiers, test
    /// filters, filtersets, partitions, shards) and where reports went.
    pub rerun_args: Vec<String>,
    /// `git rev-parse HEAD` of the workspace (with `-dirty` when it has changes), if it is a
    /// git checkout.
    pub git_commit: Option<String>,
    pub host: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RunResult {
    pub run_id: String,
    pub invocation: RunInvocation,
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
    /// Postflight could not list or delete machines: an infrastructure failure (the run's
    /// claims stay, so the next run reaps them).
    pub postflight_error: Option<String>,
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
                for attempt in &mut test.attempt_log {
                    attempt
                        .message
                        .iter_mut()
                        .chain(attempt.output.iter_mut())
                        .for_each(mask);
                    if let Blame::Machines(reason) = &mut attempt.blame {
                        mask(reason);
                    }
                }
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
            return crate::signals::exit_code(i);
        }
        match self.outcome() {
            RunOutcome::Passed => exit_code::PASSED,
            // Failed only because tiers selected nothing: nextest's "no tests to run".
            RunOutcome::Failed
                if self
                    .tiers
                    .iter()
                    .filter(|t| t.outcome == TierOutcome::Failed)
                    .all(|t| t.nothing_selected) =>
            {
                exit_code::NO_TESTS
            }
            RunOutcome::Failed => exit_code::TESTS_FAILED,
            RunOutcome::GateFailed => exit_code::GATE_FAILED,
            RunOutcome::Error => exit_code::INFRASTRUCTURE,
        }
    }

    /// The outcome before the gate is considered.
    pub(crate) fn test_outcome(&self) -> RunOutcome {
        if self.error.is_some() || self.interrupted.is_some() {
            RunOutcome::Error
        } else if self.tiers.iter().any(|t| t.outcome == TierOutcome::Failed) {
            RunOutcome::Failed
        } else {
            RunOutcome::Passed
        }
    }
}

/// One line of `timeline.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Milliseconds since the run started.
    pub t_ms: u64,
    pub memory_percent: f64,
    pub swap_percent: f64,
    /// Host CPU use over the last interval, all cores together (0-100).
    pub cpu_percent: f64,
    /// Running machines; `null` when no provider is attached (no machine tier) or it did not answer.
    pub machines: Option<u64>,
    pub creates_in_flight: Option<u64>,
    /// Test processes running under the current tier's nextest (0 between tiers).
    pub running_tests: u64,
    /// The tier running at this moment, if any.
    pub tier: Option<String>,
    /// Where memory/swap came from: `host` or `provider`.
    #[serde(default = "host")]
    pub pressure_from: String,
}

fn host() -> String {
    "host".to_string()
}
