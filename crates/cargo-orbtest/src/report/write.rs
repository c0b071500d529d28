//! Writing a run's files: summary.json, junit.xml and report.html, each atomically.

use std::path::{Path, PathBuf};

use super::{RunDir, Summary, html, journal, write_atomic};
use crate::errors::{Error, Result};
use crate::results::RunResult;

/// Writes summary.json, junit.xml and report.html into the run directory, then publishes them
/// to the report directory. Every file is written atomically: a failure leaves earlier copies
/// intact.
pub fn write_reports(run: &RunResult, dir: &RunDir) -> Result<()> {
    write_summary(run, dir)?;
    let junit_path = dir.file("junit.xml");
    let junit = crate::junit::documents::merge_tiers(run)
        .map_err(|e| Error::Infrastructure(format!("could not write merged JUnit: {e}")))?;
    write_atomic(&junit_path, junit.as_bytes()).map_err(|e| Error::io("cannot write", &junit_path, e))?;
    write_html(run, &dir.path, &[])?;
    scrub(dir)?;
    dir.publish()
        .map_err(|e| Error::io("cannot publish reports to", &dir.report_dir, e))
}

/// The last pass over every file of the run directory, whoever wrote it (nextest, a command
/// tier's runner, the shim, us) and in whatever escaping: no secret is published.
fn scrub(dir: &RunDir) -> Result<()> {
    orbtest_machines::redact::global()
        .scrub_tree(&dir.path)
        .map_err(|e| Error::io("cannot mask secrets in", &dir.path, e))
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
    let trend = super::trend::runs_dir_for(dir)
        .map(|runs| super::trend::read_trend(&runs, &run.run_id, super::trend::TREND_RUNS))
        .unwrap_or_default();
    let page = html::render(
        run,
        &html::Extras {
            timelines: &timelines,
            ops: &ops,
            merged_from,
            shards: &[],
            trend: &trend,
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
pub fn ops_in(dir: &Path) -> Result<Vec<journal::JournalOp>> {
    let path = dir.join(journal::JOURNAL_FILE);
    journal::read_journal(&path).map_err(|e| Error::io("cannot read", &path, e))
}
