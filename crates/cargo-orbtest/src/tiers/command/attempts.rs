//! A command tier's results over its attempts: the first run and each retry (often a `rerun`
//! command such as pytest's `--lf`, which runs only what failed) each report some tests. A test
//! takes its latest reported outcome; one that failed in an earlier attempt and passed in a
//! later one is flaky. Tests a later attempt did not run keep their earlier outcome, and a
//! later "skipped" never hides an earlier result.

use std::collections::HashMap;

use crate::junit::{attempts_of, from_attempts};
use crate::results::{TestId, TestResult, TestStatus};

/// Merges attempts (oldest first) into one result per test, in first-seen order. Every attempt
/// of a test that failed at least once is kept, in order.
pub(crate) fn merge(attempts: &[Vec<TestResult>]) -> Vec<TestResult> {
    struct Merged {
        result: TestResult,
        /// Every run of the test so far, each of the command's attempts contributing its own.
        log: Vec<crate::results::Attempt>,
    }
    let mut order: Vec<TestId> = Vec::new();
    let mut entries: HashMap<TestId, Merged> = HashMap::new();
    for attempt in attempts {
        for r in attempt {
            match entries.get_mut(&r.id) {
                None => {
                    order.push(r.id.clone());
                    entries.insert(
                        r.id.clone(),
                        Merged {
                            log: attempts_of(r.clone()),
                            result: r.clone(),
                        },
                    );
                }
                Some(e) => {
                    if r.status == TestStatus::Skipped {
                        // A later "skipped" never hides an earlier result.
                        if e.result.status == TestStatus::Skipped {
                            e.result = r.clone();
                        }
                        continue;
                    }
                    e.log.extend(attempts_of(r.clone()));
                    e.result = r.clone();
                }
            }
        }
    }
    order
        .into_iter()
        .filter_map(|id| entries.remove(&id))
        .map(|e| {
            let ever_failed = e.log.iter().any(|a| a.status.is_failure());
            match e.result.status {
                TestStatus::Skipped => e.result,
                TestStatus::Passed | TestStatus::Flaky if ever_failed => {
                    from_attempts(e.result.id, TestStatus::Flaky, e.log)
                }
                status if status.is_failure() => from_attempts(e.result.id, status, e.log),
                _ => e.result,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn t(name: &str, status: TestStatus) -> TestResult {
        TestResult {
            id: TestId {
                binary_id: "tests.test_a".into(),
                name: name.into(),
            },
            status,
            duration: Duration::ZERO,
            attempts: if status == TestStatus::Skipped { 0 } else { 1 },
            message: status.is_failure().then(|| format!("{name} failed")),
            output: None,
            attempt_log: Vec::new(),
        }
    }

    fn outcome(results: &[TestResult]) -> Vec<(String, TestStatus, u32)> {
        results
            .iter()
            .map(|r| (r.id.name.clone(), r.status, r.attempts))
            .collect()
    }

    #[test]
    fn a_rerun_of_the_failures_makes_the_ones_that_pass_flaky() {
        use TestStatus::*;
        let first = vec![
            t("ok", Passed),
            t("flaky", Failed),
            t("broken", Failed),
            t("skip", Skipped),
        ];
        // pytest --lf: only the failures run again.
        let second = vec![t("flaky", Passed), t("broken", Failed)];
        let merged = merge(&[first, second]);
        assert_eq!(
            outcome(&merged),
            [
                ("ok".into(), Passed, 1),
                ("flaky".into(), Flaky, 2),
                ("broken".into(), Failed, 2),
                ("skip".into(), Skipped, 0)
            ]
        );
        assert_eq!(merged[1].message.as_deref(), Some("flaky failed"));
    }

    #[test]
    fn a_full_rerun_takes_the_latest_outcome_and_skips_hide_nothing() {
        use TestStatus::*;
        let first = vec![t("a", Failed), t("b", Passed), t("c", TimedOut)];
        let second = vec![t("a", Passed), t("b", Failed), t("c", Skipped)];
        let third = vec![t("a", Passed), t("b", Passed), t("c", Skipped)];
        let merged = merge(&[first, second, third]);
        assert_eq!(
            outcome(&merged),
            [
                ("a".into(), Flaky, 3),
                ("b".into(), Flaky, 3),
                ("c".into(), TimedOut, 1)
            ]
        );
    }

    #[test]
    fn one_attempt_is_taken_as_it_is() {
        use TestStatus::*;
        let only = vec![t("a", Passed), t("b", Failed)];
        let merged = merge(std::slice::from_ref(&only));
        assert_eq!(outcome(&merged), outcome(&only));
        assert_eq!(merged[1].message, only[1].message);
        assert_eq!(merged[1].attempt_log.len(), 1, "a failure keeps its one attempt");
        assert!(merge(&[]).is_empty());
    }
}
