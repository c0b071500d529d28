//! JUnit XML as test runners other than nextest write it, read tolerantly: pytest
//! (`--junitxml`), go test through gotestsum (`--junitfile`, also with `--rerun-fails`),
//! jest-junit and Maven surefire (a bare `<testsuite>` root, one file per class, flaky and rerun
//! elements), and nextest itself. Any `<testcase>` anywhere counts; unknown elements and
//! attributes are skipped; a `time` that does not parse counts as zero.
//!
//! quick-junit's reader is strict about structure (a `<testsuites>` root, one status per test)
//! and documented as experimental, so this reader walks the XML events itself.
//!
//! A test is `classname::name` (the enclosing suite's name when there is no classname). A test
//! listed more than once in one report (gotestsum's reruns, pytest's failure plus a teardown
//! error) takes its last entry's outcome, and is flaky when an earlier entry failed and the
//! last one passed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

use crate::results::{Attempt, TestId, TestResult, TestStatus};

/// Lines of a failure's text kept per test.
const OUTPUT_LINES: usize = 200;

/// Reads a JUnit file, or every `*.xml` file directly in a directory (surefire writes one per
/// test class), in name order.
pub fn read_path(path: &Path) -> Result<Vec<TestResult>, String> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "xml") && p.is_file())
            .collect();
        files.sort();
        let mut all = Vec::new();
        for file in files {
            all.extend(read_file(&file)?);
        }
        return Ok(merge_duplicates(all));
    }
    read_file(path)
}

fn read_file(path: &Path) -> Result<Vec<TestResult>, String> {
    // The runner wrote the tests' output into it: mask secrets before anything reads it.
    if let Err(e) = orbtest_machines::redact::global().scrub_file(path) {
        return Err(format!("cannot redact {}: {e}", path.display()));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// One `<testcase>` as written, before duplicates are merged.
#[derive(Debug, Default)]
struct Case {
    classname: Option<String>,
    name: Option<String>,
    time: Duration,
    /// `failure`/`error` elements of the final outcome.
    failed: bool,
    timed_out: bool,
    skipped: bool,
    /// Other attempts, in the order written: `flakyFailure`/`flakyError` (the test then
    /// passed) or `rerunFailure`/`rerunError` (retries that failed again).
    reruns: Vec<Rerun>,
    message: Option<String>,
    text: String,
    system_out: String,
    system_err: String,
}

/// One `flaky*`/`rerun*` element: an attempt that failed.
#[derive(Debug, Default)]
struct Rerun {
    timed_out: bool,
    time: Option<Duration>,
    message: Option<String>,
    text: String,
    system_out: String,
    system_err: String,
}

/// Which child of a `<testcase>` is open, so its text goes to the right place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Child {
    Status,
    Out,
    Err,
    /// The last of `Case::reruns`.
    Rerun,
    Ignored,
}

/// Parses JUnit XML text of any common flavour. Never panics.
pub fn parse(xml: &str) -> Result<Vec<TestResult>, String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut p = Parser::default();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("invalid XML at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(e) => p.open(&e, false)?,
            Event::Empty(e) => p.open(&e, true)?,
            Event::End(e) => p.close(e.name().as_ref()),
            Event::Text(t) => p.text(&t.xml10_content().unwrap_or_default()),
            Event::CData(t) => p.text(&t.xml10_content().unwrap_or_default()),
            Event::GeneralRef(r) => {
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten().map(String::from)
                } else {
                    r.decode()
                        .ok()
                        .and_then(|name| quick_xml::escape::resolve_predefined_entity(&name).map(str::to_string))
                };
                if let Some(text) = resolved {
                    p.text(&text);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !p.root_seen {
        return Err("no <testsuites>, <testsuite> or <testcase> element: not a JUnit report".into());
    }
    if p.case.is_some() || !p.suites.is_empty() {
        return Err("the report ends in the middle of a test suite (cut short?)".into());
    }
    Ok(merge_duplicates(p.done))
}

#[derive(Default)]
struct Parser {
    root_seen: bool,
    /// Names of the open `<testsuite>` elements.
    suites: Vec<Option<String>>,
    case: Option<Case>,
    /// The open elements inside the test case, outermost first.
    open: Vec<Child>,
    done: Vec<TestResult>,
}

impl Parser {
    fn open(&mut self, e: &BytesStart<'_>, empty: bool) -> Result<(), String> {
        let name = e.name();
        let name = name.as_ref();
        if !self.root_seen {
            if !matches!(name, b"testsuites" | b"testsuite" | b"testcase") {
                return Err(format!(
                    "the root element is <{}>, not <testsuites> or <testsuite>: not a JUnit report",
                    String::from_utf8_lossy(name)
                ));
            }
            self.root_seen = true;
        }
        if let Some(case) = self.case.as_mut() {
            let kind = match (self.open.as_slice(), name) {
                ([], b"failure" | b"error") => {
                    case.failed = true;
                    let ty = attr(e, b"type");
                    let message = attr(e, b"message").filter(|m| !m.trim().is_empty());
                    case.timed_out |= is_timeout(ty.as_deref(), message.as_deref());
                    if case.message.is_none() || case.skipped {
                        case.message = message.or(ty.filter(|t| !t.trim().is_empty()));
                    }
                    case.skipped = false;
                    Child::Status
                }
                ([], b"skipped") if !case.failed => {
                    case.skipped = true;
                    case.message = attr(e, b"message");
                    Child::Ignored
                }
                ([], b"flakyFailure" | b"flakyError" | b"rerunFailure" | b"rerunError") => {
                    let ty = attr(e, b"type");
                    let message = attr(e, b"message").filter(|m| !m.trim().is_empty());
                    case.reruns.push(Rerun {
                        timed_out: is_timeout(ty.as_deref(), message.as_deref()),
                        time: attr(e, b"time").map(|t| seconds(&t)),
                        message: message.or(ty.filter(|t| !t.trim().is_empty() && t != "test timeout")),
                        ..Rerun::default()
                    });
                    Child::Rerun
                }
                ([], b"system-out") => Child::Out,
                ([], b"system-err") => Child::Err,
                // A retry's own output (surefire, nextest).
                ([Child::Rerun], b"system-out") => Child::Out,
                ([Child::Rerun], b"system-err") => Child::Err,
                ([Child::Rerun], b"stackTrace") => Child::Status,
                _ => Child::Ignored,
            };
            if !empty {
                self.open.push(kind);
            }
            return Ok(());
        }
        match name {
            b"testcase" => {
                self.case = Some(Case {
                    classname: attr(e, b"classname").filter(|c| !c.is_empty()),
                    name: attr(e, b"name"),
                    time: attr(e, b"time").map_or(Duration::ZERO, |t| seconds(&t)),
                    ..Case::default()
                });
                if empty {
                    self.finish_case();
                }
            }
            b"testsuite" if !empty => self.suites.push(attr(e, b"name")),
            _ => {}
        }
        Ok(())
    }

    fn close(&mut self, name: &[u8]) {
        if self.case.is_some() && self.open.pop().is_some() {
            return;
        }
        match name {
            b"testcase" if self.case.is_some() => self.finish_case(),
            b"testsuite" if self.case.is_none() => {
                self.suites.pop();
            }
            _ => {}
        }
    }

    fn text(&mut self, text: &str) {
        let Some(case) = self.case.as_mut() else {
            return;
        };
        let target = match (self.open.as_slice(), case.reruns.last_mut()) {
            ([Child::Status], _) => &mut case.text,
            ([Child::Out], _) => &mut case.system_out,
            ([Child::Err], _) => &mut case.system_err,
            ([Child::Rerun] | [Child::Rerun, Child::Status], Some(r)) => &mut r.text,
            ([Child::Rerun, Child::Out], Some(r)) => &mut r.system_out,
            ([Child::Rerun, Child::Err], Some(r)) => &mut r.system_err,
            _ => return,
        };
        target.push_str(text);
    }

    fn finish_case(&mut self) {
        let Some(case) = self.case.take() else { return };
        let suite = self.suites.iter().rev().find_map(Clone::clone);
        self.done.push(case.into_result(suite));
    }
}

impl Case {
    fn into_result(self, suite: Option<String>) -> TestResult {
        let id = TestId {
            binary_id: self.classname.or(suite).unwrap_or_else(|| "junit".into()),
            name: self
                .name
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "(unnamed)".into()),
        };
        if self.skipped && !self.failed {
            return TestResult {
                id,
                status: TestStatus::Skipped,
                duration: self.time,
                attempts: 0,
                message: self.message,
                output: None,
                attempt_log: Vec::new(),
            };
        }
        let case_time = self.time;
        let reruns = self.reruns.into_iter().map(|r| r.into_attempt(case_time));
        // As nextest and surefire write them: a flaky test's failed attempts come before the
        // pass (the case itself); a failed test's first attempt is the case's failure and its
        // retries follow.
        let mut log: Vec<Attempt> = Vec::new();
        let status = if self.failed {
            // jest-junit puts the whole message in the element's text, without a `message`.
            let message = self.message.or_else(|| first_line(&self.text));
            log.push(Attempt {
                message,
                output: output(&[&self.text, &self.system_out, &self.system_err]),
                ..Attempt::new(
                    0,
                    if self.timed_out {
                        TestStatus::TimedOut
                    } else {
                        TestStatus::Failed
                    },
                    self.time,
                )
            });
            log.extend(reruns);
            log.last().map_or(TestStatus::Failed, |a| a.status)
        } else {
            log.extend(reruns);
            if log.is_empty() {
                return TestResult {
                    id,
                    status: TestStatus::Passed,
                    duration: self.time,
                    attempts: 1,
                    message: None,
                    output: None,
                    attempt_log: Vec::new(),
                };
            }
            log.push(Attempt::new(0, TestStatus::Passed, self.time));
            TestStatus::Flaky
        };
        from_attempts(id, status, log)
    }
}

impl Rerun {
    /// Surefire gives a retry no time of its own: then it is taken to be the case's.
    fn into_attempt(self, case_time: Duration) -> Attempt {
        let status = if self.timed_out {
            TestStatus::TimedOut
        } else {
            TestStatus::Failed
        };
        Attempt {
            message: self.message.or_else(|| first_line(&self.text)),
            output: output(&[&self.text, &self.system_out, &self.system_err]),
            ..Attempt::new(0, status, self.time.unwrap_or(case_time))
        }
    }
}

/// A test's result from its attempts (oldest first; empty for a test that passed at once):
/// numbered, timed-out ones labelled, message and output from the final attempt (a flaky
/// test's: from its last failure).
pub fn from_attempts(id: TestId, status: TestStatus, mut log: Vec<Attempt>) -> TestResult {
    for (i, a) in log.iter_mut().enumerate() {
        a.n = i as u32 + 1;
        if a.status == TestStatus::TimedOut && a.message.is_none() {
            a.message = Some(crate::results::timed_out_after(a.duration));
        }
    }
    let last = log.last();
    let failing = log.iter().rev().find(|a| a.status.is_failure());
    let (message, output) = match status {
        TestStatus::Flaky => (failing.and_then(|a| a.message.clone()), None),
        _ => (
            last.and_then(|a| a.message.clone()),
            last.and_then(|a| a.output.clone()),
        ),
    };
    TestResult {
        id,
        status,
        duration: last.map_or(Duration::ZERO, |a| a.duration),
        attempts: log.len().max(1) as u32,
        message,
        output,
        attempt_log: if status == TestStatus::Passed { Vec::new() } else { log },
    }
}

fn first_line(text: &str) -> Option<String> {
    text.lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_string)
}

fn is_timeout(ty: Option<&str>, message: Option<&str>) -> bool {
    ty == Some("test timeout") || message.is_some_and(|m| m.starts_with("Failed: Timeout"))
}

/// The non-empty parts, one after the other, at most `OUTPUT_LINES` lines (the last ones).
fn output(parts: &[&str]) -> Option<String> {
    let text = parts
        .iter()
        .map(|p| p.trim_matches('\n').trim_end())
        .filter(|p| !p.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    if text.is_empty() {
        return None;
    }
    Some(crate::report::tail(&text, OUTPUT_LINES))
}

fn attr(e: &BytesStart<'_>, key: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == key)
        .and_then(|a| a.normalized_value(XmlVersion::Implicit1_0).ok().map(|v| v.into_owned()))
}

/// `time="0.012"`; surefire has written `1,234.5` in some locales. Anything else is zero.
fn seconds(text: &str) -> Duration {
    text.trim()
        .replace(',', "")
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or(Duration::ZERO)
}

/// Entries of the same test, in order, become one: flaky when an earlier entry failed and the
/// last passed (gotestsum's reruns, each entry an attempt); failed when the last failed, as one
/// attempt with every failing entry's message and output (pytest lists a failure and a
/// teardown error of the same run separately).
pub fn merge_duplicates(results: Vec<TestResult>) -> Vec<TestResult> {
    let mut order: Vec<TestId> = Vec::new();
    let mut groups: std::collections::HashMap<TestId, Vec<TestResult>> = std::collections::HashMap::new();
    for r in results {
        let entry = groups.entry(r.id.clone()).or_default();
        if entry.is_empty() {
            order.push(r.id.clone());
        }
        entry.push(r);
    }
    order
        .into_iter()
        .filter_map(|id| {
            let mut entries = groups.remove(&id)?;
            let mut last = entries.pop()?;
            let earlier_failures: Vec<TestResult> = entries.into_iter().filter(|e| e.status.is_failure()).collect();
            if earlier_failures.is_empty() {
                return Some(last);
            }
            if last.status.is_failure() {
                let mut outputs: Vec<String> = earlier_failures.iter().filter_map(|e| e.output.clone()).collect();
                outputs.extend(last.output.take());
                let output = (!outputs.is_empty()).then(|| crate::report::tail(&outputs.join("\n"), OUTPUT_LINES));
                let messages: Vec<String> = earlier_failures
                    .iter()
                    .chain(std::iter::once(&last))
                    .filter_map(|e| e.message.clone())
                    .collect();
                let message = (!messages.is_empty()).then(|| messages.join("; "));
                if let Some(a) = last.attempt_log.last_mut() {
                    a.message.clone_from(&message);
                    a.output.clone_from(&output);
                }
                last.message = message;
                last.output = output;
                Some(last)
            } else if matches!(last.status, TestStatus::Passed | TestStatus::Flaky) {
                let log = earlier_failures
                    .into_iter()
                    .chain(std::iter::once(last))
                    .flat_map(attempts_of)
                    .collect();
                Some(from_attempts(id, TestStatus::Flaky, log))
            } else {
                Some(last)
            }
        })
        .collect()
}

/// A result's attempts; one that passed at once (and so keeps no log) is one passed attempt.
pub fn attempts_of(r: TestResult) -> Vec<Attempt> {
    if r.attempt_log.is_empty() && r.status != TestStatus::Skipped {
        let mut a = Attempt::new(1, r.status, r.duration);
        a.message = r.message;
        a.output = r.output;
        vec![a]
    } else {
        r.attempt_log
    }
}

/// The tier's results as JUnit in nextest's own shape (suites by classname, flaky and rerun
/// elements, `type="test timeout"`), which the run's merged junit.xml and `cargo orbtest
/// report` read back.
pub fn normalized(tier: &str, results: &[TestResult]) -> Result<String, String> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestRerun, TestSuite};
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
    report.to_string().map_err(|e| format!("cannot write JUnit: {e}"))
}
