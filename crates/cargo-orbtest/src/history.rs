//! How long each test took in earlier runs, kept per workspace in
//! `<target-dir>/orbtest/durations.json`. Tiers use it to start their slowest tests first
//! (nextest priorities), so a tier does not end with one long test running alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::results::{RunResult, TestStatus};

const FILE_NAME: &str = "durations.json";

/// tier → binary id → test name → milliseconds (the most recent run that ran the test).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct History {
    tiers: BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>>,
}

/// A test as nextest names it, with its last duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Timed {
    pub binary_id: String,
    pub name: String,
    pub millis: u64,
}

impl History {
    pub(crate) fn path(orbtest_dir: &Path) -> PathBuf {
        orbtest_dir.join(FILE_NAME)
    }

    /// The history on disk; empty when there is none or it cannot be read (it is only a hint).
    pub(crate) fn load(orbtest_dir: &Path) -> Self {
        std::fs::read(Self::path(orbtest_dir))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    pub(crate) fn save(&self, orbtest_dir: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        orbtest_machines::files::write_atomic(&Self::path(orbtest_dir), &bytes)
    }

    /// Adds `run`'s durations to the history on disk. Runs of one workspace may finish at the
    /// same time: the read-modify-write happens under a lock, so none loses the other's entries.
    pub(crate) fn update(orbtest_dir: &Path, run: &RunResult) -> std::io::Result<()> {
        std::fs::create_dir_all(orbtest_dir)?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(orbtest_dir.join("durations.lock"))?;
        lock.lock()?;
        let mut history = Self::load(orbtest_dir);
        history.record(run);
        history.save(orbtest_dir)
    }

    /// Takes the durations of every test that ran in `run`.
    pub(crate) fn record(&mut self, run: &RunResult) {
        for tier in run.tiers.iter().filter(|t| t.command.is_none()) {
            let binaries = self.tiers.entry(tier.name.clone()).or_default();
            for test in tier.tests.iter().filter(|t| t.status != TestStatus::Skipped) {
                binaries
                    .entry(test.id.binary_id.clone())
                    .or_default()
                    .insert(test.id.name.clone(), test.duration.as_millis() as u64);
            }
        }
    }

    /// The tier's known tests, slowest first.
    pub(crate) fn slowest_first(&self, tier: &str) -> Vec<Timed> {
        let mut out: Vec<Timed> = self
            .tiers
            .get(tier)
            .into_iter()
            .flat_map(|binaries| {
                binaries.iter().flat_map(|(binary_id, tests)| {
                    tests.iter().map(|(name, millis)| Timed {
                        binary_id: binary_id.clone(),
                        name: name.clone(),
                        millis: *millis,
                    })
                })
            })
            .collect();
        out.sort_by(|a, b| {
            b.millis
                .cmp(&a.millis)
                .then_with(|| (&a.binary_id, &a.name).cmp(&(&b.binary_id, &b.name)))
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{TestCounts, TestId, TestResult, TierOutcome, TierResult};
    use std::time::{Duration, SystemTime};

    fn tier(name: &str, tests: &[(&str, &str, u64, TestStatus)]) -> TierResult {
        let tests: Vec<TestResult> = tests
            .iter()
            .map(|(b, n, ms, status)| TestResult {
                id: TestId {
                    binary_id: b.to_string(),
                    name: n.to_string(),
                },
                status: *status,
                duration: Duration::from_millis(*ms),
                attempts: 1,
                message: None,
                output: None,
                attempt_log: Vec::new(),
            })
            .collect();
        TierResult {
            counts: TestCounts::of(&tests),
            tests,
            outcome: TierOutcome::Passed,
            ..TierResult::skipped(name, String::new())
        }
    }

    #[test]
    fn remembers_the_latest_durations_and_orders_slowest_first() {
        let mut h = History::default();
        let run = RunResult {
            run_id: "r".into(),
            invocation: Default::default(),
            started_at: SystemTime::now(),
            duration: Duration::ZERO,
            interrupted: None,
            error: None,
            nextest_version: String::new(),
            machines: Default::default(),
            resources: Default::default(),
            gate: Default::default(),
            shard: None,
            tiers: vec![tier(
                "it",
                &[
                    ("pkg::a", "quick", 10, TestStatus::Passed),
                    ("pkg::a", "slow", 900, TestStatus::Failed),
                    ("pkg::b", "medium", 300, TestStatus::Flaky),
                    ("pkg::b", "never_ran", 0, TestStatus::Skipped),
                ],
            )],
        };
        h.record(&run);
        let order: Vec<_> = h.slowest_first("it").into_iter().map(|t| (t.name, t.millis)).collect();
        assert_eq!(
            order,
            [("slow".into(), 900), ("medium".into(), 300), ("quick".into(), 10)]
        );
        assert!(h.slowest_first("other").is_empty());

        let dir = tempfile::tempdir().unwrap();
        h.save(dir.path()).unwrap();
        assert_eq!(History::load(dir.path()), h);
        std::fs::write(History::path(dir.path()), "not json").unwrap();
        assert_eq!(
            History::load(dir.path()),
            History::default(),
            "a damaged history is ignored"
        );
    }
}
