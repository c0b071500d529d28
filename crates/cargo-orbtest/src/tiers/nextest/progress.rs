//! Reading nextest's human output as it streams: test totals and each test's final status, for
//! the live view. Results of record come from JUnit; this is only for progress.

use crate::results::TestStatus;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineEvent {
    /// `Starting N tests across M binaries`.
    Started {
        total: usize,
    },
    /// A test reached its final status (`(done/total)` counter present).
    TestDone {
        status: TestStatus,
        binary_id: String,
        name: String,
        done: usize,
        total: usize,
    },
    /// The `Summary` line: what follows repeats earlier results.
    Summary,
    Other,
}

/// Parses one line of nextest's (uncoloured) human output.
pub fn parse_line(line: &str) -> LineEvent {
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
    let Some((status_word, rest)) = line.split_once(" [") else {
        return LineEvent::Other;
    };
    let Some((_, rest)) = rest.split_once("] ") else {
        return LineEvent::Other;
    };
    let rest = rest.trim_start();
    let Some(counter) = rest.strip_prefix('(') else {
        return LineEvent::Other;
    };
    let Some((counter, test)) = counter.split_once(") ") else {
        return LineEvent::Other;
    };
    let Some((done, total)) = counter.split_once('/') else {
        // `(───)`: an intermediate attempt, not a final status.
        return LineEvent::Other;
    };
    let (Ok(done), Ok(total)) = (done.trim().parse(), total.trim().parse()) else {
        return LineEvent::Other;
    };
    let Some(status) = final_status(status_word.trim()) else {
        return LineEvent::Other;
    };
    let (binary_id, name) = test.split_once(' ').unwrap_or((test, ""));
    LineEvent::TestDone {
        status,
        binary_id: binary_id.to_string(),
        name: name.trim().to_string(),
        done,
        total,
    }
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
                done: 2,
                total: 2
            }
        );
        assert!(matches!(
            parse_line("  TRY 2 PASS [   0.008s] (4/6) nextest-probe tests::flaky_once"),
            LineEvent::TestDone {
                status: TestStatus::Flaky,
                done: 4,
                ..
            }
        ));
        assert_eq!(
            parse_line("  TRY 1 FAIL [   0.107s] (───) nextest-probe tests::flaky_once"),
            LineEvent::Other
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
            parse_line("     Summary [   2.840s] 6 tests run: 5 passed (1 slow, 1 flaky), 1 timed out, 0 skipped"),
            LineEvent::Summary
        );
        assert_eq!(parse_line("thread 'x' panicked at src/lib.rs:3:5:"), LineEvent::Other);
    }
}
