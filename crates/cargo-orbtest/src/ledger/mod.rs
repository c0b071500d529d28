//! The flake ledger: every test's attempts in every run, kept under the runs directory
//! (`<target-dir>/orbtest/runs/ledger/`, one JSONL file per run, `<run-id>.jsonl`).
//!
//! One file per run makes the ledger safe for runs finishing at once (no shared file to
//! lock), idempotent to merge (the same run imported twice is the same file) and easy to carry
//! between CI jobs: each run's report directory has its own lines as `ledger.jsonl`, `report
//! merge` joins the shards', and `cargo orbtest flaky --import DIR` (or `shard plan --history
//! DIR`) reads them from downloaded artifacts. The planner reads durations and machine cost
//! from it; `flaky`, the gate (`max_flake_rate`) and `new_test_runs` read the attempts, whose
//! blame (the test's, or the machine layer's) is the run's own (`lifecycle::blame`).

mod lines;
mod stats;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::report::BlameSummary;

pub use lines::{RunContext, lines_for_run};
pub use stats::{FailingAttempt, TestFlakes, add_flake_rates, flake_stats};

/// The ledger's directory under the runs directory.
pub(crate) const DIR_NAME: &str = "ledger";
/// A run's (or a merged report's) own lines in its report directory.
pub(crate) const RUN_FILE: &str = "ledger.jsonl";
/// Runs kept in the ledger; older files are removed when a run is added.
pub(crate) const KEEP_RUNS: usize = 500;

/// One line of a ledger file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Line {
    /// One test in one run of one tier.
    Test(TestLine),
    /// A tier as a whole in one run (the planner's cost for a tier it cannot split).
    Tier(TierLine),
}

impl Line {
    pub fn run_id(&self) -> &str {
        match self {
            Line::Test(t) => &t.run.run_id,
            Line::Tier(t) => &t.run.run_id,
        }
    }

    pub fn run(&self) -> &RunRef {
        match self {
            Line::Test(t) => &t.run,
            Line::Tier(t) => &t.run,
        }
    }
}

/// Which run a line belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRef {
    pub run_id: String,
    /// RFC 3339, when the run started; runs are ordered by it.
    pub started_at: String,
    /// `K/N` when the run was one shard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestLine {
    #[serde(flatten)]
    pub run: RunRef,
    pub tier: String,
    /// nextest's binary id; for a command tier, the part of its id before the first `::`.
    pub binary_id: String,
    pub name: String,
    /// passed | flaky | failed | timed-out
    pub status: String,
    /// Of the final attempt.
    pub duration_ms: u64,
    pub attempts: Vec<LedgerAttempt>,
    /// Machines the test made and the time their create-class calls took.
    #[serde(default, skip_serializing_if = "MachineCost::is_zero")]
    pub machines: MachineCost,
    /// It failed under a `[[quarantine]]` entry: it did not fail its tier.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub quarantined: bool,
}

impl TestLine {
    /// `binary-id::name`, as summary.json names tests.
    pub fn id(&self) -> String {
        crate::test_ids::join(&self.binary_id, &self.name)
    }
}

/// One attempt of a test, as summary.json's `attempts` describe them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerAttempt {
    pub n: u32,
    /// passed | failed | timed-out
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Only for failing attempts: `"test"` or `{"machines": "<reason>"}`, as summary.json
    /// (decided by `lifecycle::blame` from the run's journal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blame: Option<BlameSummary>,
}

impl LedgerAttempt {
    /// The machine layer failed this attempt.
    pub fn infra(&self) -> bool {
        matches!(self.blame, Some(BlameSummary::Machines(_)))
    }

    /// `test` or `machines: <reason>`.
    pub fn blame_text(&self) -> String {
        match &self.blame {
            Some(BlameSummary::Machines(reason)) => format!("machines: {reason}"),
            _ => "test".to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineCost {
    pub created: u64,
    /// Time of the test's create, clone and import calls (every attempt): work bounded by the
    /// run's create slots, not by test threads.
    pub create_ms: u64,
}

impl MachineCost {
    pub fn is_zero(&self) -> bool {
        self.created == 0 && self.create_ms == 0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierLine {
    #[serde(flatten)]
    pub run: RunRef,
    pub tier: String,
    /// passed | failed | skipped
    pub outcome: String,
    pub duration_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("cannot read the ledger at {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the ledger at {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: no ledger here (no *.jsonl, ledger.jsonl, ledger/ or summary.json)", .0.display())]
    NothingToImport(PathBuf),
}

/// The ledger of one workspace: a directory of per-run files.
#[derive(Debug, Clone)]
pub struct Ledger {
    pub dir: PathBuf,
}

/// What an import added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    pub runs_added: usize,
    pub runs_known: usize,
    pub lines: usize,
}

impl Ledger {
    /// `<orbtest-dir>/runs/ledger`.
    pub fn of(orbtest_dir: &Path) -> Self {
        Self {
            dir: orbtest_dir.join("runs").join(DIR_NAME),
        }
    }

    /// Adds one run's lines (all of the same run), replacing nothing that is there: a run is
    /// written once. Keeps at most [`KEEP_RUNS`] runs.
    pub fn add_run(&self, lines: &[Line]) -> Result<bool, LedgerError> {
        let Some(first) = lines.first() else {
            return Ok(false);
        };
        let write_err = |source| LedgerError::Write {
            path: self.dir.clone(),
            source,
        };
        orbtest_machines::files::ensure_private_dir(&self.dir).map_err(write_err)?;
        let path = self.dir.join(file_name(first.run_id()));
        if path.exists() {
            return Ok(false);
        }
        orbtest_machines::files::write_atomic(&path, to_jsonl(lines).as_bytes()).map_err(|source| {
            LedgerError::Write {
                path: path.clone(),
                source,
            }
        })?;
        self.prune();
        Ok(true)
    }

    /// Every line of every run, oldest run first. A missing ledger is an empty one; lines
    /// that do not parse (a torn write, a newer format) are skipped.
    pub fn read(&self) -> Result<Vec<Line>, LedgerError> {
        if !self.dir.exists() {
            return Ok(Vec::new());
        }
        read_dir_files(&self.dir).map(sort_by_run)
    }

    /// Adds the runs found at `sources` (ledger files, ledger directories, report directories
    /// or directories of downloaded artifacts holding those) that the ledger does not have.
    pub fn import(&self, sources: &[PathBuf]) -> Result<Imported, LedgerError> {
        let mut by_run: BTreeMap<String, Vec<Line>> = BTreeMap::new();
        for source in sources {
            let lines = read_source(source)?;
            if lines.is_empty() {
                return Err(LedgerError::NothingToImport(source.clone()));
            }
            for line in lines {
                by_run.entry(line.run_id().to_string()).or_default().push(line);
            }
        }
        let mut out = Imported::default();
        for lines in by_run.into_values() {
            let lines = dedup(lines);
            out.lines += lines.len();
            if self.add_run(&lines)? {
                out.runs_added += 1;
            } else {
                out.runs_known += 1;
            }
        }
        Ok(out)
    }

    fn prune(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        if files.len() <= KEEP_RUNS {
            return;
        }
        // Run ids start with their UTC start time: name order is age order.
        files.sort();
        for old in &files[..files.len() - KEEP_RUNS] {
            let _ = std::fs::remove_file(old);
        }
    }
}

/// Which tests the ledger has seen run, per tier (for `new_test_runs`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Seen {
    /// Runs in the ledger: with none, every test is new and `new_test_runs` stays off.
    pub runs: usize,
    tests: std::collections::HashSet<(String, String)>,
}

impl Seen {
    pub(crate) fn of(lines: &[Line]) -> Self {
        let mut runs = std::collections::HashSet::new();
        let mut tests = std::collections::HashSet::new();
        for line in lines {
            runs.insert(line.run_id());
            if let Line::Test(t) = line {
                tests.insert((t.tier.clone(), t.id()));
            }
        }
        Self {
            runs: runs.len(),
            tests,
        }
    }

    pub(crate) fn contains(&self, tier: &str, test: &str) -> bool {
        self.tests.contains(&(tier.to_string(), test.to_string()))
    }
}

/// Lines from a file or directory: a `.jsonl` file; or a directory with `*.jsonl` files, a
/// `ledger.jsonl`, a `ledger/` directory, a report (`summary.json`, `junit.xml`,
/// `journal.jsonl`, from before the ledger existed), or subdirectories holding those (CI
/// artifacts downloaded side by side).
pub(crate) fn read_source(path: &Path) -> Result<Vec<Line>, LedgerError> {
    let read_err = |source| LedgerError::Read {
        path: path.to_path_buf(),
        source,
    };
    if path.is_file() {
        let text = std::fs::read_to_string(path).map_err(read_err)?;
        return Ok(parse_jsonl(&text));
    }
    if !path.is_dir() {
        return Err(read_err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file or directory",
        )));
    }
    let mut lines = read_dir_files(path)?;
    if lines.is_empty() && path.join(DIR_NAME).is_dir() {
        lines = read_dir_files(&path.join(DIR_NAME))?;
    }
    if lines.is_empty() && path.join("summary.json").is_file() {
        lines = lines_from_report(path);
    }
    if lines.is_empty() {
        let mut subdirs: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(read_err)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        subdirs.sort();
        for sub in subdirs {
            let mut found = read_dir_files(&sub)?;
            if found.is_empty() && sub.join(DIR_NAME).is_dir() {
                found = read_dir_files(&sub.join(DIR_NAME))?;
            }
            if found.is_empty() && sub.join("summary.json").is_file() {
                found = lines_from_report(&sub);
            }
            lines.extend(found);
        }
    }
    Ok(sort_by_run(lines))
}

/// A report directory from before the ledger: its summary, JUnit and journal.
fn lines_from_report(dir: &Path) -> Vec<Line> {
    let Ok(loaded) = crate::report::load_run(dir) else {
        return Vec::new();
    };
    let ops = orbtest_machines::journal::JournalView::read(&dir.join("journal.jsonl"))
        .map(|v| v.ops)
        .unwrap_or_default();
    lines_for_run(&loaded.run, &ops, &RunContext::default())
}

fn read_dir_files(dir: &Path) -> Result<Vec<Line>, LedgerError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LedgerError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl") && p.is_file())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n != "journal.jsonl" && n != "timeline.jsonl")
        })
        .collect();
    files.sort();
    let mut lines = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| LedgerError::Read { path: file, source })?;
        lines.extend(parse_jsonl(&text));
    }
    Ok(lines)
}

fn parse_jsonl(text: &str) -> Vec<Line> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str::<Line>(l).ok())
        .collect()
}

pub fn to_jsonl(lines: &[Line]) -> String {
    let mut out = String::new();
    for line in lines {
        if let Ok(json) = serde_json::to_string(line) {
            out.push_str(&json);
            out.push('\n');
        }
    }
    out
}

/// Oldest run first (by start time, then id); a run's lines keep their order.
fn sort_by_run(mut lines: Vec<Line>) -> Vec<Line> {
    lines.sort_by(|a, b| (&a.run().started_at, a.run_id()).cmp(&(&b.run().started_at, b.run_id())));
    lines
}

/// The same run given twice (a shard's directory and the merged one): each line once.
fn dedup(lines: Vec<Line>) -> Vec<Line> {
    let mut seen = std::collections::HashSet::new();
    lines
        .into_iter()
        .filter(|l| seen.insert(serde_json::to_string(l).unwrap_or_default()))
        .collect()
}

/// A file name for a run id: run ids orbtest makes are safe; anything else is hashed.
fn file_name(run_id: &str) -> String {
    let safe = !run_id.is_empty()
        && run_id.len() <= 100
        && !run_id.starts_with('.')
        && run_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if safe {
        format!("{run_id}.jsonl")
    } else {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(run_id.as_bytes());
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        format!("x-{hex}.jsonl")
    }
}
