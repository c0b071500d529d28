//! Reading nextest's human output as it streams: test totals, each test's final status, each
//! failed attempt with the first lines of its message, and retry waits, for the views. Results
//! of record come from JUnit; this is only for progress.

use std::time::Duration;

use crate::results::TestStatus;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LineEvent {
    /// `Starting N tests across M binaries`.
    Started {
        total: usize,
    },
    /// A test reached its final status (`(done/total)` counter present).
    TestDone {
        status: TestStatus,
        binary_id: String,
        name: String,
        /// 1 unless nextest retried it (`TRY 2 PASS`).
        attempt: u32,
        duration: Duration,
        done: usize,
        total: usize,
    },
    /// An attempt failed and a retry follows (`TRY 1 FAIL ... (───)`).
    AttemptFailed {
        status: TestStatus,
        binary_id: String,
        name: String,
        attempt: u32,
    },
    /// `DELAY 2/3 by 5.000s`: the test waits before attempt 2 of 3.
    Retrying {
        binary_id: String,
        name: String,
        attempt: u32,
        of: u32,
        delay: Duration,
    },
    /// The `Summary` line: what follows repeats earlier results.
    Summary,
    Other,
}

/// Parses one line of nextest's (uncoloured) human output.
pub(crate) fn parse_line(line: &str) -> LineEvent {
    let line = line.trim();
    if let Some(rest) = line.strip_prefix("Starting ") {
        if let Some(total) = rest.split_whitespace().next().and_then(|n| n.parse().ok()) {
            return LineEvent::Started { total };
        }
        return LineEvent::Other;
    }
    if line.starts_with("Summary [") {
        return LineEvent::Summary;
    }
    if let Some(rest) = line.strip_prefix("DELAY ") {
        return parse_delay(rest).unwrap_or(LineEvent::Other);
    }
    let Some((status_word, rest)) = line.split_once(" [") else {
        return LineEvent::Other;
    };
    let Some((duration, rest)) = rest.split_once("] ") else {
        return LineEvent::Other;
    };
    let rest = rest.trim_start();
    let Some(counter) = rest.strip_prefix('(') else {
        return LineEvent::Other;
    };
    let Some((counter, test)) = counter.split_once(") ") else {
        return LineEvent::Other;
    };
    let status_word = status_word.trim();
    let attempt = attempt_of(status_word);
    let (binary_id, name) = test.split_once(' ').unwrap_or((test, ""));
    let (binary_id, name) = (binary_id.to_string(), name.trim().to_string());
    let Some((done, total)) = counter.split_once('/') else {
        // `(───)`: an attempt before the last; only its failure matters here.
        return match (final_status(status_word), attempt) {
            (Some(status), Some(attempt)) if status.is_failure() => LineEvent::AttemptFailed {
                status,
                binary_id,
                name,
                attempt,
            },
            _ => LineEvent::Other,
        };
    };
    let (Ok(done), Ok(total)) = (done.trim().parse(), total.trim().parse()) else {
        return LineEvent::Other;
    };
    let Some(status) = final_status(status_word) else {
        return LineEvent::Other;
    };
    LineEvent::TestDone {
        status,
        binary_id,
        name,
        attempt: attempt.unwrap_or(1),
        duration: seconds(duration.trim().trim_start_matches('>').trim()).unwrap_or_default(),
        done,
        total,
    }
}

/// `2/3 by 5.000s (───) binary test`.
fn parse_delay(rest: &str) -> Option<LineEvent> {
    let (counts, rest) = rest.trim().split_once(" by ")?;
    let (attempt, of) = counts.trim().split_once('/')?;
    let (delay, rest) = rest.trim().split_once(' ')?;
    let test = rest.trim_start().strip_prefix('(')?.split_once(") ")?.1;
    let (binary_id, name) = test.split_once(' ').unwrap_or((test, ""));
    Some(LineEvent::Retrying {
        binary_id: binary_id.to_string(),
        name: name.trim().to_string(),
        attempt: attempt.trim().parse().ok()?,
        of: of.trim().parse().ok()?,
        delay: seconds(delay)?,
    })
}

/// `1.503s` as a duration.
fn seconds(s: &str) -> Option<Duration> {
    let secs: f64 = s.trim().strip_suffix('s')?.trim().parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

/// `TRY 2 FAIL` → 2.
fn attempt_of(word: &str) -> Option<u32> {
    let mut parts = word.split_whitespace();
    (parts.next()? == "TRY").then_some(())?;
    parts.next()?.parse().ok()
}

fn final_status(word: &str) -> Option<TestStatus> {
    let last = word.split_whitespace().last()?;
    let retried = word.starts_with("TRY ");
    Some(match last {
        "PASS" | "LEAK" if retried => TestStatus::Flaky,
        "PASS" | "LEAK" => TestStatus::Passed,
        "SKIP" => TestStatus::Skipped,
        "TIMEOUT" | "TMT" => TestStatus::TimedOut,
        "FAIL" | "ABORT" | "LEAK-FAIL" | "FLKY-FL" | "ERROR" => TestStatus::Failed,
        s if s.starts_with("SIG") => TestStatus::Failed,
        _ => return None,
    })
}

/// A status line nextest prints for any test (`SLOW [>  1.000s]`, `TERMINATING`, ...): it ends
/// the output of the failure before it.
fn looks_like_status(line: &str) -> bool {
    let line = line.trim_start();
    let Some((word, _)) = line.split_once(" [") else {
        return false;
    };
    !word.is_empty()
        && word.len() <= 16
        && word
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == ' ' || c == '-')
        && word.starts_with(|c: char| c.is_ascii_uppercase())
}

/// A failed attempt, with the first lines of its message as nextest's output shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FailedAttempt {
    /// `binary-id test-name`.
    pub test: String,
    pub attempt: u32,
    pub status: TestStatus,
    pub message: Vec<String>,
}

/// Lines of a failure message the views show.
pub(super) const MESSAGE_LINES: usize = 3;

/// Follows nextest's output for failed attempts: a failure's status line is followed by the
/// test's captured output (indented), in which a Rust panic names its message after
/// `panicked at`. [`FailureTap::feed`] hands back each failure once its message is known: at
/// the end of the panic message (the backtrace note nextest prints right after it), or at the
/// next status line.
#[derive(Debug, Default)]
pub(crate) struct FailureTap {
    open: Option<Open>,
}

#[derive(Debug)]
struct Open {
    failed: FailedAttempt,
    in_panic: bool,
}

impl FailureTap {
    /// Feeds one line (parsed as `event`); returns a failure whose message is now complete.
    pub(crate) fn feed(&mut self, event: &LineEvent, line: &str) -> Option<FailedAttempt> {
        let started = match event {
            LineEvent::AttemptFailed {
                status,
                binary_id,
                name,
                attempt,
            } => Some((status, binary_id, name, *attempt)),
            LineEvent::TestDone {
                status,
                binary_id,
                name,
                attempt,
                ..
            } if status.is_failure() => Some((status, binary_id, name, *attempt)),
            _ => None,
        };
        let is_status_line = !matches!(event, LineEvent::Other) || looks_like_status(line);
        let finished = if is_status_line { self.close() } else { None };
        if let Some((status, binary_id, name, attempt)) = started {
            let message = match status {
                TestStatus::TimedOut => vec!["timed out".to_string()],
                _ => Vec::new(),
            };
            let failed = FailedAttempt {
                test: format!("{binary_id} {name}"),
                attempt,
                status: *status,
                message,
            };
            // A timeout has nothing more to say: out at once.
            if *status == TestStatus::TimedOut {
                return finished.or(Some(failed));
            }
            self.open = Some(Open {
                failed,
                in_panic: false,
            });
            return finished;
        }
        if finished.is_some() {
            return finished;
        }
        let open = self.open.as_mut()?;
        let text = line.strip_prefix("    ").unwrap_or(line.trim_start());
        if !open.in_panic {
            open.in_panic = text.contains("panicked at");
            return None;
        }
        let end = text.starts_with("stack backtrace:") || text.starts_with("note: ") || text.trim().is_empty();
        if !end {
            open.failed.message.push(text.trim_end().to_string());
        }
        if end || open.failed.message.len() >= MESSAGE_LINES {
            return self.close();
        }
        None
    }

    /// The failure being read, if any (at the end of the output).
    pub(crate) fn close(&mut self) -> Option<FailedAttempt> {
        self.open.take().map(|o| o.failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_totals_results_and_the_summary_marker() {
        assert_eq!(
            parse_line(
                "    Starting 6 tests across 1 binary (2 binaries skipped via profile.orbtest-fast.default-filter)"
            ),
            LineEvent::Started { total: 6 }
        );
        assert_eq!(
            parse_line("        PASS [   0.309s] (2/2) probe::integ i2"),
            LineEvent::TestDone {
                status: TestStatus::Passed,
                binary_id: "probe::integ".into(),
                name: "i2".into(),
                attempt: 1,
                duration: Duration::from_millis(309),
                done: 2,
                total: 2
            }
        );
        assert!(matches!(
            parse_line("  TRY 2 PASS [   0.008s] (4/6) nextest-probe tests::flaky_once"),
            LineEvent::TestDone {
                status: TestStatus::Flaky,
                done: 4,
                attempt: 2,
                ..
            }
        ));
        assert_eq!(
            parse_line("  TRY 1 FAIL [   0.107s] (───) nextest-probe tests::flaky_once"),
            LineEvent::AttemptFailed {
                status: TestStatus::Failed,
                binary_id: "nextest-probe".into(),
                name: "tests::flaky_once".into(),
                attempt: 1
            }
        );
        assert!(matches!(
            parse_line("     TIMEOUT [   1.007s] (5/6) nextest-probe tests::hangs"),
            LineEvent::TestDone {
                status: TestStatus::TimedOut,
                ..
            }
        ));
        assert!(matches!(
            parse_line("     SIGTERM [   1.503s] (1/2) nextest-probe tests::sleepy"),
            LineEvent::TestDone {
                status: TestStatus::Failed,
                ..
            }
        ));
        assert_eq!(
            parse_line("        SLOW [>  0.500s] (───) nextest-probe tests::hangs"),
            LineEvent::Other
        );
        assert_eq!(
            parse_line("   DELAY 2/3 by   5.000s (───) a::slow fails"),
            LineEvent::Retrying {
                binary_id: "a::slow".into(),
                name: "fails".into(),
                attempt: 2,
                of: 3,
                delay: Duration::from_secs(5)
            }
        );
        assert_eq!(
            parse_line("     Summary [   2.840s] 6 tests run: 5 passed (1 slow, 1 flaky), 1 timed out, 0 skipped"),
            LineEvent::Summary
        );
        assert_eq!(parse_line("thread 'x' panicked at src/lib.rs:3:5:"), LineEvent::Other);
    }

    fn tap(lines: &str) -> Vec<FailedAttempt> {
        let mut tap = FailureTap::default();
        let mut out: Vec<FailedAttempt> = lines.lines().filter_map(|l| tap.feed(&parse_line(l), l)).collect();
        out.extend(tap.close());
        out
    }

    #[test]
    fn a_failure_comes_with_the_first_lines_of_its_panic_message() {
        let out = tap("  TRY 1 FAIL [   0.015s] (───) a::slow fails
  stdout ───

    running 1 test
    test fails ... FAILED

  stderr ───

    thread 'fails' (3542) panicked at a/tests/slow.rs:2:21:
    boom here
    second line
    note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace

   DELAY 2/2 by   2.000s (───) a::slow fails
     TIMEOUT [   1.007s] (5/6) a tests::hangs
        PASS [   0.006s] (6/7) b tests::it_works");
        assert_eq!(
            out,
            [
                FailedAttempt {
                    test: "a::slow fails".into(),
                    attempt: 1,
                    status: TestStatus::Failed,
                    message: vec!["boom here".into(), "second line".into()],
                },
                FailedAttempt {
                    test: "a tests::hangs".into(),
                    attempt: 1,
                    status: TestStatus::TimedOut,
                    message: vec!["timed out".into()],
                }
            ]
        );
    }

    #[test]
    fn a_failure_without_a_panic_ends_at_the_next_status_line() {
        let out = tap("        FAIL [   0.015s] (1/2) a tests::exits
    stderr ───
    exit code 3
        FAIL [   0.015s] (2/2) a tests::long
    thread 'long' panicked at src/lib.rs:1:1:
    1
    2
    3
    4");
        assert_eq!(out.len(), 2);
        assert!(out[0].message.is_empty());
        assert_eq!(out[1].message, ["1", "2", "3"], "at most three lines");
    }
}
