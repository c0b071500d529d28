//! Writing JUnit: a command tier's results in nextest's own shape, so the run's merged
//! `junit.xml` and `cargo orbtest report` read every tier alike.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestRerun, TestSuite};

use super::cases::attempts_of;
use crate::results::{Attempt, TestResult, TestStatus};

/// The tier's results as JUnit in nextest's own shape (suites by classname, flaky and rerun
/// elements, `type="test timeout"`), which the run's merged junit.xml and `cargo orbtest
/// report` read back.
pub fn normalized(tier: &str, results: &[TestResult]) -> Result<String, quick_junit::SerializeError> {
    let log_of = |r: &TestResult| -> Vec<Attempt> {
        let mut log = attempts_of(r.clone());
        if r.status == TestStatus::Flaky && log.len() < 2 {
            // A flaky test known only by its count: its failures before the pass.
            let mut failed = Attempt::new(1, TestStatus::Failed, Duration::ZERO);
            failed.message.clone_from(&r.message);
            log = std::iter::repeat_n(failed, r.attempts.max(2) as usize - 1)
                .chain(std::iter::once(Attempt::new(0, TestStatus::Passed, r.duration)))
                .collect();
        }
        log
    };
    let rerun_of = |a: &Attempt| {
        let mut rerun = TestRerun::new(NonSuccessKind::Failure);
        rerun.set_time(a.duration);
        if a.status == TestStatus::TimedOut {
            rerun.set_type("test timeout");
        }
        if let Some(m) = &a.message {
            rerun.set_message(m.as_str());
        }
        if let Some(o) = &a.output {
            rerun.set_description(o.as_str());
        }
        rerun
    };
    let mut suites: Vec<TestSuite> = Vec::new();
    for r in results {
        let log = log_of(r);
        // nextest's shape: the case's time is the final attempt's for a pass, the first
        // attempt's for a failure (whose retries follow as `rerunFailure`).
        let mut time = r.duration;
        let status = match r.status {
            TestStatus::Passed => TestCaseStatus::success(),
            TestStatus::Flaky => {
                let mut s = TestCaseStatus::success();
                for a in log.iter().filter(|a| a.status.is_failure()) {
                    s.add_rerun(rerun_of(a));
                }
                s
            }
            TestStatus::Failed | TestStatus::TimedOut => {
                let first = log.first();
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                if first.is_some_and(|a| a.status == TestStatus::TimedOut) {
                    s.set_type("test timeout");
                }
                if let Some(m) = first.and_then(|a| a.message.as_ref()) {
                    s.set_message(m.as_str());
                }
                if let Some(o) = first.and_then(|a| a.output.as_ref()) {
                    s.set_description(o.as_str());
                }
                for a in log.iter().skip(1) {
                    s.add_rerun(rerun_of(a));
                }
                time = first.map_or(r.duration, |a| a.duration);
                s
            }
            TestStatus::Skipped => {
                let mut s = TestCaseStatus::skipped();
                if let Some(m) = &r.message {
                    s.set_message(m.as_str());
                }
                s
            }
        };
        let mut case = TestCase::new(r.id.name.as_str(), status);
        case.set_classname(r.id.binary_id.as_str());
        case.set_time(time);
        match suites.iter_mut().find(|s| s.name.as_str() == r.id.binary_id) {
            Some(suite) => {
                suite.add_test_case(case);
            }
            None => {
                let mut suite = TestSuite::new(r.id.binary_id.as_str());
                suite.add_test_case(case);
                suites.push(suite);
            }
        }
    }
    let mut report = Report::new(format!("orbtest-{tier}"));
    report.add_test_suites(suites);
    report.to_string()
}
