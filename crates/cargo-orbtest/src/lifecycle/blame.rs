//! Whether a failed attempt of a test was the machine layer's doing rather than the test's: the
//! one place that decides, from the run journal's operation records, so summary.json,
//! report.html and the flake ledger agree.
//!
//! An attempt is put on the machines when, while it ran, one of its own machine calls waited in
//! the create queue until its caller gave up, was given up on by its caller while the machine
//! layer was still carrying it out, timed out in the machine layer (and was not recovered),
//! found OrbStack down, ran out of retries on a transient failure (download, network, a
//! restarting daemon), or collided on a name another test of the run was making or had made.
//! A recovery that succeeded is not blame: a call the caller gave up on whose retry then joined
//! it and got the machine, or a timed-out create found finished.

use std::time::{Duration, UNIX_EPOCH};

use orbtest_machines::journal::{JournalView, OpRecord, Record};

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

/// Why what the broker saw of a call (`record`, of `test`) puts it on the machine layer, if it
/// does. `later` are the records after it: a successful join of the same call by the same test
/// means the call was recovered after all.
pub(crate) fn call_reason(record: &Record, later: &[Record]) -> Option<String> {
    let shown = |op: &str, machine: &Option<String>| match machine {
        Some(m) => format!("`orbctl {op} {m}`"),
        None => format!("`orbctl {op}`"),
    };
    match record {
        Record::CallerGone {
            test,
            op,
            machine,
            phase,
            waited_ms,
            ..
        } => {
            let recovered = later.iter().any(|r| {
                matches!(r, Record::Joined { test: t, op: o, machine: m, outcome, .. }
                    if t == test && o == op && m == machine && matches!(outcome.as_str(), "succeeded" | "recovered"))
            });
            if recovered {
                return None;
            }
            // Whole seconds, or tenths below ten seconds.
            let rounded = if *waited_ms >= 10_000 {
                waited_ms / 1000 * 1000
            } else {
                waited_ms / 100 * 100
            };
            let waited = humantime::format_duration(Duration::from_millis(rounded));
            let call = shown(op, machine);
            Some(if phase == "queued" {
                format!(
                    "{call} waited {waited} in orbtest's create queue and its caller gave up (its own timeout): the \
                     host had no room for another create; give the tier fewer threads, raise [pressure] \
                     swap_limit_percent, or raise [machines] max_concurrent_creates if it is set"
                )
            } else {
                format!(
                    "{call} was given up on by its caller after {waited}, before the machine layer finished it \
                     (the test's own timeout for the call is shorter than the operation takes; [machines] timeouts \
                     bound the machine layer's)"
                )
            })
        }
        Record::Collision { machine, other, .. } => Some(format!(
            "`orbctl create {machine}` collided with another test ({}) making the same name; names built from a \
             timestamp or a counter per process collide across parallel workers",
            other.as_deref().unwrap_or("?")
        )),
        _ => None,
    }
}

/// Blames the failed attempts of `tier`'s tests whose machine calls failed in the machine layer
/// while they ran. Attempts without a known start are matched over the whole tier.
pub fn apply(tier: &mut TierResult, journal: &JournalView) {
    let tier_window = tier
        .started_at
        .map(|s| (ms(s), ms(s) + tier.duration.as_millis() as u64));
    for test in tier.tests.iter_mut().filter(|t| !t.attempt_log.is_empty()) {
        apply_to_test(test, journal, tier_window);
    }
}

/// A call record's time and test.
fn stamp(record: &Record) -> Option<(u64, Option<&str>)> {
    match record {
        Record::CallerGone { ts_ms, test, .. }
        | Record::Joined { ts_ms, test, .. }
        | Record::Collision { ts_ms, test, .. }
        | Record::Refused { ts_ms, test, .. } => Some((*ts_ms, test.as_deref())),
        _ => None,
    }
}

fn apply_to_test(test: &mut TestResult, journal: &JournalView, tier_window: Option<(u64, u64)>) {
    let name = test.id.to_string();
    let ops = &journal.ops;
    let mine: Vec<&OpRecord> = ops
        .iter()
        .filter(|o| o.test.as_deref() == Some(name.as_str()))
        .collect();
    let calls: Vec<(usize, u64)> = journal
        .calls
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            stamp(r)
                .filter(|(_, t)| *t == Some(name.as_str()))
                .map(|(ts, _)| (i, ts))
        })
        .collect();
    if mine.is_empty() && calls.is_empty() {
        return;
    }
    let slack = SLACK.as_millis() as u64;
    for attempt in test.attempt_log.iter_mut().filter(|a| a.status.is_failure()) {
        let window = match attempt.started_at {
            Some(start) => Some((ms(start), ms(start) + attempt.duration.as_millis() as u64)),
            None => tier_window,
        };
        let inside = |ts: u64| window.is_none_or(|(from, to)| ts + slack >= from && ts <= to + slack);
        let from_calls = calls
            .iter()
            .filter(|(_, ts)| inside(*ts))
            .find_map(|&(i, _)| call_reason(&journal.calls[i], &journal.calls[i + 1..]));
        let why = from_calls.or_else(|| mine.iter().filter(|o| inside(o.ts_ms)).find_map(|o| reason(o, ops)));
        if let Some(why) = why {
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
        apply(
            &mut t,
            &view(&[op("bin::t", "create", "timed-out", None, 1_005_000)], vec![]),
        );
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
            apply(&mut t, &view(&ops, vec![]));
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
        apply(&mut t, &view(&ops, vec![]));
        assert!(
            matches!(&t.tests[0].attempt_log[0].blame, Blame::Machines(r) if r.contains("collided") && r.contains("bin::other"))
        );
    }

    fn view(ops: &[OpRecord], calls: Vec<Record>) -> JournalView {
        JournalView {
            ops: ops.to_vec(),
            broker: true,
            calls,
            ..JournalView::default()
        }
    }

    fn gone(test: &str, phase: &str, ts_ms: u64) -> Record {
        Record::CallerGone {
            ts_ms,
            pid: 1,
            test: Some(test.into()),
            op: "create".into(),
            machine: Some("test-a".into()),
            phase: phase.into(),
            waited_ms: 31_000,
        }
    }

    fn joined(test: &str, outcome: &str, ts_ms: u64) -> Record {
        Record::Joined {
            ts_ms,
            pid: 1,
            test: Some(test.into()),
            op: "create".into(),
            machine: Some("test-a".into()),
            outcome: outcome.into(),
        }
    }

    #[test]
    fn a_call_given_up_while_queued_names_the_wait_and_what_to_change() {
        let mut t = tier(failing(1_000_000));
        apply(&mut t, &view(&[], vec![gone("bin::t", "queued", 1_005_000)]));
        let Blame::Machines(why) = &t.tests[0].attempt_log[0].blame else {
            panic!("not blamed: {:?}", t.tests[0].attempt_log[0]);
        };
        assert!(why.contains("waited 31s in orbtest's create queue"), "{why}");
        assert!(
            why.contains("max_concurrent_creates") && why.contains("threads"),
            "{why}"
        );
        assert_eq!(t.tests[0].attempt_log[1].blame, Blame::Test);
    }

    #[test]
    fn a_call_given_up_while_running_is_the_machine_layers_unless_a_retry_got_it() {
        let mut t = tier(failing(1_000_000));
        apply(&mut t, &view(&[], vec![gone("bin::t", "running", 1_005_000)]));
        assert!(
            matches!(&t.tests[0].attempt_log[0].blame, Blame::Machines(r) if r.contains("given up on by its caller after 31s"))
        );
        // The retry joined the call and got the machine: recovered, not blame.
        let mut t = tier(failing(1_000_000));
        let calls = vec![
            gone("bin::t", "running", 1_005_000),
            joined("bin::t", "succeeded", 1_007_000),
        ];
        apply(&mut t, &view(&[], calls));
        assert!(t.tests[0].attempt_log.iter().all(|a| a.blame == Blame::Test));
        // A join that failed, or another test's, recovers nothing.
        for other in [
            joined("bin::t", "failed", 1_007_000),
            joined("bin::u", "succeeded", 1_007_000),
        ] {
            let mut t = tier(failing(1_000_000));
            apply(&mut t, &view(&[], vec![gone("bin::t", "running", 1_005_000), other]));
            assert!(matches!(t.tests[0].attempt_log[0].blame, Blame::Machines(_)));
        }
    }

    #[test]
    fn a_collision_the_broker_answered_names_the_other_test() {
        let mut t = tier(failing(1_000_000));
        let collision = Record::Collision {
            ts_ms: 1_002_000,
            pid: 1,
            test: Some("bin::t".into()),
            machine: "test-1700000000".into(),
            other: Some("bin::u".into()),
        };
        apply(&mut t, &view(&[], vec![collision]));
        assert!(
            matches!(&t.tests[0].attempt_log[0].blame, Blame::Machines(r) if r.contains("collided") && r.contains("bin::u") && r.contains("timestamp"))
        );
    }
}
