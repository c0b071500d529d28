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

use crate::results::{TestId, TestResult, TestStatus};

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
    /// Earlier attempts that failed (`flakyFailure`/`flakyError`: the test then passed;
    /// `rerunFailure`/`rerunError`: it failed again).
    flaky_runs: u32,
    rerun_failures: u32,
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
    /// The open child of the test case, and how many elements are open inside it.
    child: Option<(Child, usize)>,
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
        if let Some((_, inner)) = self.child.as_mut() {
            if !empty {
                *inner += 1;
            }
            return Ok(());
        }
        if let Some(case) = self.case.as_mut() {
            let kind = match name {
                b"failure" | b"error" => {
                    case.failed = true;
                    let ty = attr(e, b"type");
                    let message = attr(e, b"message").filter(|m| !m.trim().is_empty());
                    case.timed_out |= ty.as_deref() == Some("test timeout")
                        || message.as_deref().is_some_and(|m| m.starts_with("Failed: Timeout"));
                    if case.message.is_none() || case.skipped {
                        case.message = message.or(ty.filter(|t| !t.trim().is_empty()));
                    }
                    case.skipped = false;
                    Child::Status
                }
                b"skipped" if !case.failed => {
                    case.skipped = true;
                    case.message = attr(e, b"message");
                    Child::Ignored
                }
                b"flakyFailure" | b"flakyError" => {
                    case.flaky_runs += 1;
                    if case.message.is_none() {
                        case.message = attr(e, b"message");
                    }
                    Child::Ignored
                }
                b"rerunFailure" | b"rerunError" => {
                    case.rerun_failures += 1;
                    Child::Ignored
                }
                b"system-out" => Child::Out,
                b"system-err" => Child::Err,
                _ => Child::Ignored,
            };
            if !empty {
                self.child = Some((kind, 0));
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
        if let Some((_, inner)) = self.child.as_mut() {
            if *inner == 0 {
                self.child = None;
            } else {
                *inner -= 1;
            }
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
        let (Some(case), Some((kind, _))) = (self.case.as_mut(), self.child) else {
            return;
        };
        match kind {
            Child::Status => case.text.push_str(text),
            Child::Out => case.system_out.push_str(text),
            Child::Err => case.system_err.push_str(text),
            Child::Ignored => {}
        }
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
        let (status, attempts) = if self.failed {
            let status = if self.timed_out {
                TestStatus::TimedOut
            } else {
                TestStatus::Failed
            };
            (status, 1 + self.rerun_failures)
        } else if self.skipped {
            (TestStatus::Skipped, 0)
        } else if self.flaky_runs > 0 {
            (TestStatus::Flaky, 1 + self.flaky_runs)
        } else {
            (TestStatus::Passed, 1)
        };
        let failed = status.is_failure();
        // jest-junit puts the whole message in the element's text, without a `message`.
        let message = self.message.or_else(|| {
            failed
                .then(|| {
                    self.text
                        .lines()
                        .map(str::trim)
                        .find(|l| !l.is_empty())
                        .map(str::to_string)
                })
                .flatten()
        });
        let output = failed
            .then(|| output(&[&self.text, &self.system_out, &self.system_err]))
            .flatten();
        TestResult {
            id,
            status,
            duration: self.time,
            attempts,
            message,
            output,
        }
    }
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
/// last passed (gotestsum's reruns); failed when the last failed, with every failing entry's
/// message and output (pytest lists a failure and a teardown error separately).
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
            let Some(first) = earlier_failures.first() else {
                return Some(last);
            };
            if last.status.is_failure() {
                let mut outputs: Vec<String> = earlier_failures.iter().filter_map(|e| e.output.clone()).collect();
                outputs.extend(last.output.take());
                last.output = (!outputs.is_empty()).then(|| crate::report::tail(&outputs.join("\n"), OUTPUT_LINES));
                let messages: Vec<String> = earlier_failures
                    .iter()
                    .chain(std::iter::once(&last))
                    .filter_map(|e| e.message.clone())
                    .collect();
                last.message = (!messages.is_empty()).then(|| messages.join("; "));
            } else if matches!(last.status, TestStatus::Passed | TestStatus::Flaky) {
                last.status = TestStatus::Flaky;
                last.attempts = last.attempts.max(earlier_failures.len() as u32 + 1);
                last.message = first.message.clone();
            }
            Some(last)
        })
        .collect()
}

/// The tier's results as JUnit in nextest's own shape (suites by classname, flaky and rerun
/// elements, `type="test timeout"`), which the run's merged junit.xml and `cargo orbtest
/// report` read back.
pub fn normalized(tier: &str, results: &[TestResult]) -> Result<String, String> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestRerun, TestSuite};
    let mut suites: Vec<TestSuite> = Vec::new();
    for r in results {
        let status = match r.status {
            TestStatus::Passed => TestCaseStatus::success(),
            TestStatus::Flaky => {
                let mut s = TestCaseStatus::success();
                for _ in 1..r.attempts.max(2) {
                    let mut rerun = TestRerun::new(NonSuccessKind::Failure);
                    if let Some(m) = &r.message {
                        rerun.set_message(m.as_str());
                    }
                    s.add_rerun(rerun);
                }
                s
            }
            TestStatus::Failed | TestStatus::TimedOut => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                if r.status == TestStatus::TimedOut {
                    s.set_type("test timeout");
                }
                if let Some(m) = &r.message {
                    s.set_message(m.as_str());
                }
                if let Some(o) = &r.output {
                    s.set_description(o.as_str());
                }
                for _ in 1..r.attempts {
                    s.add_rerun(TestRerun::new(NonSuccessKind::Failure));
                }
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
        case.set_time(r.duration);
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
