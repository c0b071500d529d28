//! Which existing machines cleanup may delete, and why. A pure decision, so the safety rule can
//! be tested exhaustively: a machine is deleted only if an earlier, dead run journaled it as its
//! own, or its name starts with a configured test prefix — and never if it is protected, a
//! baseline, or owned by a live run.

use std::collections::{BTreeMap, BTreeSet};

use globset::{Glob, GlobSet, GlobSetBuilder};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ReapReason {
    /// Created by run `run_id`, which ended without deleting it (crashed or killed).
    Orphan { run_id: String },
    /// Its name starts with a cleanup prefix.
    Prefix { prefix: String },
}

impl std::fmt::Display for ReapReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReapReason::Orphan { run_id } => write!(f, "left behind by run {run_id}"),
            ReapReason::Prefix { prefix } => write!(f, "matches test prefix `{prefix}`"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum KeepReason {
    Protected {
        pattern: String,
    },
    Baseline,
    LiveRun {
        run_id: String,
    },
    /// Kept on purpose by a finished run (`--keep-machines`, `keep_on_failure`).
    Kept {
        run_id: String,
    },
}

impl std::fmt::Display for KeepReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeepReason::Protected { pattern } => write!(f, "protected by `{pattern}`"),
            KeepReason::Baseline => f.write_str("a baseline"),
            KeepReason::LiveRun { run_id } => write!(f, "owned by run {run_id}, which is still running"),
            KeepReason::Kept { run_id } => write!(
                f,
                "kept by run {run_id} on purpose (`cargo orbtest clean --kept` deletes it)"
            ),
        }
    }
}

/// What cleanup knows.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReapInput {
    /// Machines that exist now.
    pub existing: Vec<String>,
    /// Machines journaled as created (and not deleted) by runs that are no longer alive.
    pub orphans: BTreeMap<String, String>,
    /// Machines owned by runs that are alive (by machine: run id).
    pub live: BTreeMap<String, String>,
    /// Machines finished runs kept on purpose (by machine: run id).
    pub kept: BTreeMap<String, String>,
    pub prefixes: Vec<String>,
    pub baselines: BTreeSet<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ReapPlan {
    pub delete: Vec<(String, ReapReason)>,
    /// Candidates spared, with why (for `clean --dry-run` and doctor).
    pub keep: Vec<(String, KeepReason)>,
}

/// A protect list compiled once; names or globs (`work-*`).
pub(crate) struct Protect {
    patterns: Vec<String>,
    set: GlobSet,
}

impl Protect {
    pub(crate) fn new(patterns: &[String]) -> Result<Self, globset::Error> {
        let mut builder = GlobSetBuilder::new();
        for p in patterns {
            builder.add(Glob::new(p)?);
        }
        Ok(Self {
            patterns: patterns.to_vec(),
            set: builder.build()?,
        })
    }

    pub(crate) fn matching(&self, name: &str) -> Option<&str> {
        self.set.matches(name).first().map(|&i| self.patterns[i].as_str())
    }
}

pub(crate) fn plan(input: &ReapInput, protect: &Protect) -> ReapPlan {
    let mut out = ReapPlan::default();
    for name in &input.existing {
        let reason = if let Some(run_id) = input.orphans.get(name) {
            ReapReason::Orphan { run_id: run_id.clone() }
        } else if let Some(run_id) = input.kept.get(name) {
            out.keep
                .push((name.clone(), KeepReason::Kept { run_id: run_id.clone() }));
            continue;
        } else if let Some(prefix) = input
            .prefixes
            .iter()
            .find(|p| !p.is_empty() && name.starts_with(p.as_str()))
        {
            ReapReason::Prefix { prefix: prefix.clone() }
        } else {
            continue;
        };
        let keep = if let Some(pattern) = protect.matching(name) {
            Some(KeepReason::Protected {
                pattern: pattern.to_string(),
            })
        } else if input.baselines.contains(name) {
            Some(KeepReason::Baseline)
        } else {
            input
                .live
                .get(name)
                .map(|run_id| KeepReason::LiveRun { run_id: run_id.clone() })
        };
        match keep {
            Some(k) => out.keep.push((name.clone(), k)),
            None => out.delete.push((name.clone(), reason)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn input(existing: &[&str]) -> ReapInput {
        ReapInput {
            existing: existing.iter().map(|s| s.to_string()).collect(),
            prefixes: vec!["test-".into()],
            ..Default::default()
        }
    }

    #[test]
    fn deletes_prefixed_and_orphaned_machines_only() {
        let mut i = input(&["test-a", "dev-box", "scratch", "base"]);
        i.orphans.insert("scratch".into(), "run-1".into());
        i.baselines.insert("base".into());
        let p = plan(&i, &Protect::new(&[]).unwrap());
        assert_eq!(
            p.delete,
            [
                ("test-a".to_string(), ReapReason::Prefix { prefix: "test-".into() }),
                ("scratch".to_string(), ReapReason::Orphan { run_id: "run-1".into() })
            ]
        );
    }

    #[test]
    fn protected_baseline_and_live_machines_are_kept() {
        let mut i = input(&["test-keep", "test-base", "test-live"]);
        i.baselines.insert("test-base".into());
        i.live.insert("test-live".into(), "run-2".into());
        let p = plan(&i, &Protect::new(&["test-k*".into()]).unwrap());
        assert!(p.delete.is_empty());
        assert_eq!(p.keep.len(), 3);
    }

    fn name() -> impl Strategy<Value = String> {
        "(test-|e2e-|dev-|work-|t|)[a-c]{1,3}"
    }

    proptest! {
        /// Whatever the names, prefixes, protect lists and owners: nothing is deleted that is
        /// neither journaled by a dead run nor prefix-matched, and nothing protected, baseline or
        /// live-owned is deleted.
        #[test]
        fn never_deletes_what_is_not_ours(
            existing in prop::collection::vec(name(), 0..20),
            orphans in prop::collection::vec(name(), 0..5),
            live in prop::collection::vec(name(), 0..5),
            kept in prop::collection::vec(name(), 0..3),
            baselines in prop::collection::vec(name(), 0..3),
            prefixes in prop::collection::vec("(test-|e2e-|dev-|t)", 0..3),
            protect in prop::collection::vec("(dev-\\*|work-[a-c]|test-a\\*|[a-c]+)", 0..3),
        ) {
            let input = ReapInput {
                existing: existing.clone(),
                orphans: orphans.iter().map(|n| (n.clone(), "dead".to_string())).collect(),
                live: live.iter().map(|n| (n.clone(), "live".to_string())).collect(),
                kept: kept.iter().map(|n| (n.clone(), "kept".to_string())).collect(),
                prefixes: prefixes.clone(),
                baselines: baselines.iter().cloned().collect(),
            };
            let guard = Protect::new(&protect).unwrap();
            let p = plan(&input, &guard);
            for (m, _) in &p.delete {
                prop_assert!(existing.contains(m));
                prop_assert!(orphans.contains(m) || prefixes.iter().any(|pre| m.starts_with(pre.as_str())), "{m} is not ours");
                prop_assert!(guard.matching(m).is_none(), "{m} is protected");
                prop_assert!(!baselines.contains(m), "{m} is a baseline");
                prop_assert!(!input.live.contains_key(m), "{m} belongs to a live run");
                prop_assert!(orphans.contains(m) || !kept.contains(m), "{m} was kept on purpose");
            }
        }
    }
}
