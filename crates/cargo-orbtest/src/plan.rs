//! From config and command line to what runs: the selected tiers in file order, and the rule
//! that decides, as results come in, whether a tier may still run.

use crate::config::{Config, Tier, did_you_mean};
use crate::errors::{Error, Result};
use crate::results::{TierOutcome, TierResult};

/// What the command line asks for.
#[derive(Debug, Clone, Default)]
pub(crate) struct Selection {
    /// `--tier a,b`; `None` selects every tier.
    pub tiers: Option<Vec<String>>,
    /// `--ignore-needs`: run a tier even if its needs failed or are not part of this run.
    pub ignore_needs: bool,
    /// `--no-fail-fast`: after a failed tier, keep running tiers that do not need it.
    pub no_fail_fast: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub tiers: Vec<Tier>,
    pub ignore_needs: bool,
    pub no_fail_fast: bool,
}

impl Plan {
    pub(crate) fn new(config: &Config, selection: &Selection) -> Result<Self> {
        let tiers = selected_tiers(config, selection.tiers.as_deref())?
            .into_iter()
            .cloned()
            .collect();
        let plan = Self {
            tiers,
            ignore_needs: selection.ignore_needs,
            no_fail_fast: selection.no_fail_fast,
        };
        // A selection in which no tier could run, even if every tier passed, is a mistake in
        // the command line: a run that ran nothing must not pass in CI.
        if let Some(reason) = plan.nothing_could_run() {
            return Err(Error::Usage(format!("none of the selected tiers can run: {reason}")));
        }
        Ok(plan)
    }

    /// With every tier passing: `None` if some selected tier would run, else why the first is skipped.
    fn nothing_could_run(&self) -> Option<String> {
        let mut done: Vec<TierResult> = Vec::new();
        let mut first_reason = None;
        for tier in &self.tiers {
            match self.skip_reason(tier, &done) {
                None => return None,
                Some(reason) => {
                    first_reason.get_or_insert_with(|| format!("tier `{}` {reason}", tier.name));
                    done.push(TierResult::skipped(&tier.name, reason));
                }
            }
        }
        first_reason
    }

    pub(crate) fn uses_machines(&self) -> bool {
        self.tiers.iter().any(|t| t.machines)
    }

    /// Why `tier` must not run given the tiers that finished before it, or `None` to run it.
    pub(crate) fn skip_reason(&self, tier: &Tier, done: &[TierResult]) -> Option<String> {
        if !self.no_fail_fast
            && let Some(failed) = done.iter().find(|r| r.outcome == TierOutcome::Failed)
        {
            return Some(format!(
                "tier `{}` failed (pass --no-fail-fast to run the tiers that do not need it)",
                failed.name
            ));
        }
        if self.ignore_needs {
            return None;
        }
        for need in &tier.needs {
            match done.iter().find(|r| &r.name == need) {
                None => {
                    return Some(format!(
                        "needs `{need}`, which is not part of this run (add it with --tier {need},{} or pass --ignore-needs)",
                        tier.name
                    ));
                }
                Some(r) if r.outcome == TierOutcome::Failed => {
                    return Some(format!("needs `{need}`, which failed"));
                }
                Some(r) if r.outcome == TierOutcome::Skipped => {
                    return Some(format!("needs `{need}`, which was skipped"));
                }
                Some(_) => {}
            }
        }
        None
    }
}

/// The tiers `--tier a,b` names (all without it), in file order; an unknown name is a usage
/// error with a suggestion.
pub(crate) fn selected_tiers<'c>(config: &'c Config, names: Option<&[String]>) -> Result<Vec<&'c Tier>> {
    let Some(names) = names else {
        return Ok(config.tiers.iter().collect());
    };
    for name in names {
        if config.tier(name).is_none() {
            let hint = did_you_mean(name, config.tier_names())
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(Error::Usage(format!(
                "unknown tier `{name}` in --tier{hint}\n  = note: tiers in {}: {}",
                config.path().display(),
                config.tier_names().join(", ")
            )));
        }
    }
    // File order, whatever order the command line used.
    Ok(config.tiers.iter().filter(|t| names.contains(&t.name)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Source, parse};

    fn config() -> Config {
        parse(Source::new(
            "orchestrator.toml",
            "[tiers.fast]\n[tiers.integration]\nneeds = [\"fast\"]\n[tiers.e2e]\nneeds = [\"integration\"]\n[tiers.lint]\n",
        ))
        .unwrap()
    }

    fn result(name: &str, outcome: TierOutcome) -> TierResult {
        let mut r = TierResult::skipped(name, String::new());
        r.outcome = outcome;
        r
    }

    #[test]
    fn selection_keeps_file_order_and_rejects_unknown_tiers() {
        let c = config();
        let sel = Selection {
            tiers: Some(vec!["e2e".into(), "fast".into()]),
            ..Default::default()
        };
        let plan = Plan::new(&c, &sel).unwrap();
        assert_eq!(
            plan.tiers.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            ["fast", "e2e"]
        );
        let bad = Selection {
            tiers: Some(vec!["integ".into()]),
            ..Default::default()
        };
        let err = Plan::new(&c, &bad).unwrap_err().to_string();
        assert!(err.contains("unknown tier `integ`"), "{err}");
        assert!(err.contains("did you mean `integration`"), "{err}");
    }

    #[test]
    fn a_selection_where_no_tier_can_run_is_refused() {
        let c = config();
        let select = |names: &[&str], ignore_needs: bool| {
            Plan::new(
                &c,
                &Selection {
                    tiers: Some(names.iter().map(|n| n.to_string()).collect()),
                    ignore_needs,
                    ..Default::default()
                },
            )
        };
        let err = select(&["integration", "e2e"], false).unwrap_err();
        assert_eq!(err.exit_code(), crate::exit_code::USAGE);
        let text = err.to_string();
        assert!(
            text.contains("tier `integration` needs `fast`, which is not part of this run"),
            "{text}"
        );
        assert!(text.contains("--ignore-needs"), "{text}");
        // One tier that can run is enough; the others are skipped with their reason.
        assert!(select(&["e2e", "lint"], false).is_ok());
        assert!(select(&["integration"], true).is_ok());
    }

    #[test]
    fn needs_gate_later_tiers() {
        let c = config();
        let plan = Plan::new(&c, &Selection::default()).unwrap();
        let e2e = c.tier("e2e").unwrap();
        let integration = c.tier("integration").unwrap();
        assert!(plan.skip_reason(e2e, &[]).unwrap().contains("not part of this run"));
        let done = [
            result("fast", TierOutcome::Passed),
            result("integration", TierOutcome::Passed),
        ];
        assert_eq!(plan.skip_reason(e2e, &done), None);
        let done = [result("fast", TierOutcome::Failed)];
        assert!(plan.skip_reason(integration, &done).unwrap().contains("`fast` failed"));
    }

    #[test]
    fn no_fail_fast_still_respects_needs() {
        let c = config();
        let plan = Plan::new(
            &c,
            &Selection {
                no_fail_fast: true,
                ..Default::default()
            },
        )
        .unwrap();
        let done = [
            result("fast", TierOutcome::Failed),
            TierResult::skipped("integration", "needs".into()),
            TierResult::skipped("e2e", "needs".into()),
        ];
        assert_eq!(plan.skip_reason(c.tier("lint").unwrap(), &done), None);
        assert_eq!(
            plan.skip_reason(c.tier("integration").unwrap(), &done[..1]).as_deref(),
            Some("needs `fast`, which failed")
        );
        assert_eq!(
            plan.skip_reason(c.tier("e2e").unwrap(), &done[..2]).as_deref(),
            Some("needs `integration`, which was skipped")
        );
    }
}
