//! The workspace's last runs, read from their `summary.json` under `runs/`: outcome, pass rate
//! and duration of each, for report.html's trend.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Runs the trend shows at most.
pub(crate) const TREND_RUNS: usize = 20;

/// One earlier (or this) run.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendPoint {
    pub run_id: String,
    /// passed | failed | gate-failed | error
    pub outcome: String,
    pub duration_ms: u64,
    pub passed: u64,
    /// Failed and timed out.
    pub failed: u64,
}

impl TrendPoint {
    /// Passed tests among those that ran (`None` when none ran).
    pub(crate) fn pass_rate(&self) -> Option<f64> {
        let ran = self.passed + self.failed;
        (ran > 0).then(|| self.passed as f64 / ran as f64)
    }
}

/// What of a summary.json the trend reads.
#[derive(Deserialize)]
struct Brief {
    run_id: String,
    outcome: String,
    duration_ms: u64,
    #[serde(default)]
    tiers: Vec<BriefTier>,
}

#[derive(Deserialize)]
struct BriefTier {
    tests: BriefCounts,
}

#[derive(Deserialize)]
struct BriefCounts {
    passed: u64,
    failed: u64,
    timed_out: u64,
}

/// Where the runs are for a report written in `dir`: `dir`'s parent when `dir` is a run's own
/// directory (`runs/<id>`), else `<dir>/../runs` (a `latest/` beside `runs/`).
pub(crate) fn runs_dir_for(dir: &Path) -> Option<PathBuf> {
    let parent = dir.parent()?;
    if parent.file_name().is_some_and(|n| n == "runs") {
        return Some(parent.to_path_buf());
    }
    let runs = parent.join("runs");
    runs.is_dir().then_some(runs)
}

/// The last `n` runs in `runs` up to and including `run_id` (run ids sort by time), oldest
/// first. Directories without a readable summary.json (the ledger, a run still going) are
/// left out.
pub(crate) fn read_trend(runs: &Path, run_id: &str, n: usize) -> Vec<TrendPoint> {
    let Ok(entries) = std::fs::read_dir(runs) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|id| id.as_str() <= run_id && !id.starts_with('.'))
        .collect();
    ids.sort();
    let mut out: Vec<TrendPoint> = Vec::new();
    for id in ids.iter().rev() {
        if out.len() == n {
            break;
        }
        let Ok(text) = std::fs::read_to_string(runs.join(id).join("summary.json")) else {
            continue;
        };
        let Ok(brief) = serde_json::from_str::<Brief>(&text) else {
            continue;
        };
        let (passed, failed) = brief.tiers.iter().fold((0, 0), |(p, f), t| {
            (p + t.tests.passed, f + t.tests.failed + t.tests.timed_out)
        });
        out.push(TrendPoint {
            run_id: brief.run_id,
            outcome: brief.outcome,
            duration_ms: brief.duration_ms,
            passed,
            failed,
        });
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(runs: &Path, id: &str, outcome: &str, passed: u64, failed: u64) {
        let dir = runs.join(id);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("summary.json"),
            format!(
                r#"{{"run_id":"{id}","outcome":"{outcome}","duration_ms":1000,"tiers":[{{"tests":{{"passed":{passed},"failed":{failed},"timed_out":0,"flaky":0,"skipped":0}}}}]}}"#
            ),
        )
        .unwrap();
    }

    #[test]
    fn the_last_runs_up_to_this_one_oldest_first() {
        let root = tempfile::tempdir().unwrap();
        let runs = root.path().join("runs");
        for (i, outcome) in ["passed", "failed", "passed", "passed"].iter().enumerate() {
            write(
                &runs,
                &format!("2027010{i}-000000-aaaaaa"),
                outcome,
                9,
                u64::from(*outcome == "failed"),
            );
        }
        std::fs::create_dir_all(runs.join("ledger")).unwrap();
        std::fs::create_dir_all(runs.join("20270109-000000-running")).unwrap();
        std::fs::write(runs.join("20270102-000000-aaaaaa/summary.json"), "{torn").unwrap();
        let points = read_trend(&runs, "20270103-000000-aaaaaa", 2);
        let ids: Vec<&str> = points.iter().map(|p| p.run_id.as_str()).collect();
        assert_eq!(
            ids,
            ["20270101-000000-aaaaaa", "20270103-000000-aaaaaa"],
            "the torn one is left out"
        );
        assert_eq!(points[0].pass_rate(), Some(0.9));
        assert_eq!(runs_dir_for(&runs.join("20270103-000000-aaaaaa")), Some(runs.clone()));
        assert_eq!(runs_dir_for(&root.path().join("latest")), Some(runs));
    }
}
