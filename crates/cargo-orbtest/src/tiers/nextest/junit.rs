//! Per-test results of record, from the JUnit file nextest writes for each tier.

use std::path::Path;
use std::time::{Duration, SystemTime};

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestRerun, TestSuite};

use crate::results::{Attempt, TestId, TestResult, TestStatus};

/// Lines of captured output kept per failed test.
const OUTPUT_LINES: usize = 200;

/// Reads a JUnit file into test results.
pub fn read_junit(path: &Path) -> Result<Vec<TestResult>, String> {
    // nextest wrote the tests' output into it: mask secrets before anything reads it.
    if let Err(e) = orbtest_machines::redact::global().scrub_file(path) {
        return Err(format!("cannot redact {}: {e}", path.display()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    read_junit_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses JUnit XML. Never panics, whatever the input.
pub fn read_junit_str(xml: &str) -> Result<Vec<TestResult>, String> {
    let report = Report::deserialize_from_str(xml).map_err(|e| format!("invalid JUnit XML: {e}"))?;
    Ok(report.test_suites.iter().flat_map(suite_results).collect())
}

/// The results of one suite's test cases.
pub fn suite_results(suite: &TestSuite) -> Vec<TestResult> {
    suite
        .test_cases
        .iter()
        .map(|case| {
            let binary_id = case
                .classname
                .as_ref()
                .map_or_else(|| suite.name.to_string(), |c| c.to_string());
            result(binary_id, case)
        })
        .collect()
}

fn result(binary_id: String, case: &TestCase) -> TestResult {
    let id = TestId {
        binary_id,
        name: case.name.to_string(),
    };
    let this = |status: TestStatus| Attempt {
        started_at: case.timestamp.map(SystemTime::from),
        message: None,
        output: None,
        ..Attempt::new(0, status, case.time.unwrap_or(Duration::ZERO))
    };
    // nextest writes a test's attempts in the order they ran: for a flaky test the earlier
    // (failed) ones as `flakyFailure` and the final pass as the case itself; for a failed test
    // the *first* attempt as the case's `failure` (with the case's time and output) and every
    // retry as a `rerunFailure`, the last of them being the final attempt.
    let (status, log) = match &case.status {
        TestCaseStatus::Success { flaky_runs } if flaky_runs.is_empty() => (TestStatus::Passed, Vec::new()),
        TestCaseStatus::Success { flaky_runs } => {
            let mut log: Vec<Attempt> = flaky_runs.iter().map(rerun).collect();
            log.push(this(TestStatus::Passed));
            (TestStatus::Flaky, log)
        }
        TestCaseStatus::NonSuccess {
            kind,
            message,
            ty,
            description,
            reruns,
        } => {
            let first = Attempt {
                status: failure_status(ty.as_ref().map(|t| t.as_str())),
                message: failure_message(*kind, message.as_deref(), ty.as_deref()),
                output: captured_output(
                    case.system_out.as_ref().map(|o| o.as_str()),
                    case.system_err.as_ref().map(|o| o.as_str()),
                    description.as_ref().map(|d| d.as_str()),
                ),
                ..this(TestStatus::Failed)
            };
            let mut log = vec![first];
            log.extend(reruns.runs.iter().map(rerun));
            let status = log.last().map_or(TestStatus::Failed, |a| a.status);
            (status, log)
        }
        TestCaseStatus::Skipped { message, .. } => {
            return TestResult {
                id,
                status: TestStatus::Skipped,
                duration: Duration::ZERO,
                attempts: 0,
                message: message.as_ref().map(|m| m.to_string()),
                output: None,
                attempt_log: Vec::new(),
            };
        }
    };
    let mut log = log;
    for (i, a) in log.iter_mut().enumerate() {
        a.n = i as u32 + 1;
        if a.status == TestStatus::TimedOut && a.message.is_none() {
            a.message = Some(crate::results::timed_out_after(a.duration));
        }
    }
    let final_attempt = log.last();
    TestResult {
        id,
        status,
        duration: final_attempt.map_or(case.time.unwrap_or(Duration::ZERO), |a| a.duration),
        attempts: log.len().max(1) as u32,
        // A flaky test's message is why it failed before it passed.
        message: match status {
            TestStatus::Flaky => log.iter().rev().find_map(|a| a.message.clone()),
            _ => final_attempt.and_then(|a| a.message.clone()),
        },
        output: final_attempt.and_then(|a| a.output.clone()),
        attempt_log: log,
    }
}

/// An earlier attempt of a flaky test, or a retry of a failed one.
fn rerun(r: &TestRerun) -> Attempt {
    Attempt {
        started_at: r.timestamp.map(SystemTime::from),
        message: failure_message(r.kind, r.message.as_deref(), r.ty.as_deref()),
        output: captured_output(
            r.system_out.as_ref().map(|o| o.as_str()),
            r.system_err.as_ref().map(|o| o.as_str()),
            r.description.as_ref().map(|d| d.as_str()),
        ),
        ..Attempt::new(0, failure_status(r.ty.as_deref()), r.time.unwrap_or(Duration::ZERO))
    }
}

fn failure_status(ty: Option<&str>) -> TestStatus {
    if ty == Some("test timeout") {
        TestStatus::TimedOut
    } else {
        TestStatus::Failed
    }
}

fn failure_message(kind: NonSuccessKind, message: Option<&str>, ty: Option<&str>) -> Option<String> {
    message
        .or(ty.filter(|t| *t != "test timeout"))
        .map(str::to_string)
        .or_else(|| (kind == NonSuccessKind::Error).then(|| "error".to_string()))
}

/// What an attempt printed: its stderr and stdout (libtest puts panics in stderr), else the
/// failure description. The last `OUTPUT_LINES` lines.
fn captured_output(out: Option<&str>, err: Option<&str>, description: Option<&str>) -> Option<String> {
    let mut text = String::new();
    for part in [out, err].into_iter().flatten() {
        let part = part.trim();
        if !part.is_empty() {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(part);
        }
    }
    if text.is_empty() {
        text = description?.trim().to_string();
    }
    if text.is_empty() {
        return None;
    }
    Some(crate::report::tail(&text, OUTPUT_LINES))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEXTEST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nextest-run" tests="4" skipped="1" failures="1" errors="0">
  <testsuite name="probe" tests="4" skipped="1" errors="0" failures="1">
    <testcase name="tests::ok" classname="probe" time="0.006"/>
    <testcase name="tests::flaky" classname="probe" time="0.006">
      <flakyFailure time="0.084" message="thread panicked at src/lib.rs:6:127" type="test failure with exit code 101">first</flakyFailure>
    </testcase>
    <testcase name="tests::hangs" classname="probe" time="1.005">
      <failure type="test timeout"/><system-out>running 1 test</system-out><system-err></system-err>
    </testcase>
    <testcase name="tests::ignored" classname="probe" time="0.000"><skipped message="Skipped: ignored"/></testcase>
  </testsuite>
</testsuites>"#;

    #[test]
    fn classifies_nextest_outcomes() {
        let r = read_junit_str(NEXTEST).unwrap();
        let status: Vec<_> = r.iter().map(|t| (t.id.to_string(), t.status, t.attempts)).collect();
        assert_eq!(
            status,
            [
                ("probe::tests::ok".to_string(), TestStatus::Passed, 1),
                ("probe::tests::flaky".to_string(), TestStatus::Flaky, 2),
                ("probe::tests::hangs".to_string(), TestStatus::TimedOut, 1),
                ("probe::tests::ignored".to_string(), TestStatus::Skipped, 0),
            ]
        );
        assert_eq!(r[2].output.as_deref(), Some("running 1 test"));
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert!(read_junit_str("<testsuites><testsuite").is_err());
        assert!(read_junit_str("").is_err());
    }
}
