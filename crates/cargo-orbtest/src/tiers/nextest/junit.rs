//! Per-test results of record, from the JUnit file nextest writes for each tier.

use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::results::{TestId, TestResult, TestStatus};

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
    let duration = case.time.unwrap_or(Duration::ZERO);
    let id = TestId {
        binary_id,
        name: case.name.to_string(),
    };
    let (status, attempts, message, output) = match &case.status {
        TestCaseStatus::Success { flaky_runs } if flaky_runs.is_empty() => (TestStatus::Passed, 1, None, None),
        TestCaseStatus::Success { flaky_runs } => {
            let first = flaky_runs.first();
            (
                TestStatus::Flaky,
                flaky_runs.len() as u32 + 1,
                first.and_then(|r| r.message.as_ref()).map(|m| m.to_string()),
                None,
            )
        }
        TestCaseStatus::NonSuccess {
            kind,
            message,
            ty,
            description,
            reruns,
        } => {
            let timed_out = ty.as_ref().is_some_and(|t| t.as_str() == "test timeout");
            let status = if timed_out {
                TestStatus::TimedOut
            } else {
                TestStatus::Failed
            };
            let message = message
                .as_ref()
                .map(|m| m.to_string())
                .or_else(|| ty.as_ref().map(|t| t.to_string()))
                .or_else(|| (*kind == NonSuccessKind::Error).then(|| "error".to_string()));
            let output = captured_output(case, description.as_ref().map(|d| d.as_str()));
            (status, reruns.runs.len() as u32 + 1, message, output)
        }
        TestCaseStatus::Skipped { message, .. } => {
            (TestStatus::Skipped, 0, message.as_ref().map(|m| m.to_string()), None)
        }
    };
    TestResult {
        id,
        status,
        duration,
        attempts,
        message,
        output,
    }
}

/// What the final failing attempt printed: its stderr and stdout (libtest puts panics in
/// stderr), else the failure description.
fn captured_output(case: &TestCase, description: Option<&str>) -> Option<String> {
    let mut text = String::new();
    for part in [case.system_out.as_ref(), case.system_err.as_ref()]
        .into_iter()
        .flatten()
    {
        let part = part.as_str().trim();
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
    let lines: Vec<&str> = text.lines().collect();
    Some(lines[lines.len().saturating_sub(OUTPUT_LINES)..].join("\n"))
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
