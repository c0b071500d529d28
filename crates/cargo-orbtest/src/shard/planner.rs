//! Spreading tests over N shards so that each shard's predicted time is as even as possible.
//!
//! A shard runs every tier in turn, so its time is the sum of its tiers' times. A tier's time
//! in a shard is predicted as the largest of
//! * its tests' durations over the tier's threads (tests run side by side),
//! * its tests' machine work (create, clone, import) over the create slots (machine creates
//!   queue for the slots, whatever the threads),
//! * its longest test (nothing finishes before it),
//!
//! plus what the tier took beyond its tests in earlier runs (nextest starting, the shim), for
//! each shard that runs any of its tests.
//!
//! Tests are placed longest first, each where it makes its shard's total the smallest (ties:
//! the shard with less so far, then the lower index); then single moves and swaps out of the
//! slowest shard are made while they lower it. Everything is ordered, so the same input gives
//! the same plan.

use std::collections::BTreeMap;

use super::plan::{PlanFile, PlanHistory, PlanTier, SCHEMA, ShardPlan, ShardTier};

/// A tier as the planner sees it.
#[derive(Debug, Clone)]
pub struct TierInput {
    pub name: String,
    pub command: bool,
    pub threads: u32,
    /// For machine tiers with `max_concurrent_creates`: the creates its tests may run at once.
    pub create_slots: Option<u32>,
    /// Its tests can go to different shards (else the tier is one unit).
    pub split: bool,
    /// Its tests now, each with its timing when history knows it.
    pub tests: Vec<TestInput>,
    /// For a tier that is not split: its own duration from history.
    pub whole_ms: Option<u64>,
    /// What the tier takes beyond its tests (nextest starting, a machine tier's shim), from
    /// history: charged to each shard that runs any of its tests.
    pub overhead_ms: u64,
}

#[derive(Debug, Clone)]
pub struct TestInput {
    pub group: String,
    pub name: String,
    pub timing: Option<Timing>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    pub duration_ms: u64,
    pub create_ms: u64,
}

/// Duration of a test when no test has any history.
pub(crate) const DEFAULT_MS: u64 = 1_000;

struct Unit {
    tier: usize,
    /// index into the tier's tests; `None` for a whole tier
    test: Option<usize>,
    d: u64,
    c: u64,
}

#[derive(Clone, Default)]
struct Load {
    units: u64,
    sum_d: u64,
    sum_c: u64,
    /// Durations of its units, as a multiset (for the longest one after a removal).
    ds: std::collections::BTreeMap<u64, u32>,
}

impl Load {
    /// The tier's predicted time with `add` added and `remove` taken out (either may be absent),
    /// without changing the load.
    fn time_with(&self, tier: &TierInput, add: Option<&Unit>, remove: Option<&Unit>) -> f64 {
        let units = self.units + u64::from(add.is_some()) - u64::from(remove.is_some());
        if units == 0 {
            return 0.0;
        }
        let sum_d = self.sum_d + add.map_or(0, |u| u.d) - remove.map_or(0, |u| u.d);
        let sum_c = self.sum_c + add.map_or(0, |u| u.c) - remove.map_or(0, |u| u.c);
        let mut longest = 0;
        let mut rev = self.ds.iter().rev();
        if let Some((&top, &n)) = rev.next() {
            longest = match remove {
                Some(r) if r.d == top && n == 1 => rev.next().map_or(0, |(&d, _)| d),
                _ => top,
            };
        }
        if let Some(a) = add {
            longest = longest.max(a.d);
        }
        let threads = f64::from(tier.threads.max(1));
        let machines = tier
            .create_slots
            .map_or(0.0, |slots| sum_c as f64 / f64::from(slots.max(1)));
        let overhead = if tier.split { tier.overhead_ms as f64 } else { 0.0 };
        (sum_d as f64 / threads).max(machines).max(longest as f64) + overhead
    }

    fn time(&self, tier: &TierInput) -> f64 {
        self.time_with(tier, None, None)
    }

    fn add(&mut self, u: &Unit) {
        self.units += 1;
        self.sum_d += u.d;
        self.sum_c += u.c;
        *self.ds.entry(u.d).or_default() += 1;
    }

    fn remove(&mut self, u: &Unit) {
        self.units -= 1;
        self.sum_d -= u.d;
        self.sum_c -= u.c;
        if let Some(n) = self.ds.get_mut(&u.d) {
            *n -= 1;
            if *n == 0 {
                self.ds.remove(&u.d);
            }
        }
    }
}

struct State<'a> {
    tiers: &'a [TierInput],
    /// shard → tier → load
    loads: Vec<Vec<Load>>,
    /// shard → its total now
    totals: Vec<f64>,
}

impl State<'_> {
    fn total(&self, shard: usize) -> f64 {
        self.totals[shard]
    }

    fn recompute(&mut self, shard: usize) {
        self.totals[shard] = self.loads[shard].iter().zip(self.tiers).map(|(l, t)| l.time(t)).sum();
    }

    /// The shard's total with `add` added and `remove` removed (nothing changes).
    fn total_with(&self, shard: usize, add: Option<&Unit>, remove: Option<&Unit>) -> f64 {
        let mut total = self.totals[shard];
        let loads = &self.loads[shard];
        match (add, remove) {
            (Some(a), Some(r)) if a.tier == r.tier => {
                let t = &self.tiers[a.tier];
                total += loads[a.tier].time_with(t, Some(a), Some(r)) - loads[a.tier].time(t);
            }
            _ => {
                for (u, adding) in add.map(|u| (u, true)).into_iter().chain(remove.map(|u| (u, false))) {
                    let t = &self.tiers[u.tier];
                    let after = if adding {
                        loads[u.tier].time_with(t, Some(u), None)
                    } else {
                        loads[u.tier].time_with(t, None, Some(u))
                    };
                    total += after - loads[u.tier].time(t);
                }
            }
        }
        total
    }

    fn add(&mut self, shard: usize, u: &Unit) {
        self.loads[shard][u.tier].add(u);
        self.recompute(shard);
    }

    fn remove(&mut self, shard: usize, u: &Unit) {
        self.loads[shard][u.tier].remove(u);
        self.recompute(shard);
    }
}

/// Plans `count` shards. `history_runs` is reported in the plan only.
pub fn plan(tiers: &[TierInput], count: u32, history_runs: u32) -> PlanFile {
    let count = count.max(1) as usize;
    let medians: Vec<Timing> = tiers.iter().map(|t| median_timing(t, tiers)).collect();
    let mut known = 0u32;
    let mut median_planned = 0u32;
    let mut units: Vec<Unit> = Vec::new();
    for (ti, tier) in tiers.iter().enumerate() {
        if tier.split {
            for (i, test) in tier.tests.iter().enumerate() {
                let timing = match test.timing {
                    Some(t) => {
                        known += 1;
                        t
                    }
                    None => {
                        median_planned += 1;
                        medians[ti]
                    }
                };
                units.push(Unit {
                    tier: ti,
                    test: Some(i),
                    // At least 1 ms: tests too quick to time still spread by count.
                    d: timing.duration_ms.max(1),
                    c: timing.create_ms,
                });
            }
        } else {
            let sum: u64 = tier
                .tests
                .iter()
                .map(|t| t.timing.unwrap_or(medians[ti]).duration_ms)
                .sum();
            let estimate = tier
                .whole_ms
                .unwrap_or_else(|| (sum / u64::from(tier.threads.max(1))).max(medians[ti].duration_ms));
            units.push(Unit {
                tier: ti,
                test: None,
                d: estimate,
                c: 0,
            });
        }
    }
    // Longest first; ties in file and name order, so the plan never depends on input order.
    let key = |u: &Unit| {
        let tier = &tiers[u.tier];
        let test = u.test.map(|i| (&tier.tests[i].group, &tier.tests[i].name));
        (std::cmp::Reverse(u.d), std::cmp::Reverse(u.c), u.tier, test)
    };
    units.sort_by(|a, b| key(a).cmp(&key(b)));

    let mut state = State {
        tiers,
        loads: vec![vec![Load::default(); tiers.len()]; count],
        totals: vec![0.0; count],
    };
    let mut place: Vec<usize> = vec![0; units.len()];
    for (ui, unit) in units.iter().enumerate() {
        let mut best = 0;
        let mut best_key = (f64::INFINITY, f64::INFINITY);
        for shard in 0..count {
            let after = state.total_with(shard, Some(unit), None);
            let before = state.total(shard);
            let k = (after, before);
            if k.0 < best_key.0 - 1e-9 || ((k.0 - best_key.0).abs() <= 1e-9 && k.1 < best_key.1 - 1e-9) {
                best = shard;
                best_key = k;
            }
        }
        state.add(best, unit);
        place[ui] = best;
    }
    improve(&mut state, &units, &mut place, count);

    let mut shards: Vec<ShardPlan> = (0..count)
        .map(|s| ShardPlan {
            index: s as u32 + 1,
            predicted_ms: state.total(s).round() as u64,
            tiers: Vec::new(),
        })
        .collect();
    for (s, shard) in shards.iter_mut().enumerate() {
        for (ti, tier) in tiers.iter().enumerate() {
            let mut tests: BTreeMap<String, Vec<String>> = BTreeMap::new();
            let mut whole = false;
            for (ui, unit) in units.iter().enumerate() {
                if place[ui] != s || unit.tier != ti {
                    continue;
                }
                match unit.test {
                    Some(i) => tests
                        .entry(tier.tests[i].group.clone())
                        .or_default()
                        .push(tier.tests[i].name.clone()),
                    None => whole = true,
                }
            }
            for names in tests.values_mut() {
                names.sort();
            }
            if whole || !tests.is_empty() {
                shard.tiers.push(ShardTier {
                    name: tier.name.clone(),
                    predicted_ms: state.loads[s][ti].time(tier).round() as u64,
                    whole,
                    tests,
                });
            }
        }
    }
    PlanFile {
        schema: SCHEMA,
        plan_id: String::new(),
        count: count as u32,
        history: PlanHistory {
            runs: history_runs,
            tests_known: known,
            tests_median: median_planned,
        },
        tiers: tiers
            .iter()
            .zip(&medians)
            .map(|(t, m)| PlanTier {
                name: t.name.clone(),
                kind: if t.command { "command" } else { "nextest" }.to_string(),
                threads: t.threads,
                create_slots: t.create_slots,
                split: t.split,
                median_ms: m.duration_ms,
                overhead_ms: t.overhead_ms,
            })
            .collect(),
        shards,
    }
    .finish()
}

/// Moves, then swaps, out of the slowest shard while the slowest shard gets faster.
fn improve(state: &mut State<'_>, units: &[Unit], place: &mut [usize], count: usize) {
    if count < 2 {
        return;
    }
    for _ in 0..units.len().min(500) {
        let totals: Vec<f64> = (0..count).map(|s| state.total(s)).collect();
        let (max_shard, max_total) = totals
            .iter()
            .copied()
            .enumerate()
            .fold((0, f64::MIN), |acc, (i, t)| if t > acc.1 + 1e-9 { (i, t) } else { acc });
        let mut best: Option<(f64, usize, usize, Option<usize>)> = None;
        let members: Vec<usize> = (0..units.len()).filter(|&u| place[u] == max_shard).collect();
        for &u in &members {
            let without = state.total_with(max_shard, None, Some(&units[u]));
            for other in (0..count).filter(|&s| s != max_shard) {
                // A move.
                let with = state.total_with(other, Some(&units[u]), None);
                let worst = without.max(with);
                if worst < max_total - 1e-6 && best.is_none_or(|b| worst < b.0 - 1e-9) {
                    best = Some((worst, u, other, None));
                }
                // A swap with a shorter unit there.
                for v in (0..units.len()).filter(|&v| place[v] == other && units[v].d < units[u].d) {
                    let here = state.total_with(max_shard, Some(&units[v]), Some(&units[u]));
                    let there = state.total_with(other, Some(&units[u]), Some(&units[v]));
                    let worst = here.max(there);
                    if worst < max_total - 1e-6 && best.is_none_or(|b| worst < b.0 - 1e-9) {
                        best = Some((worst, u, other, Some(v)));
                    }
                }
            }
        }
        let Some((_, u, other, swap)) = best else { break };
        state.remove(max_shard, &units[u]);
        state.add(other, &units[u]);
        place[u] = other;
        if let Some(v) = swap {
            state.remove(other, &units[v]);
            state.add(max_shard, &units[v]);
            place[v] = max_shard;
        }
    }
}

/// A tier's median test timing from history; the median over all tiers when it has none;
/// [`DEFAULT_MS`] when nothing has history.
fn median_timing(tier: &TierInput, all: &[TierInput]) -> Timing {
    let of = |tests: &mut dyn Iterator<Item = &TestInput>| {
        let mut known: Vec<Timing> = tests.filter_map(|t| t.timing).collect();
        if known.is_empty() {
            return None;
        }
        known.sort_by_key(|t| t.duration_ms);
        let d = known[known.len() / 2].duration_ms;
        let mut cs: Vec<u64> = known.iter().map(|t| t.create_ms).collect();
        cs.sort_unstable();
        Some(Timing {
            duration_ms: d,
            create_ms: cs[cs.len() / 2],
        })
    };
    of(&mut tier.tests.iter())
        .or_else(|| of(&mut all.iter().flat_map(|t| t.tests.iter())).map(|t| Timing { create_ms: 0, ..t }))
        .unwrap_or(Timing {
            duration_ms: DEFAULT_MS,
            create_ms: 0,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(name: &str, threads: u32, tests: &[(&str, &str, Option<u64>)]) -> TierInput {
        TierInput {
            name: name.into(),
            command: false,
            threads,
            create_slots: None,
            split: true,
            tests: tests
                .iter()
                .map(|(g, n, d)| TestInput {
                    group: g.to_string(),
                    name: n.to_string(),
                    timing: d.map(|d| Timing {
                        duration_ms: d,
                        create_ms: 0,
                    }),
                })
                .collect(),
            whole_ms: None,
            overhead_ms: 0,
        }
    }

    fn spread(plan: &PlanFile) -> f64 {
        let times: Vec<f64> = plan.shards.iter().map(|s| s.predicted_ms as f64).collect();
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        times.iter().copied().fold(0.0, f64::max) / mean
    }

    #[test]
    fn skewed_durations_come_out_even() {
        // Two binaries hold most of the time: a hash split would put them anywhere.
        let mut tests: Vec<(String, String, Option<u64>)> = Vec::new();
        for i in 0..40 {
            tests.push(("slow".into(), format!("s{i:02}"), Some(3_000 + i * 50)));
        }
        for i in 0..200 {
            tests.push(("quick".into(), format!("q{i:03}"), Some(20 + i % 7)));
        }
        let refs: Vec<(&str, &str, Option<u64>)> = tests.iter().map(|(g, n, d)| (g.as_str(), n.as_str(), *d)).collect();
        let plan = plan(&[tier("it", 2, &refs)], 4, 3);
        assert!(
            spread(&plan) <= 1.02,
            "{:?}",
            plan.shards.iter().map(|s| s.predicted_ms).collect::<Vec<_>>()
        );
        let planned: usize = plan
            .shards
            .iter()
            .flat_map(|s| &s.tiers)
            .flat_map(|t| t.tests.values())
            .map(Vec::len)
            .sum();
        assert_eq!(planned, 240, "every test in exactly one shard");
    }

    #[test]
    fn tests_without_history_get_the_median_and_a_unit_tier_stays_whole() {
        let mut t = tier(
            "py",
            1,
            &[("a", "x", Some(100)), ("a", "y", Some(300)), ("a", "new", None)],
        );
        t.split = false;
        t.command = true;
        let fast = tier("fast", 1, &[("b", "1", Some(200)), ("b", "2", None)]);
        let plan = plan(&[fast, t], 2, 1);
        assert_eq!(plan.tiers[0].median_ms, 200);
        assert_eq!(
            plan.history.tests_median, 1,
            "the unit tier's tests are not planned one by one"
        );
        let wholes: Vec<u32> = plan
            .shards
            .iter()
            .filter(|s| s.tiers.iter().any(|t| t.name == "py" && t.whole))
            .map(|s| s.index)
            .collect();
        assert_eq!(wholes.len(), 1);
    }

    #[test]
    fn machine_work_is_bounded_by_create_slots() {
        let mut t = tier("m", 8, &[]);
        t.create_slots = Some(1);
        for i in 0..8 {
            t.tests.push(TestInput {
                group: "m".into(),
                name: format!("t{i}"),
                timing: Some(Timing {
                    duration_ms: 1_000,
                    create_ms: 900,
                }),
            });
        }
        let plan = plan(&[t], 2, 1);
        // 4 tests per shard, 8 threads: 1 s if threads were all; 3.6 s of creates through one slot.
        assert_eq!(plan.shards[0].predicted_ms, 3_600);
        assert_eq!(plan.shards[1].predicted_ms, 3_600);
    }

    #[test]
    fn a_tiers_overhead_is_paid_by_each_shard_that_runs_it() {
        let mut big = tier("big", 1, &[("b", "1", Some(1_000)), ("b", "2", Some(1_000))]);
        big.overhead_ms = 500;
        let small = tier("small", 1, &[("s", "1", Some(100))]);
        let plan = plan(&[big, small], 2, 1);
        // Each shard runs one `big` test and pays its overhead; `small` goes with either.
        let times: Vec<u64> = plan.shards.iter().map(|s| s.predicted_ms).collect();
        assert_eq!(times.iter().sum::<u64>(), 2 * 1_500 + 100, "{times:?}");
    }
}
