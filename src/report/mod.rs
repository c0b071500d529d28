//! Everything the run tells people and tools: the terminal summary, `summary.json`, the merged
//! `junit.xml`, and where those files go.

mod junit;
mod layout;
mod progress;
mod summary;
mod terminal;

pub use crate::files::{create_private_dir, write_atomic};
pub use junit::merge as merge_junit;
pub use layout::{REPORT_FILES, RunDir, new_run_id};
pub use progress::PlainProgress;
pub use summary::{
    CountsSummary, FailureSummary, GateSummary, MachinesSummary, ResourcesSummary, Summary, TierSummary,
};
pub use terminal::{Style, human_duration, render_summary};

use crate::errors::{Error, Result};
use crate::results::{RunResult, TestId};

/// Writes summary.json and junit.xml into the run directory, then publishes them to the report
/// directory. Every file is written atomically: a failure leaves earlier copies intact.
pub fn write_reports(run: &RunResult, dir: &RunDir) -> Result<()> {
    let summary = Summary::from_run(run).to_json();
    let summary_path = dir.file("summary.json");
    write_atomic(&summary_path, summary.as_bytes()).map_err(|e| Error::io("cannot write", &summary_path, e))?;
    let junit_path = dir.file("junit.xml");
    let junit = merge_junit(run).map_err(Error::Infrastructure)?;
    write_atomic(&junit_path, junit.as_bytes()).map_err(|e| Error::io("cannot write", &junit_path, e))?;
    dir.publish()
        .map_err(|e| Error::io("cannot publish reports to", &dir.report_dir, e))
}

/// The command that reruns one test of a tier.
pub fn rerun_command(tier: &str, id: &TestId) -> String {
    let filter = format!("binary_id(={}) & test(={})", id.binary_id, id.name);
    format!(
        "cargo orbtest --tier {tier} --ignore-needs -- -E {}",
        shell_quote(&filter)
    )
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The part of a failed test's output worth showing: from the last panic message up to its
/// backtrace (at most `n` lines), else the last `n` lines.
pub fn failure_excerpt(output: &str, n: usize) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let Some(start) = lines.iter().rposition(|l| l.contains("panicked at")) else {
        return tail(output, n);
    };
    lines[start..]
        .iter()
        .take_while(|l| !l.starts_with("stack backtrace:") && !l.starts_with("note: run with `RUST_BACKTRACE"))
        .take(n)
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_shows_the_panic_not_the_backtrace() {
        let out = "running 1 test\nthread 't' panicked at src/lib.rs:4:62:\nboom\nstack backtrace:\n   0: frame";
        assert_eq!(
            failure_excerpt(out, 10),
            "thread 't' panicked at src/lib.rs:4:62:\nboom"
        );
        assert_eq!(failure_excerpt("a\nb\nc", 2), "b\nc");
    }
}
