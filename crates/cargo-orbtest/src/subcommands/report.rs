//! `cargo orbtest report [--open] [RUN_ID]`: a past run's summary and its report.html;
//! `cargo orbtest report merge DIR...`: one report from the reports of partitioned CI jobs.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::cli::{GlobalArgs, ReportAction, ReportArgs};
use crate::errors::{Error, Result};
use crate::ledger::{self, Ledger};
use crate::report::{
    self, LoadedRun, Summary, create_private_dir, gate, github, html, load_run, merge, new_run_id, write_atomic,
};
use crate::view::Style;
use crate::workspace::Workspace;

pub(super) fn execute(global: &GlobalArgs, args: &ReportArgs) -> Result<i32> {
    match &args.action {
        Some(ReportAction::Merge {
            dirs,
            out,
            gate,
            no_history,
        }) => merge_shards(global, dirs, out, *gate, !*no_history),
        None => show(global, args),
    }
}

fn show(global: &GlobalArgs, args: &ReportArgs) -> Result<i32> {
    let color = global.color.enabled();
    let dir = find_run(global, args.run.as_deref())?;
    let loaded = load_run(&dir)?;
    let page = dir.join("report.html");
    // A run stopped before its reports were written (or from an older orbtest) has no page yet.
    if !page.exists() {
        report::write_html(&loaded.run, &dir, &loaded.merged_from)?;
    }
    if !global.quiet {
        crate::err!(
            "{}",
            crate::view::render_summary(&loaded.run, Style { color }, Some(&dir))
        );
    }
    crate::errln!(" report.html: {}", page.display());
    if args.open
        && let Err(why) = open_in_browser(&page)
    {
        crate::errln!("could not open a browser ({why}); open {} yourself", page.display());
    }
    Ok(crate::exit_code::PASSED)
}

/// The run directory `arg` names: a directory holding summary.json, or a run id (or unique
/// prefix) under `<target-dir>/orbtest/runs`; without `arg`, the newest run there.
fn find_run(global: &GlobalArgs, arg: Option<&str>) -> Result<PathBuf> {
    if let Some(a) = arg {
        let path = Path::new(a);
        if path.join("summary.json").is_file() {
            return Ok(path.to_path_buf());
        }
    }
    let ws = Workspace::discover(global.manifest_path.as_deref())?;
    let runs_dir = ws.orbtest_dir().join("runs");
    let mut runs: Vec<String> = std::fs::read_dir(&runs_dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().join("summary.json").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    // Run ids start with their UTC start time, so name order is age order.
    runs.sort();
    let Some(arg) = arg else {
        return runs.last().map(|id| runs_dir.join(id)).ok_or_else(|| {
            Error::Usage(format!(
                "no finished runs in {}: run `cargo orbtest` first",
                runs_dir.display()
            ))
        });
    };
    if runs.iter().any(|r| r == arg) {
        return Ok(runs_dir.join(arg));
    }
    let matching: Vec<&String> = runs.iter().filter(|r| r.starts_with(arg)).collect();
    match matching.as_slice() {
        [one] => Ok(runs_dir.join(one)),
        [] => Err(Error::Usage(format!(
            "no run `{arg}` in {} (and no directory `{arg}` with a summary.json){}",
            runs_dir.display(),
            runs.last()
                .map(|r| format!("; the newest run is {r}"))
                .unwrap_or_default()
        ))),
        many => Err(Error::Usage(format!(
            "`{arg}` matches {} runs ({}): give more of the id",
            many.len(),
            many.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Opens `path` with the platform's opener. Waits briefly so an opener that fails at once
/// (no browser, no display) is reported; one that keeps running is left to it.
fn open_in_browser(path: &Path) -> std::result::Result<(), OpenError> {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    use orbtest_process::{Invocation, Output, Sink, Stop, Supervision};
    // It is the user's browser from now on: not in our group, not killed with us.
    let supervision = Supervision::new()
        .timeout(Duration::from_secs(5))
        .stop(Stop::Leave)
        .in_our_group()
        .outlives_us();
    let output = Output::Redirect {
        stdout: Sink::Null,
        stderr: Sink::Null,
    };
    let exit = orbtest_process::run(&Invocation::new(opener).arg(path), &supervision, output)
        .map_err(|source| OpenError::Start { opener, source })?;
    if exit.timed_out || exit.success() {
        Ok(())
    } else {
        Err(OpenError::Failed {
            opener,
            how: exit.describe(),
        })
    }
}

/// Why the report could not be shown in a browser.
#[derive(Debug, thiserror::Error)]
enum OpenError {
    #[error("cannot run {opener}: {}", .source.io())]
    Start {
        opener: &'static str,
        #[source]
        source: orbtest_process::SuperviseError,
    },
    #[error("{opener} failed ({how})")]
    Failed { opener: &'static str, how: String },
}

/// A shard given twice (the same directory, or two copies of one run) would count its tests
/// twice: the merged totals would lie.
fn refuse_duplicates(dirs: &[PathBuf], shards: &[LoadedRun]) -> Result<()> {
    let mut seen: std::collections::BTreeMap<String, &Path> = std::collections::BTreeMap::new();
    for (dir, shard) in dirs.iter().zip(shards) {
        if let Some(first) = seen.insert(shard.run.run_id.clone(), dir) {
            let same = std::fs::canonicalize(first).ok() == std::fs::canonicalize(dir).ok();
            return Err(Error::Usage(format!(
                "run {} is given twice ({} and {}){}: each shard's report once",
                shard.run.run_id,
                first.display(),
                dir.display(),
                if same { ", the same directory" } else { "" }
            )));
        }
    }
    Ok(())
}

fn merge_shards(global: &GlobalArgs, dirs: &[PathBuf], out: &Path, regate: bool, history: bool) -> Result<i32> {
    let color = global.color.enabled();
    let shards: Vec<LoadedRun> = dirs.iter().map(|d| load_run(d)).collect::<Result<_>>()?;
    refuse_duplicates(dirs, &shards)?;
    let mut run = merge::merge_runs(new_run_id(SystemTime::now()), &shards);
    // Every shard's ledger lines: the merged history, so the next plan learns from all of them.
    let mut lines = Vec::new();
    for dir in dirs {
        match ledger::read_source(dir) {
            Ok(found) => lines.extend(found),
            Err(e) => crate::errln!("warning: {e}: that shard's history is missing from the merged ledger"),
        }
    }
    if regate {
        let (ws, config) = super::project::load(global)?;
        run.gate = gate::evaluate(&config.gate, &run);
        if config.gate.max_flake_rate.is_some() {
            let mut all = Ledger::of(&ws.orbtest_dir()).read().unwrap_or_default();
            all.extend(lines.iter().cloned());
            let mut verdict = std::mem::take(&mut run.gate);
            crate::ledger::add_flake_rates(&mut verdict, &config.gate, &run, &all);
            run.gate = verdict;
        }
    }
    create_private_dir(out)
        .or_else(|e| if out.is_dir() { Ok(()) } else { Err(e) })
        .map_err(|e| Error::io("cannot create", out, e))?;

    let merged_from: Vec<String> = shards.iter().map(|s| s.run.run_id.clone()).collect();
    let mut summary = Summary::from_run(&run);
    summary.merged_from = merged_from.clone();
    summary.shards = merge::shard_times(&shards);
    write(out, "summary.json", &summary.to_json())?;
    write(out, ledger::RUN_FILE, &ledger::to_jsonl(&lines))?;
    if history && !lines.is_empty() {
        add_to_ledger(global, out);
    }

    let shard_dirs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    let (junit, problems) = crate::junit::documents::merge_shards(&shard_dirs, run.duration);
    for p in &problems {
        crate::errln!("warning: {p}: its tests are missing from the merged junit.xml");
    }
    write(out, "junit.xml", &junit)?;

    let mut timelines = Vec::new();
    let mut ops = Vec::new();
    for s in &shards {
        timelines.push(report::timeline_for(
            &s.run,
            &s.dir,
            Some(format!("shard {}", s.run.run_id)),
        )?);
        ops.extend(report::ops_in(&s.dir)?);
    }
    let page = html::render(
        &run,
        &html::Extras {
            timelines: &timelines,
            ops: &ops,
            merged_from: &merged_from,
            shards: &summary.shards,
            trend: &[],
        },
    );
    write(out, "report.html", &page)?;

    if !global.quiet {
        crate::err!("{}", crate::view::render_summary(&run, Style { color }, Some(out)));
        crate::err!("{}", merge::shard_table(&summary.shards));
    }
    crate::errln!(" merged {} shard reports into {}", shards.len(), out.display());
    if github::in_actions()
        && let Err(e) = github::append_step_summary(&format!(
            "{}{}",
            github::step_summary(&run),
            merge::shard_markdown(&summary.shards)
        ))
    {
        crate::errln!("warning: cannot append to $GITHUB_STEP_SUMMARY: {e}");
    }
    Ok(run.exit_code())
}

/// The merged shards' runs into this workspace's ledger, when there is a workspace.
fn add_to_ledger(global: &GlobalArgs, merged: &Path) {
    let Ok((ws, _)) = super::project::load(global) else {
        crate::errln!(
            "note: no workspace here: the shards' history stays in {} (import it with `cargo orbtest flaky --import`)",
            merged.join(ledger::RUN_FILE).display()
        );
        return;
    };
    let ledger = Ledger::of(&ws.orbtest_dir());
    match ledger.import(&[merged.join(ledger::RUN_FILE)]) {
        Ok(added) if !global.quiet => crate::errln!(
            " history: {} shard runs added to {} ({} already there)",
            added.runs_added,
            ledger.dir.display(),
            added.runs_known
        ),
        Ok(_) => {}
        Err(e) => crate::errln!("warning: the shards' history was not added to the ledger: {e}"),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> Result<()> {
    let path = dir.join(name);
    write_atomic(&path, text.as_bytes()).map_err(|e| Error::io("cannot write", &path, e))
}
