//! Everything the run tells people and tools: the live view and progress lines, the terminal
//! summary, `summary.json`, the merged `junit.xml`, `report.html`, GitHub Actions output, the
//! release gate, and where those files go.

pub mod gate;
pub mod github;
pub mod html;
pub mod journal;
mod junit;
mod layout;
mod live;
mod load;
pub mod merge;
mod progress;
mod summary;
mod terminal;

use std::path::{Path, PathBuf};

pub use junit::merge as merge_junit;
pub use layout::{REPORT_FILES, RunDir, new_run_id};
pub use live::LiveView;
pub use load::{LoadedRun, load_run};
pub use orbtest_machines::files::{create_private_dir, write_atomic};
pub use progress::PlainProgress;
pub use summary::{
    CountsSummary, FailureSummary, GateSummary, MachinesSummary, ResourcesSummary, Summary, TierSummary,
};
pub use terminal::{Style, human_duration, render_summary};

use crate::errors::{Error, Result};
use crate::results::{RunResult, TestId};

/// Writes summary.json, junit.xml and report.html into the run directory, then publishes them
/// to the report directory. Every file is written atomically: a failure leaves earlier copies
/// intact.
pub fn write_reports(run: &RunResult, dir: &RunDir) -> Result<()> {
    write_summary(run, dir)?;
    let junit_path = dir.file("junit.xml");
    let junit = merge_junit(run).map_err(Error::Infrastructure)?;
    write_atomic(&junit_path, junit.as_bytes()).map_err(|e| Error::io("cannot write", &junit_path, e))?;
    write_html(run, &dir.path, &[])?;
    dir.publish()
        .map_err(|e| Error::io("cannot publish reports to", &dir.report_dir, e))
}

/// Writes the run directory's summary.json (atomically).
pub fn write_summary(run: &RunResult, dir: &RunDir) -> Result<()> {
    let summary = Summary::from_run(run).to_json();
    let path = dir.file("summary.json");
    write_atomic(&path, summary.as_bytes()).map_err(|e| Error::io("cannot write", &path, e))
}

/// Writes `dir/report.html` for `run`, charting `dir/timeline.jsonl` and tabulating the machine
/// operations in `dir/journal.jsonl` (both optional).
pub fn write_html(run: &RunResult, dir: &Path, merged_from: &[String]) -> Result<PathBuf> {
    let timelines = [timeline_for(run, dir, None)?];
    let ops = ops_in(dir)?;
    let page = html::render(
        run,
        &html::Extras {
            timelines: &timelines,
            ops: &ops,
            merged_from,
        },
    );
    let path = dir.join("report.html");
    write_atomic(&path, page.as_bytes()).map_err(|e| Error::io("cannot write", &path, e))?;
    Ok(path)
}

/// The run's resource timeline from `dir/timeline.jsonl`, with its tiers' spans.
pub fn timeline_for(run: &RunResult, dir: &Path, label: Option<String>) -> Result<html::Timeline> {
    let path = dir.join(crate::monitor::TIMELINE_FILE);
    let samples = crate::monitor::read_timeline(&path).map_err(|e| Error::io("cannot read", &path, e))?;
    let mut bands = html::bands_from_run(run);
    if bands.is_empty() {
        bands = html::bands_from_samples(&samples);
    }
    Ok(html::Timeline { label, samples, bands })
}

/// The machine operations recorded in `dir/journal.jsonl` (none without machine tiers).
pub fn ops_in(dir: &Path) -> Result<Vec<journal::OpRecord>> {
    let path = dir.join(journal::JOURNAL_FILE);
    journal::read_journal(&path).map_err(|e| Error::io("cannot read", &path, e))
}

/// The command that reruns one failed test of `tier` in `run`: a command tier (whose runner
/// orbtest cannot filter) is rerun whole.
pub fn rerun_in(run: &RunResult, tier: &str, id: &TestId) -> String {
    match run.tiers.iter().find(|t| t.name == tier) {
        Some(t) => rerun_for(t, id),
        None => rerun_command(tier, id),
    }
}

/// [`rerun_in`] for a tier at hand.
pub fn rerun_for(tier: &crate::results::TierResult, id: &TestId) -> String {
    if tier.command.is_some() {
        return format!("cargo orbtest --tier {} --ignore-needs", tier.name);
    }
    rerun_command(&tier.name, id)
}

/// The command that reruns one test of a nextest tier.
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
