//! What orbtest keeps about a provider's machines across runs — the run lock, which runs are
//! alive, their journals, the baselines it built and the images it warmed —
//! lives with the provider, not in orbtest's cache directory: every run against one provider
//! sees the same state whatever its `ORBTEST_HOME`, workspace or CI job. For orbsim it is under
//! the simulator's state directory (`<ORBSIM_STATE>/orbtest/`); for OrbStack, a fixed per-user
//! directory (`<data dir>/orbtest/orbstack`, e.g. `~/.local/share/orbtest/orbstack`).
//!
//! ```text
//! run.lock             held by the run using the provider (one at a time by default)
//! run.lock.json        who holds it: pid, run id, workspace, since
//! runs/<run-id>/       one per run, private (0700): journal.jsonl, owner.lock (held while the
//!                      run is alive), the shim's bin/ and settings, the broker's socket
//! baselines.json       baselines we built: name → recipe hash, machine id
//! warmed.json          images already warmed
//! demand.json          the last run's creates per image (what automatic baselines are made for)
//! ```
//!
//! How the lock and liveness are kept is the provider's choice ([`Liveness`]): file locks here,
//! which the kernel releases when a run dies; for Docker, whose machines may live on a remote
//! engine, labelled sentinel containers next to its machines (`super::docker`), which the
//! engine ends when a run dies. Docker's state directory is per engine and project
//! (`<data dir>/orbtest/docker/<hash>`): its journals and records, not its locks.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use orbtest_machines::files::{ensure_private_dir, write_atomic};

/// The root of orbtest's per-user cache (`$ORBTEST_HOME`, else the user's cache directory): the
/// simulator's default state and the links to it. Nothing about machines is kept here.
pub(crate) fn home() -> PathBuf {
    if let Some(dir) = std::env::var_os(crate::env::HOME).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::cache_dir().unwrap_or_else(std::env::temp_dir).join("orbtest")
}

/// Where orbtest keeps its state about the real OrbStack: one fixed place per user.
pub(crate) fn orbstack_state_dir() -> PathBuf {
    dirs::data_dir()
        .or_else(|| dirs::home_dir().map(|h| h.join(".local/share")))
        .unwrap_or_else(std::env::temp_dir)
        .join("orbtest")
        .join("orbstack")
}

/// Something held for as long as it lives: the run lock, or a run's liveness.
pub(crate) struct Hold(#[allow(dead_code)] Box<dyn Send + Sync>);

impl Hold {
    /// Holds `what` (dropped when the hold ends).
    pub(crate) fn new(what: impl Send + Sync + 'static) -> Self {
        Hold(Box::new(what))
    }
}

impl std::fmt::Debug for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hold")
    }
}

/// How a provider keeps its run lock and knows which runs are alive. Both must end with the
/// process that holds them, however it ends (a SIGKILLed run must read as dead).
pub(crate) trait Liveness: Send + Sync + std::fmt::Debug {
    /// The provider's run lock for `me`, at once; `None` when another run holds it.
    fn try_lock(&self, me: &LockHolder) -> std::io::Result<Option<Hold>>;
    /// Which run holds the lock, when the provider keeps that itself (else the state
    /// directory's `run.lock.json` says).
    fn holder(&self) -> Option<String> {
        None
    }
    /// Marks run `run_id` (its directory: `run_dir`) alive for as long as the hold lives.
    fn hold_run(&self, run_id: &str, run_dir: &Path) -> std::io::Result<Hold>;
    /// Whether run `run_id` is alive.
    fn is_alive(&self, run_id: &str, run_dir: &Path) -> bool;
}

/// File locks in the provider's state directory.
#[derive(Debug)]
pub(crate) struct FileLocks {
    dir: PathBuf,
}

impl Liveness for FileLocks {
    fn try_lock(&self, _me: &LockHolder) -> std::io::Result<Option<Hold>> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join("run.lock"))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Hold(Box::new(file)))),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    fn hold_run(&self, _run_id: &str, run_dir: &Path) -> std::io::Result<Hold> {
        let owner = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(run_dir.join("owner.lock"))?;
        owner.lock()?;
        Ok(Hold(Box::new(owner)))
    }

    fn is_alive(&self, _run_id: &str, run_dir: &Path) -> bool {
        let Ok(file) = OpenOptions::new().write(true).open(run_dir.join("owner.lock")) else {
            return false;
        };
        match file.try_lock() {
            Ok(()) => false,
            Err(std::fs::TryLockError::WouldBlock) => true,
            Err(std::fs::TryLockError::Error(_)) => false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProviderState {
    pub dir: PathBuf,
    liveness: Arc<dyn Liveness>,
}

/// Who holds the run lock, for the message a waiting run prints.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockHolder {
    pub pid: u32,
    pub run_id: String,
    pub workspace: String,
    pub since_ms: u64,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "run {} (pid {}, workspace {})",
            self.run_id, self.pid, self.workspace
        )
    }
}

/// The provider's run lock, released on drop (and by the OS if we die).
#[derive(Debug)]
pub struct RunLock {
    _hold: Hold,
    info: PathBuf,
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.info);
    }
}

/// A run's own directory; `owner.lock` is held for as long as the run lives.
#[derive(Debug)]
pub(crate) struct RunState {
    pub dir: PathBuf,
    _alive: Hold,
}

impl RunState {
    pub(crate) fn journal_path(&self) -> PathBuf {
        self.dir.join("journal.jsonl")
    }
}

/// A baseline record's `recipe` while its build has not finished (a crash mid-build leaves it).
pub(crate) const BUILDING: &str = "building";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct BaselineRecord {
    pub recipe: String,
    pub image: String,
    /// When the build started (while `recipe` says it is building) or finished.
    pub built_ms: u64,
    /// The machine's id once it was created: only that exact machine is the baseline (a
    /// machine someone makes under its name later is theirs). Records written before ids were
    /// kept have none: then a machine created after `built_ms` is not ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl BaselineRecord {
    /// Whether the machine with this id is the one this record describes. Without a recorded
    /// id: a build cut short made its machine after the build started; a finished one before it
    /// finished. An id that is not a ULID is never ours.
    pub(crate) fn is_machine(&self, id: &str) -> bool {
        let slack = orbtest_machines::journal::CLOCK_SLACK_MS;
        match &self.id {
            Some(known) => known == id,
            None => ulid::Ulid::from_string(id).is_ok_and(|u| {
                if self.recipe == BUILDING {
                    u.timestamp_ms() + slack >= self.built_ms
                } else {
                    u.timestamp_ms() <= self.built_ms + slack
                }
            }),
        }
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl ProviderState {
    /// The state kept in `dir` (created private, also when it existed with looser
    /// permissions: locks and journals live here), with file locks.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        let liveness = Arc::new(FileLocks { dir: dir.to_path_buf() });
        Self::with_liveness(dir, liveness)
    }

    /// The state kept in `dir`, with the provider's own lock and liveness.
    pub(crate) fn with_liveness(dir: &Path, liveness: Arc<dyn Liveness>) -> std::io::Result<Self> {
        ensure_private_dir(dir)?;
        ensure_private_dir(&dir.join("runs"))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            liveness,
        })
    }

    /// Takes the run lock at once, or says who holds it.
    pub(crate) fn try_lock(&self, me: &LockHolder) -> std::io::Result<Result<RunLock, Option<LockHolder>>> {
        match self.liveness.try_lock(me)? {
            Some(hold) => {
                let info = self.dir.join("run.lock.json");
                write_atomic(&info, &serde_json::to_vec(me).unwrap_or_default())?;
                Ok(Ok(RunLock { _hold: hold, info }))
            }
            None => Ok(Err(self.holder())),
        }
    }

    /// Waits for the run lock, calling `waiting` once with the holder before blocking.
    pub fn lock(&self, me: &LockHolder, waiting: impl FnOnce(Option<&LockHolder>)) -> std::io::Result<RunLock> {
        if let Ok(lock) = self.try_lock(me)? {
            return Ok(lock);
        }
        waiting(self.holder().as_ref());
        loop {
            if let Ok(lock) = self.try_lock(me)? {
                return Ok(lock);
            }
            if crate::signals::received().is_some() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::Interrupted,
                    "interrupted while waiting for the run lock",
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn holder(&self) -> Option<LockHolder> {
        let recorded: Option<LockHolder> = std::fs::read(self.dir.join("run.lock.json"))
            .ok()
            .and_then(|text| serde_json::from_slice(&text).ok());
        match self.liveness.holder() {
            // The provider knows the run; the file may be another host's, or stale.
            Some(run_id) => Some(recorded.filter(|h| h.run_id == run_id).unwrap_or(LockHolder {
                pid: 0,
                run_id,
                workspace: "?".into(),
                since_ms: 0,
            })),
            None => recorded,
        }
    }

    /// Creates this run's directory and marks the run alive.
    pub(crate) fn start_run(&self, run_id: &str) -> std::io::Result<RunState> {
        let dir = self.dir.join("runs").join(run_id);
        ensure_private_dir(&dir)?;
        let alive = self.liveness.hold_run(run_id, &dir)?;
        Ok(RunState { dir, _alive: alive })
    }

    /// Every run directory, oldest first, with whether its run is still alive.
    pub fn runs(&self) -> std::io::Result<Vec<(String, PathBuf, bool)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.dir.join("runs"))? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let id = entry.file_name().to_string_lossy().into_owned();
            let alive = self.liveness.is_alive(&id, &entry.path());
            out.push((id, entry.path(), alive));
        }
        out.sort();
        Ok(out)
    }

    /// Removes the oldest dead runs beyond `keep`, except `unfinished` ones (whose journals
    /// still own machines).
    pub(crate) fn prune(&self, keep: usize, unfinished: &dyn Fn(&Path) -> bool) -> std::io::Result<usize> {
        let runs = self.runs()?;
        let excess = runs.len().saturating_sub(keep);
        let mut removed = 0;
        for (_, path, alive) in runs.into_iter().take(excess) {
            if !alive && !unfinished(&path) {
                std::fs::remove_dir_all(&path)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Names of every baseline we know: configured or in the registry (never reaped).
    pub(crate) fn baseline_names(&self, configured: &[crate::config::Baseline]) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = self.baselines().into_keys().collect();
        names.extend(configured.iter().map(|b| b.name.clone()));
        names
    }

    pub fn baselines(&self) -> BTreeMap<String, BaselineRecord> {
        read_json(&self.dir.join("baselines.json")).unwrap_or_default()
    }

    pub(crate) fn set_baselines(&self, records: &BTreeMap<String, BaselineRecord>) -> std::io::Result<()> {
        write_json(&self.dir.join("baselines.json"), records)
    }

    pub(crate) fn warmed(&self) -> BTreeMap<String, u64> {
        read_json(&self.dir.join("warmed.json")).unwrap_or_default()
    }

    pub(crate) fn set_warmed(&self, warmed: &BTreeMap<String, u64>) -> std::io::Result<()> {
        write_json(&self.dir.join("warmed.json"), warmed)
    }

    /// How often the last run with machine tiers created machines from each image.
    pub fn demand(&self) -> Vec<orbtest_machines::broker::ImageDemand> {
        read_json(&self.dir.join("demand.json")).unwrap_or_default()
    }

    pub(crate) fn set_demand(&self, demand: &[orbtest_machines::broker::ImageDemand]) -> std::io::Result<()> {
        write_json(&self.dir.join("demand.json"), &demand)
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    let mut text = String::new();
    File::open(path).ok()?.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    bytes.write_all(b"\n")?;
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me(run: &str) -> LockHolder {
        LockHolder {
            pid: std::process::id(),
            run_id: run.into(),
            workspace: "/ws".into(),
            since_ms: now_ms(),
        }
    }

    #[test]
    fn one_run_holds_the_provider_at_a_time() {
        let home = tempfile::tempdir().unwrap();
        let state = ProviderState::open(&home.path().join("sim-x")).unwrap();
        let first = state.try_lock(&me("a")).unwrap().expect("free");
        let holder = state.try_lock(&me("b")).unwrap().expect_err("taken");
        assert_eq!(holder.map(|h| h.run_id), Some("a".to_string()));
        drop(first);
        assert!(state.try_lock(&me("b")).unwrap().is_ok());
    }

    #[test]
    fn runs_are_alive_while_their_owner_lock_is_held() {
        let home = tempfile::tempdir().unwrap();
        let state = ProviderState::open(&home.path().join("sim-x")).unwrap();
        let run = state.start_run("20260101-000000-aaaaaa").unwrap();
        state.start_run("20250101-000000-bbbbbb").map(drop).unwrap();
        let runs = state.runs().unwrap();
        assert_eq!(runs.len(), 2);
        assert!(!runs[0].2, "the older run's owner lock was released");
        assert!(runs[1].2, "the current run is alive");
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&run.dir).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn pruning_keeps_live_and_unfinished_runs() {
        let home = tempfile::tempdir().unwrap();
        let state = ProviderState::open(&home.path().join("sim-x")).unwrap();
        for i in 0..5 {
            state.start_run(&format!("2025010{i}-000000-000000")).map(drop).unwrap();
        }
        let live = state.start_run("20260101-000000-000000").unwrap();
        let unfinished = |p: &Path| p.ends_with("20250100-000000-000000");
        assert_eq!(state.prune(2, &unfinished).unwrap(), 3);
        let left: Vec<_> = state.runs().unwrap().into_iter().map(|r| r.0).collect();
        assert_eq!(
            left,
            [
                "20250100-000000-000000",
                "20250104-000000-000000",
                "20260101-000000-000000"
            ]
        );
        drop(live);
    }
}
