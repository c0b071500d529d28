//! The plan file `cargo orbtest shard plan` writes and `cargo orbtest --shard K/N --plan FILE`
//! reads: for each shard, for each tier, the tests it runs and its predicted time.
//!
//! ```json
//! {"schema": 1, "plan_id": "5f0c2a9e13b4", "count": 4,
//!  "history": {"runs": 12, "tests_known": 390, "tests_median": 10},
//!  "tiers": [{"name": "fast", "kind": "nextest", "threads": 2, "create_slots": null,
//!             "split": true, "median_ms": 40, "overhead_ms": 310}],
//!  "shards": [{"index": 1, "predicted_ms": 61230,
//!              "tiers": [{"name": "fast", "predicted_ms": 1200, "whole": false,
//!                         "tests": {"my-crate::integration": ["api::login", "api::logout"]}}]}]}
//! ```
//!
//! A test's id is `group::name`: for nextest the group is the binary id; for a command tier it
//! is the test id its `list` command printed, split at the first `::`. A tier that cannot be
//! split (a command tier without `list` and `{tests}`) is `"whole": true` in exactly one shard.
//! The same inputs give the same file byte for byte, and `plan_id` is a hash of its content.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub(crate) const SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    pub schema: u32,
    pub plan_id: String,
    pub count: u32,
    pub history: PlanHistory,
    pub tiers: Vec<PlanTier>,
    pub shards: Vec<ShardPlan>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanHistory {
    /// Runs in the history the plan learned from.
    pub runs: u32,
    /// Tests with a duration from history.
    pub tests_known: u32,
    /// Tests without history, planned at their tier's median.
    pub tests_median: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanTier {
    pub name: String,
    /// nextest | command
    pub kind: String,
    /// Tests at once, as the prediction assumed.
    pub threads: u32,
    /// Create slots a machine tier's tests share (`None`: not a machine tier).
    pub create_slots: Option<u32>,
    /// Whether its tests are spread over shards (else the tier runs whole in one shard).
    pub split: bool,
    /// What a test without history was planned at.
    pub median_ms: u64,
    /// What the tier takes beyond its tests, charged to each shard that runs it.
    #[serde(default)]
    pub overhead_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardPlan {
    /// 1-based.
    pub index: u32,
    pub predicted_ms: u64,
    pub tiers: Vec<ShardTier>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardTier {
    pub name: String,
    pub predicted_ms: u64,
    /// The whole tier runs in this shard.
    #[serde(default)]
    pub whole: bool,
    /// group → names, both sorted.
    #[serde(default)]
    pub tests: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("cannot read the shard plan {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a shard plan: {detail}\n  = help: make one with `cargo orbtest shard plan --shards N --out {}`", .path.display(), .path.display())]
    Invalid { path: PathBuf, detail: String },
    #[error("{} is a plan for {plan} shards, but the run asks for shard {spec}\n  = help: pass --shard K/{plan}, or plan again with --shards {asked}", .path.display())]
    CountMismatch {
        path: PathBuf,
        plan: u32,
        spec: String,
        asked: u32,
    },
}

impl PlanFile {
    /// The file as written: pretty JSON with a final newline, `plan_id` computed.
    pub fn finish(mut self) -> Self {
        self.plan_id = String::new();
        let canonical = serde_json::to_string(&self).unwrap_or_default();
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(canonical.as_bytes());
        self.plan_id = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        self
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    pub fn read(path: &Path) -> Result<Self, PlanError> {
        let text = std::fs::read_to_string(path).map_err(|source| PlanError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let invalid = |detail: String| PlanError::Invalid {
            path: path.to_path_buf(),
            detail,
        };
        let plan: PlanFile = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        if plan.schema != SCHEMA {
            return Err(invalid(format!(
                "schema {} (this cargo orbtest reads schema {SCHEMA})",
                plan.schema
            )));
        }
        if plan.count == 0 || plan.shards.len() != plan.count as usize {
            return Err(invalid(format!(
                "it says {} shards but lists {}",
                plan.count,
                plan.shards.len()
            )));
        }
        for (i, s) in plan.shards.iter().enumerate() {
            if s.index as usize != i + 1 {
                return Err(invalid(format!("shard {} is listed as shard {}", i + 1, s.index)));
            }
        }
        Ok(plan)
    }

    pub fn shard(&self, index: u32) -> Option<&ShardPlan> {
        self.shards.get(index.checked_sub(1)? as usize)
    }

    /// Where each planned test of `tier` goes: full id → shard index.
    pub(crate) fn assignments(&self, tier: &str) -> BTreeMap<String, u32> {
        let mut out = BTreeMap::new();
        for s in &self.shards {
            for t in s.tiers.iter().filter(|t| t.name == tier) {
                for (group, names) in &t.tests {
                    for name in names {
                        out.insert(super::ids::join(group, name), s.index);
                    }
                }
            }
        }
        out
    }

    /// The shard a whole (unsplit) tier runs in.
    pub(crate) fn whole_tier_shard(&self, tier: &str) -> Option<u32> {
        self.shards
            .iter()
            .find(|s| s.tiers.iter().any(|t| t.name == tier && t.whole))
            .map(|s| s.index)
    }

    pub fn tier(&self, name: &str) -> Option<&PlanTier> {
        self.tiers.iter().find(|t| t.name == name)
    }
}
