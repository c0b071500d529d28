//! One shard's share of each tier in a run. With a plan, a test goes where the plan put it; a
//! test the plan does not know (added since) goes to the shard its hash names, and the run
//! says so. Without a plan, nextest tiers use nextest's own `slice:K/N` and command tiers the
//! same round robin over what their `list` prints.

use std::collections::HashMap;

use super::ids::{join, match_key};
use super::plan::PlanFile;
use super::spec::{ShardSpec, hash_shard};

/// What a tier runs in this shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TierShare {
    /// The whole tier.
    All,
    /// Exactly these tests (group, name); may be empty.
    Tests {
        tests: Vec<(String, String)>,
        /// Full ids of tests placed here by hash because the plan does not know them.
        newer: Vec<String>,
    },
    /// nextest's `--partition slice:K/N` (no plan).
    Slice,
    /// None of it: it runs whole in another shard.
    Elsewhere { shard: u32 },
}

/// The share of a tier whose tests are `listed` (in the runner's order), per `plan`.
pub(crate) fn by_plan(
    plan: &PlanFile,
    spec: ShardSpec,
    tier: &str,
    command: bool,
    listed: &[(String, String)],
) -> TierShare {
    if let Some(whole) = plan.whole_tier_shard(tier) {
        return whole_in(whole, spec);
    }
    let key = |id: &str| if command { match_key(id) } else { id.to_string() };
    let assigned: HashMap<String, u32> = plan
        .assignments(tier)
        .into_iter()
        .map(|(id, shard)| (key(&id), shard))
        .collect();
    let mut tests = Vec::new();
    let mut newer = Vec::new();
    for (group, name) in listed {
        let id = join(group, name);
        let shard = match assigned.get(&key(&id)) {
            Some(&s) if s <= spec.count => s,
            _ => {
                let s = hash_shard(tier, &id, spec.count);
                if s == spec.index {
                    newer.push(id.clone());
                }
                s
            }
        };
        if shard == spec.index {
            tests.push((group.clone(), name.clone()));
        }
    }
    TierShare::Tests { tests, newer }
}

/// A tier that cannot be split and that the plan does not know: whole in its hash's shard.
pub(crate) fn unplanned_whole(tier: &str, spec: ShardSpec) -> TierShare {
    whole_in(hash_shard("", tier, spec.count), spec)
}

fn whole_in(shard: u32, spec: ShardSpec) -> TierShare {
    if shard == spec.index {
        TierShare::All
    } else {
        TierShare::Elsewhere { shard }
    }
}

/// Round robin over `listed` (a command tier's list, without a plan): test i goes to shard
/// i mod N + 1, as nextest's `slice:` does.
pub(crate) fn by_slice(spec: ShardSpec, listed: &[(String, String)]) -> TierShare {
    let tests = listed
        .iter()
        .enumerate()
        .filter(|(i, _)| (*i as u32 % spec.count) + 1 == spec.index)
        .map(|(_, t)| t.clone())
        .collect();
    TierShare::Tests {
        tests,
        newer: Vec::new(),
    }
}

pub(crate) use crate::tiers::nextest::filterset::filterset;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::planner::{TestInput, TierInput, Timing, plan};

    fn listed(names: &[&str]) -> Vec<(String, String)> {
        names.iter().map(|n| ("pkg::it".to_string(), n.to_string())).collect()
    }

    fn a_plan() -> PlanFile {
        let tier = TierInput {
            name: "it".into(),
            command: false,
            threads: 1,
            create_slots: None,
            split: true,
            tests: ["a", "b", "c", "d"]
                .iter()
                .enumerate()
                .map(|(i, n)| TestInput {
                    group: "pkg::it".into(),
                    name: n.to_string(),
                    timing: Some(Timing {
                        duration_ms: 100 * (i as u64 + 1),
                        create_ms: 0,
                    }),
                })
                .collect(),
            whole_ms: None,
            overhead_ms: 0,
        };
        plan(&[tier], 2, 1)
    }

    #[test]
    fn shards_partition_the_listed_tests_and_newcomers_go_by_hash() {
        let plan = a_plan();
        let now = listed(&["a", "b", "c", "d", "new1", "new2", "new3"]);
        let mut seen = Vec::new();
        let mut newer_total = 0;
        for k in 1..=2 {
            let spec = ShardSpec { index: k, count: 2 };
            let TierShare::Tests { tests, newer } = by_plan(&plan, spec, "it", false, &now) else {
                panic!("a split tier");
            };
            for n in &newer {
                assert_eq!(hash_shard("it", n, 2), k, "{n}");
            }
            newer_total += newer.len();
            seen.extend(tests);
        }
        seen.sort();
        let mut all = now.clone();
        all.sort();
        assert_eq!(seen, all, "each test in exactly one shard");
        assert_eq!(newer_total, 3);
        // A test the plan knows but that is gone is simply not run.
        let TierShare::Tests { tests, .. } =
            by_plan(&plan, ShardSpec { index: 1, count: 2 }, "it", false, &listed(&[]))
        else {
            panic!()
        };
        assert!(tests.is_empty());
    }

    #[test]
    fn slices_are_round_robin() {
        let now = listed(&["a", "b", "c", "d", "e"]);
        let TierShare::Tests { tests, .. } = by_slice(ShardSpec { index: 2, count: 2 }, &now) else {
            panic!()
        };
        assert_eq!(tests, listed(&["b", "d"]));
    }

    #[test]
    fn filtersets_select_by_binary_and_exact_name_with_escapes() {
        let tests = vec![
            ("pkg::it".to_string(), "m::a".to_string()),
            ("pkg".to_string(), "odd(1, 2)\\x".to_string()),
            ("pkg::it".to_string(), "m::b".to_string()),
        ];
        assert_eq!(
            filterset(&tests),
            r"(binary_id(=pkg) & (test(=odd(1\, 2\)\\x))) | (binary_id(=pkg::it) & (test(=m::a) | test(=m::b)))"
        );
        assert_eq!(filterset(&[]), "none()");
    }
}
