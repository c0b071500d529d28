//! Whether a failed attempt of a test was the machine layer's doing rather than the test's: the
//! one place that decides, from the run journal's operation records, so summary.json,
//! report.html and the flake ledger agree.
//!
//! An attempt is put on the machines when, while it ran, one of its own machine calls timed out
//! in the machine layer (and was not recovered), found OrbStack down, ran out of retries on a
//! transient failure (download, network, a restarting daemon), or collided on a name another
//! test of the run had created. A recovery that succeeded is not blame.

use std::time::{Duration, UNIX_EPOCH};

use orbtest_machines::journal::OpRecord;

use crate::results::{Blame, TestResult, TierResult};

/// Clock slack between an attempt's window (from the runner's report) and the journal's records.
const SLACK: Duration = Duration::from_secs(2);

/// Why `op` failed in the machine layer, if it did.
pub fn reason(op: &OpRecord, all: &[OpRecord]) -> Option<String> {
    let call = match &op.machine {
        Some(m) => format!("`orbctl {} {m}`", op.op),
        None => format!("`orbctl {}`", op.op),
    };
    match (op.outcome.as_str(), op.error.as_deref()) {
        ("ok", _) => None,
        ("timed-out", Some("OrbStack down")) => Some(format!("{call} found OrbStack down")),
        ("timed-out", _) => Some(match op.timeout_ms {
            Some(ms) => format!(
                "{call} timed out in the machine layer after {} (attempt {}; [machines] timeouts)",
                humantime::format_duration(Duration::from_millis(ms)),
                op.attempt
            ),
            None => format!("{call} timed out in the machine layer (attempt {})", op.attempt),
        }),
        ("failed", Some("transient" | "daemon stopping")) => Some(format!(
            "{call} failed with a transient provider error after {} attempts ([machines] retry)",
            op.attempt
        )),
        ("failed", Some("already exists")) => {
            let machine = op.machine.as_deref()?;
            let other = all.iter().find(|o| {
                o.outcome == "ok"
                    && o.machine.as_deref() == Some(machine)
                    && matches!(o.op.as_str(), "create" | "clone" | "import")
                    && o.test.is_some()
                    && o.test != op.test
            })?;
            Some(format!(
                "{call} collided with `{}`, which another test ({}) created",
                machine,
                other.test.as_deref().unwrap_or("?")
            ))
        }
        _ => None,
    }
}

/// Blames the failed attempts of `tier`'s tests whose machine calls failed in the machine layer
/// while they ran. Attempts without a known start are matched over the whole tier.
pub fn apply(tier: &mut TierResult, ops: &[OpRecord]) {
    let tier_window = tier
        .started_at
        .map(|s| (ms(s), ms(s) + tier.duration.as_millis() as u64));
    for test in tier.tests.iter_mut().filter(|t| !t.attempt_log.is_empty()) {
        apply_to_test(test, ops, tier_window);
    }
}

fn apply_to_test(test: &mut TestResult, ops: &[OpRecord], tier_window: Option<(u64, u64)>) {
    let name = test.id.to_string();
    let mine: Vec<&OpRecord> = ops
        .iter()
        .filter(|o| o.test.as_deref() == Some(name.as_str()))
        .collect();
    if mine.is_empty() {
        return;
    }
    let slack = SLACK.as_millis() as u64;
    for attempt in test.attempt_log.iter_mut().filter(|a| a.status.is_failure()) {
        let window = match attempt.started_at {
            Some(start) => Some((ms(start), ms(start) + attempt.duration.as_millis() as u64)),
            None => tier_window,
        };
        let inside = |o: &&&OpRecord| window.is_none_or(|(from, to)| o.ts_ms + slack >= from && o.ts_ms <= to + slack);
        if let Some(why) = mine.iter().filter(inside).find_map(|o| reason(o, ops)) {
            attempt.blame = Blame::Machines(why);
        }
    }
}

fn ms(t: std::time::SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::results::{Attempt, TestId, TestStatus};

    fn op(test: &str, op: &str, outcome: &str, error: Option<&str>, ts_ms: u64) -> OpRecord {
        OpRecord {
            ts_ms,
            run_id: "r".into(),
            pid: 1,
            test: Some(test.into()),
            op: op.into(),
            machine: Some("test-a".into()),
            attempt: 4,
            timeout_ms: Some(180_000),
            waited_ms: 0,
            recovery_ms: 0,
            duration_ms: 10,
            outcome: outcome.into(),
            recovered: false,
            error: error.map(str::to_string),
            exit_code: None,
        }
    }

    fn failing(start_ms: u64) -> TestResult {
        let mut a = Attempt::new(1, TestStatus::Failed, Duration::from_secs(10));
        a.started_at = Some(UNIX_EPOCH + Duration::from_millis(start_ms));
        let mut b = a.clone();
        b.n = 2;
        b.started_at = Some(UNIX_EPOCH + Duration::from_millis(start_ms + 60_000));
        TestResult {
            id: TestId {
                binary_id: "bin".into(),
                name: "t".into(),
            },
            status: TestStatus::Failed,
            duration: Duration::from_secs(10),
            attempts: 2,
            message: None,
            output: None,
            attempt_log: vec![a, b],
        }
    }

    fn tier(test: TestResult) -> TierResult {
        let mut t = TierResult::ran("it", SystemTime::now(), Duration::ZERO, "log".into());
        t.tests = vec![test];
        t
    }

    #[test]
    fn only_the_attempt_whose_call_timed_out_is_put_on_the_machines() {
        let mut t = tier(failing(1_000_000));
        apply(&mut t, &[op("bin::t", "create", "timed-out", None, 1_005_000)]);
        let log = &t.tests[0].attempt_log;
        assert!(matches!(&log[0].blame, Blame::Machines(r) if r.contains("timed out") && r.contains("3m")));
        assert_eq!(log[1].blame, Blame::Test, "the retry failed on its own");
    }

    #[test]
    fn recoveries_successes_deterministic_errors_and_other_tests_are_not_blame() {
        let mut recovered = op("bin::t", "create", "ok", None, 1_005_000);
        recovered.recovered = true;
        for ops in [
            vec![recovered],
            vec![op("bin::t", "create", "failed", Some("invalid input"), 1_005_000)],
            vec![op("bin::other", "create", "timed-out", None, 1_005_000)],
            // Outside every attempt's window.
            vec![op("bin::t", "create", "timed-out", None, 1_030_000)],
        ] {
            let mut t = tier(failing(1_000_000));
            apply(&mut t, &ops);
            assert!(t.tests[0].attempt_log.iter().all(|a| a.blame == Blame::Test), "{ops:?}");
        }
    }

    #[test]
    fn a_name_another_test_created_is_a_collision() {
        let mut t = tier(failing(1_000_000));
        let ops = [
            op("bin::other", "create", "ok", None, 1_001_000),
            op("bin::t", "create", "failed", Some("already exists"), 1_002_000),
        ];
        apply(&mut t, &ops);
        assert!(
            matches!(&t.tests[0].attempt_log[0].blame, Blame::Machines(r) if r.contains("collided") && r.contains("bin::other"))
        );
    }
}
