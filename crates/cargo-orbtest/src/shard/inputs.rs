//! What the planner learns: each test's duration and machine cost from the ledger (the median
//! of its last few runs), and each tier's tests now (from listing them, or else from history).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::ids::{join, match_key};
use super::planner::{TestInput, TierInput, Timing};
use crate::config::{Config, Threads, Tier};
use crate::ledger::Line;

/// Runs of a test its timing is the median of.
const RECENT: usize = 5;
/// Without a listing, a tier's tests are those seen in its last this many runs.
const SEEN_RUNS: usize = 20;

/// One run of a test: when the run started, its timing, whether it passed.
type SeenTest<'a> = (&'a str, Timing, bool);

/// One run of a tier: when the run started, the tier's time, and its tests' sum of durations,
/// longest duration and sum of create time.
#[derive(Debug, Clone, Default)]
struct TierTimings {
    started_at: String,
    tier_ms: u64,
    sum_ms: u64,
    longest_ms: u64,
    create_ms: u64,
}

/// Timings by tier and test, from ledger lines.
#[derive(Debug, Clone, Default)]
pub(crate) struct HistoryTimings {
    /// (tier, key) → timing; key is the exact id for nextest tiers, the match key for command tiers.
    tests: HashMap<(String, String), Timing>,
    /// Tier → its median duration as a whole.
    whole: HashMap<String, u64>,
    /// Tier → per run (start, tier ms, Σ durations, longest, Σ create ms), for its overhead.
    tier_runs: BTreeMap<String, Vec<TierTimings>>,
    /// Tier → tests (group, name) seen in its recent runs, in order.
    recent: BTreeMap<String, BTreeSet<(String, String)>>,
    pub runs: u32,
}

impl HistoryTimings {
    pub(crate) fn from_lines(lines: &[Line], config: &Config) -> Self {
        let is_command = |tier: &str| config.tier(tier).is_some_and(Tier::is_command);
        // (tier, key) → (run start, timing, passed) per run.
        let mut per_test: BTreeMap<(String, String), Vec<SeenTest<'_>>> = BTreeMap::new();
        let mut per_tier: BTreeMap<String, Vec<(&str, u64)>> = BTreeMap::new();
        let mut runs = BTreeSet::new();
        let mut tier_runs: BTreeMap<String, BTreeSet<(&str, &str)>> = BTreeMap::new();
        for line in lines {
            runs.insert(line.run_id());
            match line {
                Line::Test(t) => {
                    let id = t.id();
                    let key = if is_command(&t.tier) { match_key(&id) } else { id };
                    let ok = matches!(t.status.as_str(), "passed" | "flaky");
                    per_test.entry((t.tier.clone(), key)).or_default().push((
                        &t.run.started_at,
                        Timing {
                            duration_ms: t.duration_ms,
                            create_ms: t.machines.create_ms,
                        },
                        ok,
                    ));
                    tier_runs
                        .entry(t.tier.clone())
                        .or_default()
                        .insert((&t.run.started_at, &t.run.run_id));
                }
                Line::Tier(t) if t.outcome != "skipped" => {
                    per_tier
                        .entry(t.tier.clone())
                        .or_default()
                        .push((&t.run.started_at, t.duration_ms));
                }
                Line::Tier(_) => {}
            }
        }
        let mut out = Self {
            runs: runs.len() as u32,
            ..Self::default()
        };
        // Tests of each tier's last SEEN_RUNS runs.
        let recent_runs: BTreeMap<String, BTreeSet<&str>> = tier_runs
            .into_iter()
            .map(|(tier, set)| {
                let ids: Vec<&str> = set.iter().map(|(_, id)| *id).collect();
                let keep = ids[ids.len().saturating_sub(SEEN_RUNS)..].iter().copied().collect();
                (tier, keep)
            })
            .collect();
        for line in lines {
            if let Line::Test(t) = line
                && recent_runs
                    .get(&t.tier)
                    .is_some_and(|r| r.contains(t.run.run_id.as_str()))
            {
                out.recent
                    .entry(t.tier.clone())
                    .or_default()
                    .insert((t.binary_id.clone(), t.name.clone()));
            }
        }
        for (key, mut seen) in per_test {
            seen.sort_by(|a, b| a.0.cmp(b.0));
            // Runs where it passed say how long it takes; failures only when there is nothing else.
            let good: Vec<Timing> = seen.iter().filter(|s| s.2).map(|s| s.1).collect();
            let pool: Vec<Timing> = if good.is_empty() {
                seen.iter().map(|s| s.1).collect()
            } else {
                good
            };
            let last = &pool[pool.len().saturating_sub(RECENT)..];
            out.tests.insert(key, median(last));
        }
        // Each run's tier time against its tests, for the tier's overhead.
        let mut runs_of: BTreeMap<(String, String), TierTimings> = BTreeMap::new();
        for line in lines {
            match line {
                Line::Tier(t) if t.outcome != "skipped" => {
                    let r = runs_of.entry((t.tier.clone(), t.run.run_id.clone())).or_default();
                    r.started_at.clone_from(&t.run.started_at);
                    r.tier_ms = t.duration_ms;
                }
                Line::Test(t) => {
                    let r = runs_of.entry((t.tier.clone(), t.run.run_id.clone())).or_default();
                    r.sum_ms += t.duration_ms;
                    r.longest_ms = r.longest_ms.max(t.duration_ms);
                    r.create_ms += t.machines.create_ms;
                }
                Line::Tier(_) => {}
            }
        }
        for ((tier, _), run) in runs_of {
            if run.tier_ms > 0 && run.sum_ms > 0 {
                out.tier_runs.entry(tier).or_default().push(run);
            }
        }
        for (tier, mut seen) in per_tier {
            seen.sort_by(|a, b| a.0.cmp(b.0));
            let mut last: Vec<u64> = seen[seen.len().saturating_sub(RECENT)..].iter().map(|s| s.1).collect();
            last.sort_unstable();
            out.whole.insert(tier, last[last.len() / 2]);
        }
        out
    }

    pub(crate) fn timing(&self, tier: &Tier, id: &str) -> Option<Timing> {
        let key = if tier.is_command() {
            match_key(id)
        } else {
            id.to_string()
        };
        self.tests.get(&(tier.name.clone(), key)).copied()
    }

    /// What `tier` took beyond its tests' predicted time, median of its last few runs.
    fn overhead_ms(&self, tier: &Tier, threads: u32, slots: Option<u32>) -> u64 {
        let Some(runs) = self.tier_runs.get(&tier.name) else {
            return 0;
        };
        let mut runs = runs.clone();
        runs.sort_by(|a, b| a.started_at.cmp(&b.started_at));
        let mut over: Vec<u64> = runs[runs.len().saturating_sub(RECENT)..]
            .iter()
            .map(|r| {
                let spread = r.sum_ms / u64::from(threads.max(1));
                let machines = slots.map_or(0, |s| r.create_ms / u64::from(s.max(1)));
                r.tier_ms.saturating_sub(spread.max(machines).max(r.longest_ms))
            })
            .collect();
        over.sort_unstable();
        over.get(over.len() / 2).copied().unwrap_or(0)
    }

    /// The tier's tests in its recent runs.
    pub(crate) fn recent_tests(&self, tier: &str) -> Vec<(String, String)> {
        self.recent
            .get(tier)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
}

fn median(timings: &[Timing]) -> Timing {
    let mut d: Vec<u64> = timings.iter().map(|t| t.duration_ms).collect();
    let mut c: Vec<u64> = timings.iter().map(|t| t.create_ms).collect();
    d.sort_unstable();
    c.sort_unstable();
    Timing {
        duration_ms: d.get(d.len() / 2).copied().unwrap_or(0),
        create_ms: c.get(c.len() / 2).copied().unwrap_or(0),
    }
}

/// Tests at once in a tier, given the CPUs of the machines that will run the shards.
pub(crate) fn resolve_threads(threads: Threads, cpus: u32) -> u32 {
    match threads {
        Threads::NumCpus => cpus.max(1),
        Threads::Count(n) if n > 0 => n as u32,
        Threads::Count(n) => cpus.saturating_sub(n.unsigned_abs() as u32).max(1),
    }
}

/// Whether a tier's tests can go to different shards: every nextest tier; a command tier that
/// can list its tests (`list`) and be told which to run (`{tests}`).
pub(crate) fn splittable(tier: &Tier) -> bool {
    match &tier.command {
        None => true,
        Some(c) => c.list.is_some() && c.takes_tests(),
    }
}

/// The planner's view of `tiers`: `listed` has each tier's tests now (group, name) when they
/// could be listed; otherwise the tier's tests are those of its recent runs. `cpus` and
/// `create_slots` are the shard machines' (for `threads = "num-cpus"` and machine tiers).
pub(crate) fn tier_inputs(
    tiers: &[&Tier],
    listed: &BTreeMap<String, Vec<(String, String)>>,
    history: &HistoryTimings,
    cpus: u32,
    create_slots: u32,
) -> Vec<TierInput> {
    tiers
        .iter()
        .map(|tier| {
            let ids = listed
                .get(&tier.name)
                .cloned()
                .unwrap_or_else(|| history.recent_tests(&tier.name));
            let tests = ids
                .iter()
                .map(|(group, name)| TestInput {
                    timing: history.timing(tier, &join(group, name)),
                    group: group.clone(),
                    name: name.clone(),
                })
                .collect();
            let threads = resolve_threads(tier.threads, cpus);
            let create_slots = tier.machines.then_some(create_slots);
            TierInput {
                name: tier.name.clone(),
                command: tier.is_command(),
                threads,
                create_slots,
                split: splittable(tier),
                tests,
                whole_ms: history.whole.get(&tier.name).copied(),
                overhead_ms: history.overhead_ms(tier, threads, create_slots),
            }
        })
        .collect()
}
