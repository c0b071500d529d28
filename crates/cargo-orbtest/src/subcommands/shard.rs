//! `cargo orbtest shard plan`: the tests of each tier (listed now, or from history), their
//! durations and machine cost from the ledger, spread over N shards; written as a plan file, a
//! GitHub Actions matrix, or a table of each shard's predicted time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{GlobalArgs, PlanArgs, PlanFormat, ShardAction, ShardArgs};
use crate::config::{Config, Tier};
use crate::errors::{Error, Result};
use crate::exit_code;
use crate::ledger::{self, Ledger, Line};
use crate::report::{human_duration, write_atomic};
use crate::shard::inputs::{HistoryTimings, splittable, tier_inputs};
use crate::shard::{PlanFile, planner};
use crate::tiers::nextest::{self, ForwardedArgs};
use crate::workspace::Workspace;

/// Create slots the plan assumes without `--create-slots` or `max_concurrent_creates`.
const DEFAULT_CREATE_SLOTS: u32 = 2;

pub(super) fn execute(global: &GlobalArgs, args: &ShardArgs) -> Result<i32> {
    match &args.action {
        ShardAction::Plan(plan) => plan_shards(global, plan),
    }
}

fn plan_shards(global: &GlobalArgs, args: &PlanArgs) -> Result<i32> {
    let (ws, config) = super::project::load(global)?;
    let tiers = crate::plan::selected_tiers(&config, args.tier.as_deref())?;
    let lines = history(&ws, &args.history)?;
    let timings = HistoryTimings::from_lines(&lines, &config);
    let listed = if args.no_build {
        BTreeMap::new()
    } else {
        list_now(global, &ws, &config, &tiers, &args.build_args)?
    };
    let cpus = args
        .cpus
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32));
    // Creates at once on the shard machines: the config's cap, else what --create-slots says,
    // else 2 (without a cap each host decides by its memory at run time).
    let slots = args
        .create_slots
        .or(config.machines.max_concurrent_creates)
        .unwrap_or(DEFAULT_CREATE_SLOTS);
    let inputs = tier_inputs(&tiers, &listed, &timings, cpus, slots);
    let plan = planner::plan(&inputs, args.shards, timings.runs);

    let table = table(&plan);
    if let Some(out) = &args.out {
        write_atomic(out, plan.to_json().as_bytes()).map_err(|e| Error::io("cannot write", out, e))?;
    }
    match args.format {
        PlanFormat::Json if args.out.is_none() => crate::out!("{}", plan.to_json()),
        PlanFormat::Json => {}
        PlanFormat::Github => crate::outln!("{}", github_matrix(&plan)),
        PlanFormat::Table => crate::out!("{table}"),
    }
    if args.format != PlanFormat::Table && !global.quiet {
        crate::err!("{table}");
    }
    if let Some(out) = &args.out
        && !global.quiet
    {
        crate::errln!("plan written to {}", out.display());
    }
    Ok(exit_code::PASSED)
}

/// The ledger lines to learn from: `--history` sources, else the workspace's ledger.
fn history(ws: &Workspace, sources: &[PathBuf]) -> Result<Vec<Line>> {
    let err = |e: ledger::LedgerError| Error::Infrastructure(e.to_string());
    if sources.is_empty() {
        return Ledger::of(&ws.orbtest_dir()).read().map_err(err);
    }
    let mut lines = Vec::new();
    for source in sources {
        let found = ledger::read_source(source).map_err(err)?;
        if found.is_empty() {
            crate::errln!(
                "warning: {}: no history here (no ledger.jsonl, ledger/ or summary.json)",
                source.display()
            );
        }
        lines.extend(found);
    }
    Ok(lines)
}

/// Each tier's tests as they are now: nextest tiers from a build and listing, command tiers
/// from their `list` command. Tiers that cannot be listed are left out (history decides).
fn list_now(
    global: &GlobalArgs,
    ws: &Workspace,
    config: &Config,
    tiers: &[&Tier],
    build_args: &[String],
) -> Result<BTreeMap<String, Vec<(String, String)>>> {
    let mut out = BTreeMap::new();
    let nextest_tiers: Vec<&Tier> = tiers.iter().copied().filter(|t| !t.is_command()).collect();
    if !nextest_tiers.is_empty() {
        nextest::check_version(&ws.cargo)?;
        if !global.quiet {
            crate::errln!("orbtest: building tests to list them (--no-build plans from history alone)");
        }
        let forwarded = ForwardedArgs::split(build_args)?;
        let (_, listings) = nextest::build_and_list(
            ws,
            config,
            &nextest_tiers,
            &forwarded.build,
            forwarded.profile.as_deref(),
            global.color.enabled(),
            global.verbose,
        )?;
        for listing in listings {
            out.insert(
                listing.tier,
                listing.tests.into_iter().map(|t| (t.binary_id, t.name)).collect(),
            );
        }
    }
    for tier in tiers.iter().filter(|t| t.is_command() && splittable(t)) {
        let scratch = tempfile::tempdir().map_err(|e| Error::io("cannot create", std::env::temp_dir(), e))?;
        let listed = crate::tiers::command::list::list_tests(tier, &config.dir(), scratch.path(), &[])
            .map_err(|e| Error::Infrastructure(e.to_string()))?;
        if let Some(tests) = listed {
            out.insert(tier.name.clone(), tests);
        }
    }
    Ok(out)
}

/// Each shard's predicted time, tests and per-tier time.
pub(super) fn table(plan: &PlanFile) -> String {
    let ms = |v: u64| human_duration(Duration::from_millis(v));
    let tier_names: Vec<&str> = plan.tiers.iter().map(|t| t.name.as_str()).collect();
    let mut rows: Vec<Vec<String>> = vec![{
        let mut h = vec!["shard".to_string(), "predicted".into(), "tests".into()];
        h.extend(tier_names.iter().map(|n| n.to_string()));
        h
    }];
    for s in &plan.shards {
        let tests: usize = s.tiers.iter().flat_map(|t| t.tests.values()).map(Vec::len).sum();
        let mut row = vec![
            format!("{}/{}", s.index, plan.count),
            ms(s.predicted_ms),
            tests.to_string(),
        ];
        for name in &tier_names {
            row.push(match s.tiers.iter().find(|t| &t.name == name) {
                Some(t) if t.whole => format!("{} (whole)", ms(t.predicted_ms)),
                Some(t) => ms(t.predicted_ms),
                None => "-".into(),
            });
        }
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i == 0 {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        let _ = writeln!(out, " {}", cells.join("  ").trim_end());
    }
    let times: Vec<f64> = plan.shards.iter().map(|s| s.predicted_ms as f64).collect();
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    let max = times.iter().copied().fold(0.0, f64::max);
    let _ = writeln!(
        out,
        " plan {}: {} shards, slowest/mean {:.2}; history: {} runs, {} tests timed, {} at their tier's median",
        plan.plan_id,
        plan.count,
        if mean > 0.0 { max / mean } else { 1.0 },
        plan.history.runs,
        plan.history.tests_known,
        plan.history.tests_median
    );
    out
}

/// `{"include":[{"shard":"1/4","index":1,"predicted":"1m 02s"},...]}` for `strategy.matrix`.
pub(super) fn github_matrix(plan: &PlanFile) -> String {
    let include: Vec<serde_json::Value> = plan
        .shards
        .iter()
        .map(|s| {
            serde_json::json!({
                "shard": format!("{}/{}", s.index, plan.count),
                "index": s.index,
                "predicted": human_duration(Duration::from_millis(s.predicted_ms)),
            })
        })
        .collect();
    serde_json::json!({ "include": include }).to_string()
}
