//! JUnit as other runners really write it: pytest (output of a real run), gotestsum (its own
//! golden shape: package failures without classname, subtests, reruns listed twice), jest-junit
//! (output of a real run: messages only in the element text), Maven surefire (a bare
//! `<testsuite>` root, one file per class, rerun and flaky elements, a locale-formatted time)
//! and nextest.

use std::path::PathBuf;
use std::time::Duration;

use orbtest::junit;
use orbtest::results::{TestResult, TestStatus};

fn fixture(name: &str) -> PathBuf {
    crate::support::cli::fixture("junit").join(name)
}

fn read(name: &str) -> Vec<TestResult> {
    junit::read_path(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn outcome(results: &[TestResult]) -> Vec<(String, TestStatus, u32)> {
    results
        .iter()
        .map(|r| (r.id.to_string(), r.status, r.attempts))
        .collect()
}

fn find<'a>(results: &'a [TestResult], id: &str) -> &'a TestResult {
    results
        .iter()
        .find(|r| r.id.to_string() == id)
        .unwrap_or_else(|| panic!("no {id} in {:?}", outcome(results)))
}

#[test]
fn pytest() {
    use TestStatus::*;
    let r = read("pytest.xml");
    assert_eq!(
        outcome(&r),
        [
            ("test_x::test_ok".into(), Passed, 1),
            ("test_x::test_fail".into(), Failed, 1),
            ("test_x::test_skip".into(), Skipped, 0),
            ("test_x::test_error".into(), Failed, 1),
            ("test_x::test_xfail".into(), Skipped, 0),
            ("test_x::test_param[1]".into(), Passed, 1),
            ("test_x::test_param[2]".into(), Passed, 1),
            ("test_x.TestGroup::test_in_class".into(), Passed, 1),
            ("test_x::test_fail_and_teardown".into(), Failed, 1),
        ]
    );
    let fail = find(&r, "test_x::test_fail");
    assert_eq!(
        fail.message.as_deref(),
        Some("AssertionError: one is not two\nassert 1 == 2")
    );
    let output = fail.output.as_deref().expect("traceback");
    assert!(output.contains("E   AssertionError: one is not two"), "{output}");
    assert!(
        output.contains("def test_fail(): assert 1 == 2"),
        "entities resolved: {output}"
    );
    assert_eq!(fail.duration, Duration::from_millis(1));
    assert_eq!(find(&r, "test_x::test_skip").message.as_deref(), Some("not today"));
    // A call failure and a teardown error are listed as two entries of one test: both count.
    let both = find(&r, "test_x::test_fail_and_teardown");
    let (message, output) = (both.message.as_deref().unwrap(), both.output.as_deref().unwrap());
    assert!(
        message.contains("assert False") && message.contains("teardown broke"),
        "{message}"
    );
    assert!(
        output.contains("E   assert False") && output.contains("teardown broke"),
        "{output}"
    );
}

#[test]
fn gotestsum() {
    use TestStatus::*;
    let r = read("gotestsum.xml");
    assert_eq!(
        outcome(&r),
        [
            ("example.com/calc/internal/badmain::TestMain".into(), Failed, 1),
            ("example.com/calc::TestSkipped".into(), Skipped, 0),
            ("example.com/calc::TestAdd".into(), Passed, 1),
            ("example.com/calc::TestTable/small".into(), Passed, 1),
            ("example.com/calc::TestTable".into(), Passed, 1),
            ("example.com/calc::TestDivide".into(), Failed, 1),
            // --rerun-fails lists the failed run and the passing rerun.
            ("example.com/calc::TestRetried".into(), Flaky, 2),
        ]
    );
    let divide = find(&r, "example.com/calc::TestDivide");
    assert_eq!(divide.message.as_deref(), Some("Failed"));
    assert!(
        divide
            .output
            .as_deref()
            .unwrap()
            .contains("calc_test.go:34: got 3, want 2")
    );
    assert!(
        find(&r, "example.com/calc::TestSkipped")
            .message
            .as_deref()
            .unwrap()
            .contains("the skip message")
    );
    assert_eq!(
        find(&r, "example.com/calc::TestTable").duration,
        Duration::from_millis(10)
    );
}

#[test]
fn jest_junit() {
    use TestStatus::*;
    let r = read("jest-junit.xml");
    assert_eq!(
        outcome(&r),
        [
            ("math adds::math adds".into(), Passed, 1),
            ("math divides::math divides".into(), Failed, 1),
            ("math later::math later".into(), Skipped, 0),
            ("math someday::math someday".into(), Passed, 1),
            (" top level & <escaped>:: top level & <escaped>".into(), Passed, 1),
            (" flaky once:: flaky once".into(), Passed, 1),
        ]
    );
    let divides = find(&r, "math divides::math divides");
    assert_eq!(
        divides.message.as_deref(),
        Some("Error: expect(received).toBe(expected) // Object.is equality"),
        "the first line of the text stands in for the missing message attribute"
    );
    assert!(
        divides
            .output
            .as_deref()
            .unwrap()
            .contains("at new Promise (<anonymous>)")
    );
}

#[test]
fn surefire_directory_of_reports() {
    use TestStatus::*;
    let r = read("surefire");
    assert_eq!(
        outcome(&r),
        [
            ("com.example.CalcTest::adds".into(), Passed, 1),
            ("com.example.CalcTest::divides".into(), Failed, 2),
            ("com.example.CalcTest::explodes".into(), Failed, 2),
            ("com.example.CalcTest::later".into(), Skipped, 0),
            ("com.example.CalcTest::flaky".into(), Flaky, 2),
            ("com.example.ParserTest::parsesNumbers".into(), Passed, 1),
        ]
    );
    let divides = find(&r, "com.example.CalcTest::divides");
    assert_eq!(divides.message.as_deref(), Some("expected: <2> but was: <3>"));
    let output = divides.output.as_deref().unwrap();
    assert!(
        output.contains("CalcTest.java:7") && output.contains("dividing"),
        "{output}"
    );
    assert_eq!(
        find(&r, "com.example.CalcTest::explodes").message.as_deref(),
        Some("boom")
    );
    assert_eq!(
        find(&r, "com.example.CalcTest::flaky").message.as_deref(),
        Some("first time")
    );
    // A single file of the directory reads the same way.
    let one = read("surefire/TEST-com.example.ParserTest.xml");
    assert_eq!(
        outcome(&one),
        [("com.example.ParserTest::parsesNumbers".into(), Passed, 1)]
    );
}

#[test]
fn nextest() {
    use TestStatus::*;
    let r = read("nextest.xml");
    assert_eq!(
        outcome(&r),
        [
            ("probe::tests::flaky_once".into(), Flaky, 2),
            ("probe::tests::hangs".into(), TimedOut, 1),
            ("probe::tests::fast_ok".into(), Passed, 1),
        ]
    );
}

#[test]
fn what_is_not_junit_says_so() {
    for (text, expected) in [
        ("", "not a JUnit report"),
        ("<html><body>hi</body></html>", "root element is <html>"),
        ("<testsuites><testsuite name=\"a\"><testcase name=\"t\">", "cut short"),
        ("<testsuites><testsuite name=\"a\"></testsuites>", "invalid XML"),
        ("not xml at all", "not a JUnit report"),
    ] {
        let e = junit::parse(text).unwrap_err().to_string();
        assert!(e.contains(expected), "{text:?}: {e}");
    }
    // An empty report is a report.
    assert!(junit::parse("<testsuites/>").unwrap().is_empty());
    assert!(junit::parse("<testsuite name=\"x\" tests=\"0\"/>").unwrap().is_empty());
}

#[test]
fn the_normalized_copy_reads_back_the_same() {
    for name in [
        "pytest.xml",
        "gotestsum.xml",
        "jest-junit.xml",
        "surefire",
        "nextest.xml",
    ] {
        let original = read(name);
        let xml = junit::normalized("tier", &original).unwrap();
        // Suites group tests by classname, so compare in one order.
        let sorted = |mut o: Vec<(String, TestStatus, u32)>| {
            o.sort_by(|a, b| a.0.cmp(&b.0));
            o
        };
        let again = junit::parse(&xml).unwrap();
        assert_eq!(sorted(outcome(&again)), sorted(outcome(&original)), "{name}");
        // And quick-junit's strict reader (the model the copy is written with, and the one the
        // run's merged junit.xml is joined with) agrees on every status.
        assert_eq!(
            sorted(strict_outcome(&xml)),
            sorted(outcome(&original)),
            "{name} through quick-junit"
        );
    }
}

/// Each test's status and attempts as quick-junit's strict reader sees them.
fn strict_outcome(xml: &str) -> Vec<(String, TestStatus, u32)> {
    use quick_junit::{Report, TestCaseStatus};
    let status_of = |ty: Option<&str>| {
        if ty == Some("test timeout") {
            TestStatus::TimedOut
        } else {
            TestStatus::Failed
        }
    };
    let report = Report::deserialize_from_str(xml).expect("quick-junit reads the normalized copy");
    let mut out = Vec::new();
    for suite in &report.test_suites {
        for case in &suite.test_cases {
            let classname = case.classname.as_ref().map_or(suite.name.as_str(), |c| c.as_str());
            let id = format!("{classname}::{}", case.name.as_str());
            out.push(match &case.status {
                TestCaseStatus::Success { flaky_runs } if flaky_runs.is_empty() => (id, TestStatus::Passed, 1),
                TestCaseStatus::Success { flaky_runs } => (id, TestStatus::Flaky, flaky_runs.len() as u32 + 1),
                TestCaseStatus::NonSuccess { ty, reruns, .. } => {
                    let last = reruns.runs.last().map_or(ty.as_deref(), |r| r.ty.as_deref());
                    (id, status_of(last), reruns.runs.len() as u32 + 1)
                }
                TestCaseStatus::Skipped { .. } => (id, TestStatus::Skipped, 0),
            });
        }
    }
    out
}
