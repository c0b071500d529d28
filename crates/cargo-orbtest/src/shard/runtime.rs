//! A run that is one shard (`--shard K/N [--plan FILE]`): each tier's share, decided after
//! the build and before the first tier. nextest tiers with a plan get the tool config's
//! `default-filter` narrowed to exactly their share (so forwarded `-E` filters still intersect
//! with it); without a plan the run forwards nextest's `--partition slice:K/N`. Command tiers
//! get their share through `{tests}`.

use std::collections::BTreeMap;
use std::path::Path;

use super::inputs::splittable;
use super::plan::PlanFile;
use super::select::{TierShare, by_plan, by_slice, filterset, unplanned_whole};
use super::spec::{ShardSpec, hash_shard};
use crate::config::{Config, Tier};
use crate::errors::{Error, Result};
use crate::history::History;
use crate::report::RunDir;
use crate::results::ShardInfo;
use crate::tiers::nextest::{self, Built, ToolConfig};
use crate::workspace::Workspace;

/// What `--shard` asked for.
#[derive(Debug, Clone)]
pub(crate) struct ShardRequest {
    pub spec: ShardSpec,
    pub plan: Option<PlanFile>,
}

/// Each tier's share in this shard.
#[derive(Debug, Clone)]
pub(crate) struct Shares {
    pub spec: ShardSpec,
    tiers: BTreeMap<String, TierShare>,
    pub info: ShardInfo,
    /// Lines for the run to show before the tiers.
    pub notes: Vec<String>,
}

/// Names shown in a note before "and N more".
const SHOWN: usize = 10;

impl ShardRequest {
    /// Decides every tier's share; with a plan and nextest tiers, lists them (with the build's
    /// tool config) and rewrites the tool config so each tier selects only its share.
    pub(crate) fn prepare(
        &self,
        ws: &Workspace,
        config: &Config,
        tiers: &[Tier],
        dir: &RunDir,
        nextest: Option<&mut (ToolConfig, Built)>,
        profile: Option<&str>,
    ) -> Result<Shares> {
        let spec = self.spec;
        let mut shares = BTreeMap::new();
        let nextest_tiers: Vec<&Tier> = tiers.iter().filter(|t| !t.is_command()).collect();
        match (&self.plan, nextest) {
            (Some(plan), Some((tool_config, built))) if !nextest_tiers.is_empty() => {
                let names: Vec<&str> = nextest_tiers.iter().map(|t| t.name.as_str()).collect();
                let listings = nextest::list_each_tier(ws, tool_config, built, &names, &[])?;
                // #[ignore]d tests are in no plan; each goes to the shard its hash names, so
                // exactly one shard counts it as skipped (or runs it, with --run-ignored).
                let only = ["--run-ignored".to_string(), "only".to_string()];
                let ignored = nextest::list_each_tier(ws, tool_config, built, &names, &only)?;
                for (listing, ignored) in listings.into_iter().zip(ignored) {
                    let listed: Vec<(String, String)> =
                        listing.tests.into_iter().map(|t| (t.binary_id, t.name)).collect();
                    let mut share = by_plan(plan, spec, &listing.tier, false, &listed);
                    if let TierShare::Tests { tests, .. } = &mut share {
                        tests.extend(
                            ignored
                                .tests
                                .into_iter()
                                .filter(|t| hash_shard(&listing.tier, &t.to_string(), spec.count) == spec.index)
                                .map(|t| (t.binary_id, t.name)),
                        );
                    }
                    shares.insert(listing.tier.clone(), share);
                }
                *tool_config = narrowed_tool_config(ws, dir, &nextest_tiers, &shares, &tool_config.path, profile)?;
            }
            _ => {
                for t in &nextest_tiers {
                    shares.insert(t.name.clone(), TierShare::Slice);
                }
            }
        }
        for tier in tiers.iter().filter(|t| t.is_command()) {
            let share = if splittable(tier) {
                let listed = crate::tiers::command::list::list_tests(tier, &config.dir(), &dir.path, &[])
                    .map_err(|e| Error::Infrastructure(e.to_string()))?
                    .unwrap_or_default();
                match &self.plan {
                    Some(plan) => by_plan(plan, spec, &tier.name, true, &listed),
                    None => by_slice(spec, &listed),
                }
            } else {
                match &self.plan {
                    Some(plan) => match plan.whole_tier_shard(&tier.name) {
                        Some(k) if k == spec.index => TierShare::All,
                        Some(k) => TierShare::Elsewhere { shard: k },
                        None => unplanned_whole(&tier.name, spec),
                    },
                    // Without a plan a tier that cannot be split runs whole in shard 1.
                    None if spec.index == 1 => TierShare::All,
                    None => TierShare::Elsewhere { shard: 1 },
                }
            };
            shares.insert(tier.name.clone(), share);
        }

        let mut newer = Vec::new();
        for (tier, share) in &shares {
            if let TierShare::Tests { newer: n, .. } = share {
                newer.extend(n.iter().map(|id| format!("{tier}: {id}")));
            }
        }
        let mut notes = Vec::new();
        let how = match &self.plan {
            Some(plan) => format!("plan {}", plan.plan_id),
            None => "nextest's slice (no --plan)".to_string(),
        };
        let predicted = self
            .plan
            .as_ref()
            .and_then(|p| p.shard(spec.index))
            .map(|s| s.predicted_ms);
        notes.push(format!(
            "shard {spec}: running its share by {how}{}",
            predicted
                .map(|ms| format!(
                    ", predicted {}",
                    crate::report::human_duration(std::time::Duration::from_millis(ms))
                ))
                .unwrap_or_default()
        ));
        if !newer.is_empty() {
            let mut shown: Vec<&str> = newer.iter().take(SHOWN).map(String::as_str).collect();
            let more = newer.len().saturating_sub(SHOWN);
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            shown.sort_unstable();
            notes.push(format!(
                "shard {spec}: {} tests are newer than the plan and run here because their hash says so: {}{more}",
                newer.len(),
                shown.join(", ")
            ));
        }
        Ok(Shares {
            spec,
            info: ShardInfo {
                spec: spec.to_string(),
                plan_id: self.plan.as_ref().map(|p| p.plan_id.clone()),
                predicted_ms: predicted,
                newer_than_plan: newer,
            },
            tiers: shares,
            notes,
        })
    }
}

impl Shares {
    /// Why `tier` runs nothing in this shard, or `None` when it runs.
    pub(crate) fn nothing_here(&self, tier: &str) -> Option<String> {
        match self.tiers.get(tier)? {
            TierShare::Elsewhere { shard } => Some(format!(
                "nothing selected in shard {}: the tier runs whole in shard {shard}/{}",
                self.spec, self.spec.count
            )),
            TierShare::Tests { tests, .. } if tests.is_empty() => {
                Some(format!("nothing selected in shard {}", self.spec))
            }
            _ => None,
        }
    }

    /// The ids a command tier runs here (`{tests}`), or `None` for all of them.
    pub(crate) fn command_tests(&self, tier: &str) -> Option<Vec<String>> {
        match self.tiers.get(tier)? {
            TierShare::Tests { tests, .. } => Some(tests.iter().map(|(g, n)| super::ids::join(g, n)).collect()),
            _ => None,
        }
    }
}

/// The run's tool config again, each nextest tier's filter narrowed to its share.
fn narrowed_tool_config(
    ws: &Workspace,
    dir: &RunDir,
    tiers: &[&Tier],
    shares: &BTreeMap<String, TierShare>,
    path: &Path,
    profile: Option<&str>,
) -> Result<ToolConfig> {
    let narrowed: Vec<Tier> = tiers
        .iter()
        .map(|t| {
            let mut t = (*t).clone();
            if let Some(TierShare::Tests { tests, .. }) = shares.get(&t.name) {
                t.filter = format!("({}) & ({})", t.filter, filterset(tests));
            }
            t
        })
        .collect();
    let refs: Vec<&Tier> = narrowed.iter().collect();
    let history = History::load(&ws.orbtest_dir());
    let config = ToolConfig::generate(&refs, |t| dir.junit_path(t), &history, path, profile);
    orbtest_machines::files::write_atomic(path, config.text.as_bytes())
        .map_err(|e| Error::io("cannot write", path, e))?;
    Ok(config)
}
