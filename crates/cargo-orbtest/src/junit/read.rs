//! The one JUnit reader: every JUnit file cargo-orbtest reads (nextest's per tier, a command
//! tier's runner's, the run's merged `junit.xml` read back) becomes test results here.
//!
//! Read tolerantly, as runners really write it: nextest, pytest (`--junitxml`), go test through
//! gotestsum (`--junitfile`, also with `--rerun-fails`), jest-junit and Maven surefire (a bare
//! `<testsuite>` root, one file per class, flaky and rerun elements). Any `<testcase>` anywhere
//! counts; unknown elements and attributes are skipped; a `time` that does not parse counts as
//! zero. quick-junit's reader is strict about structure (a `<testsuites>` root, one status per
//! test) and documented as experimental, so this reader walks the XML events itself.
//!
//! A test is `classname::name` (the enclosing suite's name when there is no classname). A test
//! listed more than once in one report (gotestsum's reruns, pytest's failure plus a teardown
//! error) takes its last entry's outcome, and is flaky when an earlier entry failed and the
//! last one passed (see [`super::cases`]).
//!
//! A failure's output is its element's text, then `system-out`, then `system-err`; text that
//! the captured output already holds (nextest's description is an excerpt of its stderr) is not
//! repeated.
//!
//! Anything that is not a readable JUnit report is a [`JunitError`] saying why.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

use super::cases::{from_attempts, merge_duplicates, merge_duplicates_by};
use crate::results::{Attempt, TestId, TestResult, TestStatus};

/// Lines of a failure's text kept per test.
const OUTPUT_LINES: usize = 200;

/// Why a file is not a usable JUnit report.
#[derive(Debug, thiserror::Error)]
pub enum JunitError {
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot redact {}: {source}", .path.display())]
    Redact {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {problem}", .path.display())]
    Invalid {
        path: PathBuf,
        #[source]
        problem: Invalid,
    },
}

/// What is wrong with a text that should be JUnit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("invalid XML at byte {position}: {message}")]
    Xml { position: u64, message: String },
    #[error("no <testsuites>, <testsuite> or <testcase> element: not a JUnit report")]
    NoReport,
    #[error("the root element is <{0}>, not <testsuites> or <testsuite>: not a JUnit report")]
    Root(String),
    #[error("the report ends in the middle of a test suite (cut short?)")]
    CutShort,
}

/// Reads a JUnit file, or every `*.xml` file directly in a directory (surefire writes one per
/// test class), in name order. Secrets in it are masked first, in place: the runner wrote the
/// tests' output into it.
pub fn read_path(path: &Path) -> Result<Vec<TestResult>, JunitError> {
    if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|source| JunitError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries
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

fn read_file(path: &Path) -> Result<Vec<TestResult>, JunitError> {
    let text = read_text(path)?;
    parse(&text).map_err(|problem| JunitError::Invalid {
        path: path.to_path_buf(),
        problem,
    })
}

/// A JUnit file's text, its secrets masked in place first.
fn read_text(path: &Path) -> Result<String, JunitError> {
    orbtest_machines::redact::global()
        .scrub_file(path)
        .map_err(|source| JunitError::Redact {
            path: path.to_path_buf(),
            source,
        })?;
    let bytes = std::fs::read(path).map_err(|source| JunitError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Parses JUnit XML text of any common flavour. Never panics.
pub fn parse(xml: &str) -> Result<Vec<TestResult>, Invalid> {
    let cases = parse_cases(xml)?;
    Ok(merge_duplicates(cases.into_iter().map(|(_, r)| r).collect()))
}

/// [`parse`], each test with the name of the `<testsuite>` around it (empty when none):
/// the run's merged `junit.xml` names its suites `<tier>/<binary-id>`. Duplicates merge within
/// a suite only.
pub fn parse_by_suite(xml: &str) -> Result<Vec<(String, TestResult)>, Invalid> {
    Ok(merge_duplicates_by(parse_cases(xml)?))
}

/// One `<testcase>` as written, before duplicates are merged.
#[derive(Debug, Default)]
struct Case {
    classname: Option<String>,
    name: Option<String>,
    time: Duration,
    started_at: Option<SystemTime>,
    /// `failure`/`error` elements of the final outcome.
    failed: bool,
    /// One of them was an `error`.
    error: bool,
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
    /// `flakyError`/`rerunError`.
    error: bool,
    time: Option<Duration>,
    started_at: Option<SystemTime>,
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

/// Every test case in `xml`, in order, with its suite's name.
fn parse_cases(xml: &str) -> Result<Vec<(String, TestResult)>, Invalid> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut p = Parser::default();
    loop {
        let event = reader.read_event().map_err(|e| Invalid::Xml {
            position: reader.error_position(),
            message: e.to_string(),
        })?;
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
        return Err(Invalid::NoReport);
    }
    if p.case.is_some() || !p.suites.is_empty() {
        return Err(Invalid::CutShort);
    }
    Ok(p.done)
}

#[derive(Default)]
struct Parser {
    root_seen: bool,
    /// Names of the open `<testsuite>` elements.
    suites: Vec<Option<String>>,
    case: Option<Case>,
    /// The open elements inside the test case, outermost first.
    open: Vec<Child>,
    done: Vec<(String, TestResult)>,
}

impl Parser {
    fn open(&mut self, e: &BytesStart<'_>, empty: bool) -> Result<(), Invalid> {
        let name = e.name();
        let name = name.as_ref();
        if !self.root_seen {
            if !matches!(name, b"testsuites" | b"testsuite" | b"testcase") {
                return Err(Invalid::Root(String::from_utf8_lossy(name).into_owned()));
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
                    case.error |= name == b"error";
                    if case.message.is_none() || case.skipped {
                        case.message = message.or(described_by(ty));
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
                        error: name.ends_with(b"Error"),
                        time: attr(e, b"time").map(|t| seconds(&t)),
                        started_at: attr(e, b"timestamp").and_then(|t| timestamp(&t)),
                        message: message.or(described_by(ty)),
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
                    started_at: attr(e, b"timestamp").and_then(|t| timestamp(&t)),
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
        let suite_name = suite.clone().unwrap_or_default();
        self.done.push((suite_name, case.into_result(suite)));
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
            let message = self
                .message
                .or_else(|| first_line(&self.text))
                .or_else(|| self.error.then(|| "error".to_string()));
            log.push(Attempt {
                message,
                output: output(&self.text, &self.system_out, &self.system_err),
                started_at: self.started_at,
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
            log.push(Attempt {
                started_at: self.started_at,
                ..Attempt::new(0, TestStatus::Passed, self.time)
            });
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
            message: self
                .message
                .or_else(|| first_line(&self.text))
                .or_else(|| self.error.then(|| "error".to_string())),
            output: output(&self.text, &self.system_out, &self.system_err),
            started_at: self.started_at,
            ..Attempt::new(0, status, self.time.unwrap_or(case_time))
        }
    }
}

fn first_line(text: &str) -> Option<String> {
    text.lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_string)
}

/// A failure's `type` as its message, when it has no `message`: not nextest's `test timeout`
/// (a timed-out attempt's message says how long it ran).
fn described_by(ty: Option<String>) -> Option<String> {
    ty.filter(|t| !t.trim().is_empty() && t != "test timeout")
}

/// `timestamp="2026-11-22T14:00:00.100+01:00"` (RFC 3339, any offset; no offset is UTC).
fn timestamp(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    let (local, offset_secs) = match text.get(text.len().saturating_sub(6)..) {
        Some(tail)
            if tail.is_ascii()
                && tail.len() == 6
                && (tail.starts_with('+') || tail.starts_with('-'))
                && &tail[3..4] == ":" =>
        {
            let hours: u64 = tail[1..3].parse().ok()?;
            let minutes: u64 = tail[4..6].parse().ok()?;
            let secs = (hours * 60 + minutes) * 60;
            let local = &text[..text.len() - 6];
            (
                local,
                if tail.starts_with('-') {
                    -(secs as i64)
                } else {
                    secs as i64
                },
            )
        }
        _ => (text.trim_end_matches('Z'), 0),
    };
    let utc_if_local = humantime::parse_rfc3339_weak(local).ok()?;
    let shift = Duration::from_secs(offset_secs.unsigned_abs());
    if offset_secs >= 0 {
        utc_if_local.checked_sub(shift)
    } else {
        utc_if_local.checked_add(shift)
    }
}

fn is_timeout(ty: Option<&str>, message: Option<&str>) -> bool {
    ty == Some("test timeout") || message.is_some_and(|m| m.starts_with("Failed: Timeout"))
}

/// A failure's text, stdout and stderr, the non-empty ones one after the other (the text left
/// out when the captured output already holds it), at most `OUTPUT_LINES` lines (the last
/// ones).
fn output(text: &str, out: &str, err: &str) -> Option<String> {
    let text = text.trim_matches('\n').trim_end();
    let repeated = !text.trim().is_empty() && (out.contains(text.trim()) || err.contains(text.trim()));
    let parts = [if repeated { "" } else { text }, out, err];
    let text = parts
        .iter()
        .map(|p| p.trim_matches('\n').trim_end())
        .filter(|p| !p.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    if text.is_empty() {
        return None;
    }
    Some(orbtest_machines::text::tail(&text, OUTPUT_LINES, 2_000))
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
        let r = parse(NEXTEST).unwrap();
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
        // A timeout's message says how long it ran, not nextest's type.
        assert_eq!(r[2].message.as_deref(), Some("timed out after 1s"));
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert!(parse("<testsuites><testsuite").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn tests_keep_their_suite_and_merge_only_within_it() {
        let xml = r#"<testsuites>
  <testsuite name="fast/probe"><testcase name="t" classname="probe"><failure message="boom"/></testcase></testsuite>
  <testsuite name="slow/probe"><testcase name="t" classname="probe"/></testsuite>
</testsuites>"#;
        let by_suite = parse_by_suite(xml).unwrap();
        let seen: Vec<_> = by_suite.iter().map(|(s, t)| (s.as_str(), t.status)).collect();
        assert_eq!(
            seen,
            [("fast/probe", TestStatus::Failed), ("slow/probe", TestStatus::Passed)]
        );
        // Without suites, the same test listed twice is one test that failed, then passed.
        assert_eq!(parse(xml).unwrap()[0].status, TestStatus::Flaky);
    }

    #[test]
    fn error_elements_without_a_message_say_error() {
        let xml = r#"<testsuite name="s"><testcase name="t"><error/></testcase></testsuite>"#;
        assert_eq!(parse(xml).unwrap()[0].message.as_deref(), Some("error"));
    }

    #[test]
    fn timestamps_with_any_offset_are_the_same_instant() {
        let utc = timestamp("2026-11-22T14:00:00.100+00:00").unwrap();
        assert_eq!(timestamp("2026-11-22T15:00:00.100+01:00"), Some(utc));
        assert_eq!(timestamp("2026-11-22T12:30:00.100-01:30"), Some(utc));
        assert_eq!(timestamp("2026-11-22T14:00:00.100Z"), Some(utc));
        assert_eq!(timestamp("2026-11-22T14:00:00.100"), Some(utc));
        assert_eq!(timestamp("yesterday"), None);
        assert_eq!(timestamp("+01:00"), None);
    }

    #[test]
    fn a_description_the_captured_output_holds_is_not_repeated() {
        let panic = "thread 'x' panicked at src/lib.rs:1:1:\nboom";
        let stderr = format!("running 1 test\n{panic}\nnote: run with RUST_BACKTRACE=1");
        assert_eq!(output(panic, "", &stderr), Some(stderr.clone()));
        assert_eq!(output(panic, "", ""), Some(panic.to_string()));
        assert_eq!(
            output("Traceback: E assert 1 == 2", "captured", ""),
            Some("Traceback: E assert 1 == 2\ncaptured".to_string())
        );
    }
}
