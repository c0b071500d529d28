//! `cargo orbtest report merge`: the reports of partitioned CI jobs (`-- --partition hash:k/N`)
//! combined into one run. Tiers are matched by name; counts add up; a tier failed if it failed
//! in any shard; the run spans from the earliest shard start to the latest shard end.

use std::time::{Duration, SystemTime};

use super::load::LoadedRun;
use super::summary::ShardActual;
use crate::results::{GateVerdict, MachineStats, ResourcePeaks, RunResult, TierOutcome, TierResult};

pub(crate) fn merge_runs(run_id: String, shards: &[LoadedRun]) -> RunResult {
    let runs: Vec<&RunResult> = shards.iter().map(|s| &s.run).collect();
    let started_at = runs
        .iter()
        .map(|r| r.started_at)
        .min()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let ended = runs
        .iter()
        .map(|r| r.started_at + r.duration)
        .max()
        .unwrap_or(started_at);

    let mut tiers: Vec<TierResult> = Vec::new();
    for t in runs.iter().flat_map(|r| &r.tiers) {
        match tiers.iter_mut().find(|m| m.name == t.name) {
            None => {
                let mut first = t.clone();
                first.nextest_exit = None;
                first.log = None;
                first.junit = None;
                tiers.push(first);
            }
            Some(m) => merge_tier(m, t),
        }
    }

    let mut versions: Vec<&str> = Vec::new();
    for r in &runs {
        if !versions.contains(&r.nextest_version.as_str()) {
            versions.push(&r.nextest_version);
        }
    }
    let errors: Vec<String> = runs
        .iter()
        .filter_map(|r| r.error.as_ref().map(|e| format!("shard {}: {e}", r.run_id)))
        .collect();

    let mut machines = MachineStats::default();
    for r in &runs {
        let m = &r.machines;
        machines.created += m.created;
        machines.cloned += m.cloned;
        machines.recovered += m.recovered;
        machines.retried += m.retried;
        machines.peak_concurrent_creates = machines.peak_concurrent_creates.max(m.peak_concurrent_creates);
        for name in &m.leftover {
            if !machines.leftover.contains(name) {
                machines.leftover.push(name.clone());
            }
        }
    }
    let max = |f: fn(&ResourcePeaks) -> Option<f64>| runs.iter().filter_map(|r| f(&r.resources)).reduce(f64::max);

    RunResult {
        run_id,
        invocation: Default::default(),
        started_at,
        duration: ended.duration_since(started_at).unwrap_or(Duration::ZERO),
        tiers,
        interrupted: runs.iter().find_map(|r| r.interrupted),
        error: (!errors.is_empty()).then(|| errors.join("\n")),
        nextest_version: versions.join(", "),
        machines,
        resources: ResourcePeaks {
            peak_memory_percent: max(|p| p.peak_memory_percent),
            peak_swap_percent: max(|p| p.peak_swap_percent),
        },
        gate: combined_gate(&runs),
        shard: None,
    }
}

fn merge_tier(into: &mut TierResult, t: &TierResult) {
    use TierOutcome::*;
    let outcome = match (into.outcome, t.outcome) {
        (Failed, _) | (_, Failed) => Failed,
        (Passed, _) | (_, Passed) => Passed,
        _ => Skipped,
    };
    // Keep the reason of the shard that decided the outcome.
    into.reason = match outcome {
        Passed => None,
        _ if outcome == into.outcome => into.reason.take().or_else(|| t.reason.clone()),
        _ => t.reason.clone(),
    };
    into.outcome = outcome;
    into.started_at = match (into.started_at, t.started_at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    // Shards run side by side: the tier took as long as its slowest shard.
    into.duration = into.duration.max(t.duration);
    into.tests.extend(t.tests.iter().cloned());
    into.counts.add(&t.counts);
    into.quarantined.extend(t.quarantined.iter().cloned());
}

/// Without re-evaluation (`report merge --gate`), the shards' verdicts: evaluated if any shard
/// evaluated it, passed only if every evaluating shard passed.
fn combined_gate(runs: &[&RunResult]) -> GateVerdict {
    let evaluated: Vec<&&RunResult> = runs.iter().filter(|r| r.gate.evaluated).collect();
    GateVerdict {
        evaluated: !evaluated.is_empty(),
        passed: !evaluated.is_empty() && evaluated.iter().all(|r| r.gate.passed),
        violations: evaluated
            .iter()
            .flat_map(|r| {
                r.gate
                    .violations
                    .iter()
                    .map(move |v| format!("shard {}: {v}", r.run_id))
            })
            .collect(),
    }
}

/// Each shard's predicted time (from its plan) against the time it took.
pub(crate) fn shard_times(shards: &[LoadedRun]) -> Vec<ShardActual> {
    let mut out: Vec<ShardActual> = shards
        .iter()
        .map(|s| ShardActual {
            run_id: s.run.run_id.clone(),
            shard: s.run.shard.as_ref().map(|i| i.spec.clone()),
            plan_id: s.run.shard.as_ref().and_then(|i| i.plan_id.clone()),
            predicted_ms: s.run.shard.as_ref().and_then(|i| i.predicted_ms),
            actual_ms: s.run.duration.as_millis() as u64,
        })
        .collect();
    // In shard order where known (`K/N` compares by K), else as given.
    out.sort_by_key(|s| {
        s.shard
            .as_deref()
            .and_then(|k| k.split('/').next()?.parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    });
    out
}

/// The merged report's per-shard table: predicted against actual, and the spread.
pub(crate) fn shard_table(shards: &[ShardActual]) -> String {
    use std::fmt::Write as _;
    if shards.iter().all(|s| s.shard.is_none()) {
        return String::new();
    }
    let ms = |v: u64| super::human_duration(Duration::from_millis(v));
    let mut out = format!(
        "\n {:<7} {:>10} {:>10} {:>7}  run\n",
        "shard", "predicted", "actual", "diff"
    );
    for s in shards {
        let diff = s
            .predicted_ms
            .filter(|p| *p > 0)
            .map(|p| format!("{:+.0}%", (s.actual_ms as f64 / p as f64 - 1.0) * 100.0))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            " {:<7} {:>10} {:>10} {:>7}  {}",
            s.shard.as_deref().unwrap_or("-"),
            s.predicted_ms.map_or_else(|| "-".to_string(), ms),
            ms(s.actual_ms),
            diff,
            s.run_id
        );
    }
    let actual: Vec<f64> = shards.iter().map(|s| s.actual_ms as f64).collect();
    let mean = actual.iter().sum::<f64>() / actual.len().max(1) as f64;
    let max = actual.iter().copied().fold(0.0, f64::max);
    if mean > 0.0 {
        let _ = writeln!(out, " slowest shard / mean: {:.2}", max / mean);
    }
    out
}

/// The same as markdown, for GitHub's step summary (empty without shard information).
pub(crate) fn shard_markdown(shards: &[ShardActual]) -> String {
    use std::fmt::Write as _;
    if shards.iter().all(|s| s.shard.is_none()) {
        return String::new();
    }
    let ms = |v: u64| super::human_duration(Duration::from_millis(v));
    let mut out = String::from("\n| shard | predicted | actual | run |\n| --- | ---: | ---: | --- |\n");
    for s in shards {
        let _ = writeln!(
            out,
            "| {} | {} | {} | `{}` |",
            s.shard.as_deref().unwrap_or("-"),
            s.predicted_ms.map_or_else(|| "-".to_string(), ms),
            ms(s.actual_ms),
            s.run_id.replace(['|', '`'], "")
        );
    }
    out
}
