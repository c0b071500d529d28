//! `cargo orbtest flaky [--suggest]`: per test, its flake rate over its last runs in the
//! ledger, when it was first and last seen, and each failing attempt with whose fault it was
//! (the test, or the machine layer as the run's journal shows); `--suggest` prints
//! `[[quarantine]]` entries for tests over a threshold; `--import` adds CI artifacts first.

use std::fmt::Write as _;

use crate::cli::{FlakyArgs, GlobalArgs};
use crate::config::today;
use crate::errors::{Error, Result};
use crate::exit_code;
use crate::ledger::{Ledger, TestFlakes, flake_stats};

/// Threshold for `--suggest` without `--threshold` or `[gate] max_flake_rate`.
const DEFAULT_THRESHOLD: f64 = 0.1;

pub(super) fn execute(global: &GlobalArgs, args: &FlakyArgs) -> Result<i32> {
    let (ws, config) = super::project::load(global)?;
    let ledger = Ledger::of(&ws.orbtest_dir());
    if !args.import.is_empty() {
        let added = ledger
            .import(&args.import)
            .map_err(|e| Error::Infrastructure(e.to_string()))?;
        if !global.quiet {
            crate::errln!(
                "imported {} runs ({} already in the ledger, {} lines) into {}",
                added.runs_added,
                added.runs_known,
                added.lines,
                ledger.dir.display()
            );
        }
    }
    if let Some(t) = args.threshold
        && !(0.0..=1.0).contains(&t)
    {
        return Err(Error::Usage(format!(
            "--threshold {t}: a flake rate is a fraction from 0 to 1 (0.1 is 10%)"
        )));
    }
    let window = args.window.unwrap_or(config.gate.flake_window) as usize;
    let lines = ledger.read().map_err(|e| Error::Infrastructure(e.to_string()))?;
    let stats = flake_stats(&lines, window);
    let runs = {
        let mut ids: Vec<&str> = lines.iter().map(|l| l.run_id()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    };
    let shown: Vec<&TestFlakes> = stats.iter().filter(|s| args.all || !s.failing.is_empty()).collect();
    let threshold = args
        .threshold
        .or(config.gate.max_flake_rate)
        .unwrap_or(DEFAULT_THRESHOLD);

    if args.json {
        let tests: Vec<serde_json::Value> = shown.iter().map(|s| json(s)).collect();
        let doc = serde_json::json!({
            "ledger": ledger.dir.display().to_string(),
            "runs": runs,
            "window": window,
            "tests": tests,
        });
        crate::outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else if args.suggest {
        let text = crate::quarantine::suggestions(&stats, threshold, &config, &today());
        if text.is_empty() {
            crate::errln!(
                "no test has a flake rate over {:.0}% in its last {window} runs ({runs} runs in {})",
                threshold * 100.0,
                ledger.dir.display()
            );
        } else {
            crate::errln!(
                "# tests flaky in more than {:.0}% of their last {window} runs; add to {}:",
                threshold * 100.0,
                config.path().display()
            );
            crate::out!("{text}");
        }
    } else {
        crate::out!("{}", table(&shown, window, runs, &ledger.dir.display().to_string()));
    }
    Ok(exit_code::PASSED)
}

fn table(stats: &[&TestFlakes], window: usize, runs: usize, dir: &str) -> String {
    let mut out = String::new();
    if runs == 0 {
        let _ = writeln!(
            out,
            "the ledger at {dir} has no runs yet: every `cargo orbtest` run adds one (or import CI artifacts with --import DIR)"
        );
        return out;
    }
    if stats.is_empty() {
        let _ = writeln!(
            out,
            "no failing attempts in the last {window} runs of any test ({runs} runs in {dir})"
        );
        return out;
    }
    let _ = writeln!(
        out,
        " {:>5}  {:>5} {:>5} {:>6} {:>5}  {:<10}  {:<10}  test (tier)",
        "rate", "runs", "flaky", "failed", "infra", "first seen", "last seen"
    );
    for s in stats {
        let _ = writeln!(
            out,
            " {:>4.0}%  {:>5} {:>5} {:>6} {:>5}  {:<10}  {:<10}  {} ({})",
            s.rate * 100.0,
            s.runs,
            s.flaky,
            s.failed,
            s.infra,
            s.first_seen.get(..10).unwrap_or(&s.first_seen),
            s.last_seen.get(..10).unwrap_or(&s.last_seen),
            printable(&s.id),
            s.tier
        );
        for a in &s.failing {
            let _ = writeln!(
                out,
                "        run {} attempt {} {}: {}",
                a.run_id,
                a.n,
                a.status,
                if a.infra {
                    format!("infra ({})", a.blame)
                } else {
                    "test".to_string()
                }
            );
        }
    }
    let _ = writeln!(
        out,
        "\n rate: runs in which the test failed by its own fault and passed on a retry, of its last {window} runs;\n infra: runs whose failing attempts were all the machine layer's (not counted in the rate). {runs} runs in {dir}"
    );
    out
}

fn json(s: &TestFlakes) -> serde_json::Value {
    serde_json::json!({
        "test": s.id,
        "tier": s.tier,
        "runs": s.runs,
        "flaky": s.flaky,
        "failed": s.failed,
        "infra": s.infra,
        "quarantined": s.quarantined,
        "rate": s.rate,
        "first_seen": s.first_seen,
        "last_seen": s.last_seen,
        "failing_attempts": s.failing.iter().map(|a| serde_json::json!({
            "run_id": a.run_id,
            "started_at": a.started_at,
            "n": a.n,
            "status": a.status,
            "blame": if a.infra { serde_json::json!({"machines": a.blame.trim_start_matches("machines: ")}) } else { serde_json::json!("test") },
        })).collect::<Vec<_>>(),
    })
}

/// A name from the ledger as one terminal line: control characters shown as escapes.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
