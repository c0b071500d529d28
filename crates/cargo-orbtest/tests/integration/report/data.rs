//! Run results built by hand, so snapshots are deterministic.

use std::time::{Duration, SystemTime};

use orbtest::monitor::Sample;
use orbtest::results::{
    Attempt, GateVerdict, MachineStats, ResourcePeaks, RunResult, TestCounts, TestId, TestResult, TestStatus,
    TierOutcome, TierResult,
};

pub(super) fn start() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

pub(super) fn test(binary: &str, name: &str, status: TestStatus, ms: u64) -> TestResult {
    let failed = status.is_failure();
    let mut t = bare(binary, name, status, ms);
    // Every attempt of a test that failed at least once: the final one as the test says.
    let attempt = |n: u32, status: TestStatus| {
        let mut a = Attempt::new(n, status, Duration::from_millis(ms));
        if status.is_failure() {
            a.message.clone_from(&t.message);
            a.output.clone_from(&t.output);
        }
        a
    };
    t.attempt_log = match status {
        TestStatus::Flaky => vec![attempt(1, TestStatus::Failed), attempt(2, TestStatus::Passed)],
        _ if failed => (1..=t.attempts).map(|n| attempt(n, status)).collect(),
        _ => Vec::new(),
    };
    t
}

fn bare(binary: &str, name: &str, status: TestStatus, ms: u64) -> TestResult {
    let failed = status.is_failure();
    TestResult {
        id: TestId {
            binary_id: binary.into(),
            name: name.into(),
        },
        status,
        duration: Duration::from_millis(ms),
        attempts: match status {
            TestStatus::Flaky => 2,
            TestStatus::Failed => 3,
            _ => 1,
        },
        message: match status {
            TestStatus::TimedOut => Some("test timeout".into()),
            TestStatus::Flaky => Some("thread 'x' panicked at src/net.rs:12:5".into()),
            _ if failed => Some(format!("thread '{name}' panicked at tests/api.rs:41:9")),
            _ => None,
        },
        output: failed.then(|| match status {
            TestStatus::TimedOut => "running 1 test\n(test timed out)".to_string(),
            _ => format!(
                "running 1 test\ntest {name} ... FAILED\nthread '{name}' panicked at tests/api.rs:41:9:\nassertion `left == right` failed\n  left: 3\n right: 4\nstack backtrace:\n   0: frame"
            ),
        }),
        attempt_log: Vec::new(),
    }
}

pub(super) fn tier(name: &str, outcome: TierOutcome, offset_ms: u64, ms: u64, tests: Vec<TestResult>) -> TierResult {
    let counts = TestCounts::of(&tests);
    TierResult {
        name: name.into(),
        outcome,
        reason: None,
        started_at: Some(start() + Duration::from_millis(offset_ms)),
        duration: Duration::from_millis(ms),
        tests,
        counts,
        nextest_exit: Some(0),
        log: None,
        junit: None,
        command: None,
        quarantined: Vec::new(),
        nothing_selected: false,
    }
}

/// fast passes with a flaky test; integration fails (one failure, one timeout); e2e is skipped.
pub(super) fn mixed() -> RunResult {
    let fast = tier(
        "fast",
        TierOutcome::Passed,
        900,
        2_400,
        vec![
            test("app", "config::parses", TestStatus::Passed, 12),
            test("app", "net::retries", TestStatus::Flaky, 340),
            test("app", "plan::orders_tiers", TestStatus::Passed, 8),
        ],
    );
    let integration = tier(
        "integration",
        TierOutcome::Failed,
        3_400,
        65_000,
        vec![
            test("app::api", "creates_machine", TestStatus::Passed, 15_200),
            test("app::api", "deletes_machine", TestStatus::Failed, 4_100),
            test("app::api", "boots_in_time", TestStatus::TimedOut, 60_000),
        ],
    );
    let mut e2e = TierResult::skipped("e2e", "needs `integration`, which failed".into());
    e2e.started_at = None;
    RunResult {
        run_id: "20270115-080000-abcdef".into(),
        invocation: Default::default(),
        started_at: start(),
        duration: Duration::from_millis(69_500),
        tiers: vec![fast, integration, e2e],
        interrupted: None,
        error: None,
        nextest_version: "0.9.143".into(),
        machines: MachineStats {
            created: 4,
            cloned: 2,
            recovered: 1,
            retried: 1,
            peak_concurrent_creates: 2,
            leftover: vec!["test-api-7".into()],
            postflight_error: None,
        },
        resources: ResourcePeaks {
            peak_memory_percent: Some(71.25),
            peak_swap_percent: Some(12.5),
        },
        gate: GateVerdict {
            evaluated: true,
            passed: false,
            violations: vec![
                "1 test failed (max 0)".into(),
                "1 test timed out (max 0)".into(),
                "1 leftover machine after the run (max 0): test-api-7".into(),
            ],
        },
        shard: None,
    }
}

/// Everything passes; the gate passes.
pub(super) fn green() -> RunResult {
    let fast = tier(
        "fast",
        TierOutcome::Passed,
        500,
        1_200,
        vec![
            test("app", "config::parses", TestStatus::Passed, 12),
            test("app", "plan::orders_tiers", TestStatus::Passed, 8),
        ],
    );
    RunResult {
        run_id: "20270115-080000-000001".into(),
        invocation: Default::default(),
        started_at: start(),
        duration: Duration::from_millis(1_900),
        tiers: vec![fast],
        interrupted: None,
        error: None,
        nextest_version: "0.9.143".into(),
        machines: MachineStats::default(),
        resources: ResourcePeaks {
            peak_memory_percent: Some(40.0),
            peak_swap_percent: Some(0.0),
        },
        gate: GateVerdict {
            evaluated: true,
            passed: true,
            violations: Vec::new(),
        },
        shard: None,
    }
}

pub(super) fn sample(t_ms: u64, tier: Option<&str>, running: u64) -> Sample {
    Sample {
        t_ms,
        memory_percent: 40.0 + (t_ms / 1000) as f64 * 0.5,
        swap_percent: 2.0,
        cpu_percent: 60.0,
        machines: Some(running / 2),
        creates_in_flight: Some(u64::from(running > 2)),
        running_tests: running,
        tier: tier.map(str::to_string),
        pressure_from: "host".into(),
    }
}
