//! orbtest's own state for one provider, shared by every run against it (whatever the
//! workspace): `$ORBTEST_HOME` or `<user cache dir>/orbtest`, then `providers/<key>/`:
//!
//! ```text
//! run.lock             held by the run using the provider (one at a time by default)
//! run.lock.json        who holds it: pid, run id, workspace, since
//! runs/<run-id>/       one per run, private (0700): journal.jsonl, owner.lock (held while the
//!                      run is alive), the shim's bin/ and settings
//! slots/<n>.lock       cross-process create slots (the shim)
//! baselines.json       baselines we built: name → recipe hash
//! warmed.json          images already warmed
//! ```

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use orbtest_machines::files::{create_private_dir, write_atomic};

/// The root of orbtest's per-user state.
pub fn home() -> PathBuf {
    if let Some(dir) = std::env::var_os(crate::env::HOME).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::cache_dir().unwrap_or_else(std::env::temp_dir).join("orbtest")
}

#[derive(Debug, Clone)]
pub struct ProviderState {
    pub dir: PathBuf,
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
    _file: File,
    info: PathBuf,
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.info);
    }
}

/// A run's own directory; `owner.lock` is held for as long as the run lives.
#[derive(Debug)]
pub struct RunState {
    pub run_id: String,
    pub dir: PathBuf,
    _owner: File,
}

impl RunState {
    pub fn journal_path(&self) -> PathBuf {
        self.dir.join("journal.jsonl")
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct BaselineRecord {
    pub recipe: String,
    pub image: String,
    pub built_ms: u64,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl ProviderState {
    /// The state of provider `key` (e.g. `orbstack`, or `sim-<hash of its state dir>`).
    pub fn open(home: &Path, key: &str) -> std::io::Result<Self> {
        let dir = home.join("providers").join(key);
        // Private even if it already existed with looser permissions: locks and journals live here.
        create_private_dir(&dir)?;
        create_private_dir(&dir.join("runs"))?;
        Ok(Self { dir })
    }

    /// Takes the run lock at once, or says who holds it.
    pub fn try_lock(&self, me: &LockHolder) -> std::io::Result<Result<RunLock, Option<LockHolder>>> {
        let path = self.dir.join("run.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => {
                let info = self.dir.join("run.lock.json");
                write_atomic(&info, &serde_json::to_vec(me).unwrap_or_default())?;
                Ok(Ok(RunLock { _file: file, info }))
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(Err(self.holder())),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
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
        let text = std::fs::read(self.dir.join("run.lock.json")).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Creates this run's directory and holds its owner lock.
    pub fn start_run(&self, run_id: &str) -> std::io::Result<RunState> {
        let dir = self.dir.join("runs").join(run_id);
        create_private_dir(&dir)?;
        let owner = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("owner.lock"))?;
        owner.lock()?;
        Ok(RunState {
            run_id: run_id.to_string(),
            dir,
            _owner: owner,
        })
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
            let alive = is_alive(&entry.path());
            out.push((id, entry.path(), alive));
        }
        out.sort();
        Ok(out)
    }

    /// Removes the oldest dead runs beyond `keep`, except `unfinished` ones (whose journals
    /// still own machines).
    pub fn prune(&self, keep: usize, unfinished: &dyn Fn(&Path) -> bool) -> std::io::Result<usize> {
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

    pub fn baselines(&self) -> BTreeMap<String, BaselineRecord> {
        read_json(&self.dir.join("baselines.json")).unwrap_or_default()
    }

    pub fn set_baselines(&self, records: &BTreeMap<String, BaselineRecord>) -> std::io::Result<()> {
        write_json(&self.dir.join("baselines.json"), records)
    }

    pub fn warmed(&self) -> BTreeMap<String, u64> {
        read_json(&self.dir.join("warmed.json")).unwrap_or_default()
    }

    pub fn set_warmed(&self, warmed: &BTreeMap<String, u64>) -> std::io::Result<()> {
        write_json(&self.dir.join("warmed.json"), warmed)
    }
}

/// A run is alive while something holds its owner lock.
fn is_alive(run_dir: &Path) -> bool {
    let Ok(file) = OpenOptions::new().write(true).open(run_dir.join("owner.lock")) else {
        return false;
    };
    match file.try_lock() {
        Ok(()) => false,
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(_)) => false,
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
        let state = ProviderState::open(home.path(), "sim-x").unwrap();
        let first = state.try_lock(&me("a")).unwrap().expect("free");
        let holder = state.try_lock(&me("b")).unwrap().expect_err("taken");
        assert_eq!(holder.map(|h| h.run_id), Some("a".to_string()));
        drop(first);
        assert!(state.try_lock(&me("b")).unwrap().is_ok());
    }

    #[test]
    fn runs_are_alive_while_their_owner_lock_is_held() {
        let home = tempfile::tempdir().unwrap();
        let state = ProviderState::open(home.path(), "sim-x").unwrap();
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
        let state = ProviderState::open(home.path(), "sim-x").unwrap();
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
