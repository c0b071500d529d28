//! orbsim's persistent state and how processes share it.
//!
//! One JSON file (`state.json`) under `ORBSIM_STATE`. Every command takes an exclusive lock on
//! `state.lock`, reads, changes, writes a temporary file and renames it over the old one, then
//! unlocks. A process killed at any point leaves either the old or the new state, never a torn
//! one; a killed lock holder's lock is released by the kernel.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::clock::{Clock, unix_ns_now};
use crate::scenario::{Scenario, SimSecs};
use orbctl::output::ImageSpec;

const FORMAT: u32 = 1;

/// A machine's state at one moment. `Gone` marks the end of its life (deleted or failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum MState {
    Creating,
    Provisioning,
    Starting,
    Running,
    Stopping,
    Stopped,
    Deleting,
    Gone,
}

impl MState {
    /// The word orbctl shows.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MState::Creating => "creating",
            MState::Provisioning => "provisioning",
            MState::Starting => "starting",
            MState::Running => "running",
            MState::Stopping => "stopping",
            MState::Stopped => "stopped",
            MState::Deleting => "deleting",
            MState::Gone => "deleted",
        }
    }

    /// Whether the machine occupies memory in this state.
    pub(crate) fn uses_memory(self) -> bool {
        matches!(
            self,
            MState::Creating | MState::Provisioning | MState::Starting | MState::Running | MState::Stopping
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Phase {
    pub at: SimSecs,
    pub state: MState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum CreateKind {
    Create,
    Clone,
    Import,
}

/// A create-class operation still under way in the "daemon".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Pending {
    pub kind: CreateKind,
    pub ends_at: SimSecs,
    /// Set when the operation is destined to fail (the machine then vanishes at `ends_at`).
    pub failure: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SimMachine {
    pub id: String,
    pub name: String,
    pub image: ImageSpec,
    pub username: String,
    pub ip_index: u32,
    /// States over simulated time, in order; the state at `t` is the last phase at or before `t`.
    pub timeline: Vec<Phase>,
    pub pending: Option<Pending>,
    /// Ended by `delete` (counted as a delete when it is gone).
    pub deleted: bool,
}

impl SimMachine {
    pub(crate) fn state_at(&self, t: SimSecs) -> MState {
        self.timeline
            .iter()
            .rev()
            .find(|p| p.at <= t)
            .or(self.timeline.first())
            .map(|p| p.state)
            .unwrap_or(MState::Gone)
    }

    /// When the timeline's last phase begins (the machine is settled from then on).
    pub(crate) fn settles_at(&self) -> SimSecs {
        self.timeline.last().map(|p| p.at).unwrap_or(0.0)
    }

    /// Replaces everything after `t` with `phases` (which must start at or after `t`).
    pub(crate) fn schedule(&mut self, t: SimSecs, phases: &[(SimSecs, MState)]) {
        self.timeline.retain(|p| p.at <= t);
        // Keep the timeline small: only the state in effect at `t` matters for the past.
        if self.timeline.len() > 1 {
            let current = self.timeline.len() - 1;
            self.timeline.drain(..current);
        }
        for &(at, state) in phases {
            self.timeline.push(Phase { at, state });
        }
    }
}

/// Why a create-class operation that was under way ended without a machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Tombstone {
    pub id: String,
    pub error: String,
}

/// OrbStack itself being stopped or started by a command.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub(crate) enum OrbEvent {
    Stop { at: SimSecs },
    Start { at: SimSecs, ready_at: SimSecs },
}

impl OrbEvent {
    pub(crate) fn at(&self) -> SimSecs {
        match *self {
            OrbEvent::Stop { at } | OrbEvent::Start { at, .. } => at,
        }
    }
}

/// Counters `orbsim stats` reports (see `docs/orbsim.md`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Counters {
    pub creates_started: u64,
    pub creates_finished: u64,
    pub creates_failed: u64,
    pub clones_started: u64,
    pub clones_finished: u64,
    pub imports_started: u64,
    pub imports_finished: u64,
    pub exports: u64,
    pub deletes: u64,
    pub hangs_injected: u64,
    pub transient_failures_injected: u64,
    pub kills_injected: u64,
    pub peak_concurrent_creates: u64,
    pub peak_memory_percent: f64,
    pub peak_swap_percent: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct State {
    pub format: u32,
    /// Wall-clock nanoseconds since the Unix epoch at simulated time 0.
    pub epoch_unix_ns: u64,
    pub time_scale: f64,
    pub seed: u64,
    /// Random draws made so far; call N uses the random stream N of `seed`.
    pub draws: u64,
    /// Simulated time up to which completions have been accounted.
    pub settled_at: SimSecs,
    pub next_ip: u32,
    pub machines: Vec<SimMachine>,
    pub default_id: Option<String>,
    /// `config set` values for OrbStack's own settings.
    pub config: BTreeMap<String, serde_json::Value>,
    pub orbstack: Vec<OrbEvent>,
    /// `[start, end)` of create-class operations that may still overlap future ones.
    pub live_creates: Vec<(SimSecs, SimSecs)>,
    /// Failures left in the current transient burst, per operation.
    pub bursts: BTreeMap<String, u32>,
    pub tombstones: Vec<Tombstone>,
    pub counters: Counters,
}

impl State {
    fn new(scenario: &Scenario) -> State {
        State {
            format: FORMAT,
            epoch_unix_ns: unix_ns_now() as u64,
            time_scale: scenario.time_scale,
            seed: scenario.seed,
            draws: 0,
            settled_at: 0.0,
            next_ip: 0,
            machines: Vec::new(),
            default_id: None,
            config: BTreeMap::new(),
            orbstack: Vec::new(),
            live_creates: Vec::new(),
            bursts: BTreeMap::new(),
            tombstones: Vec::new(),
            counters: Counters::default(),
        }
    }

    pub(crate) fn clock(&self) -> Clock {
        Clock::new(self.epoch_unix_ns as u128, self.time_scale)
    }
}

/// The state directory, opened by one process.
pub(crate) struct Store {
    dir: PathBuf,
    lock: File,
}

/// One locked read-modify-write of the state.
pub(crate) struct Txn<'a> {
    pub state: State,
    pub now: SimSecs,
    pub clock: Clock,
    pub scenario: &'a Scenario,
    pub store: &'a Store,
    dirty: bool,
    rng: Option<ChaCha8Rng>,
}

impl Txn<'_> {
    /// Marks the state as changed so it is written back.
    pub(crate) fn touch(&mut self) {
        self.dirty = true;
    }

    /// This call's random stream (keyed by seed and a call counter kept in the state).
    pub(crate) fn rng(&mut self) -> &mut ChaCha8Rng {
        let (seed, stream) = (self.state.seed, self.state.draws);
        if self.rng.is_none() {
            self.state.draws += 1;
            self.dirty = true;
        }
        self.rng.get_or_insert_with(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(stream);
            rng
        })
    }
}

/// What went wrong with orbsim's state directory.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("cannot create the orbsim state directory {}: {source}", .path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot {what} {}: {source}", .path.display())]
    Io {
        /// `open`, `lock`, `read`, `write`, `replace`, `reset`.
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("orbsim state {} is unreadable ({source}); remove the directory to start over", .path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("orbsim state {} has format {found}, this orbsim writes {FORMAT}; use a fresh ORBSIM_STATE", .path.display())]
    Format { path: PathBuf, found: u32 },
    #[error(
        "orbsim state {} runs at time_scale {state}, but the scenario says {scenario}; \
         use a fresh ORBSIM_STATE per scenario",
        .path.display()
    )]
    TimeScale { path: PathBuf, state: f64, scenario: f64 },
    #[error("cannot encode state: {0}")]
    Encode(#[source] serde_json::Error),
}

fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.into();
    move |source| StoreError::Io { what, path, source }
}

impl Store {
    pub(crate) fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir.join("machines")).map_err(|source| StoreError::Create {
            path: dir.to_path_buf(),
            source,
        })?;
        let lock_path = dir.join("state.lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("open", &lock_path))?;
        Ok(Store {
            dir: dir.to_path_buf(),
            lock,
        })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where machine `id` keeps its files (the root of its simulated filesystem).
    pub(crate) fn machine_dir(&self, id: &str) -> PathBuf {
        self.dir.join("machines").join(id)
    }

    fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// Runs `f` on the locked, settled state and writes it back if it changed.
    pub(crate) fn with<R>(&self, scenario: &Scenario, f: impl FnOnce(&mut Txn<'_>) -> R) -> Result<R, StoreError> {
        self.lock.lock().map_err(io("lock", self.dir.join("state.lock")))?;
        let result = self.locked(scenario, f);
        // Closing would unlock too; unlocking early lets waiting processes in sooner.
        let _ = self.lock.unlock();
        result
    }

    fn locked<R>(&self, scenario: &Scenario, f: impl FnOnce(&mut Txn<'_>) -> R) -> Result<R, StoreError> {
        let path = self.state_path();
        let (state, fresh) = match std::fs::read(&path) {
            Ok(bytes) => {
                let state: State = serde_json::from_slice(&bytes).map_err(|source| StoreError::Unreadable {
                    path: path.clone(),
                    source,
                })?;
                (state, false)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (State::new(scenario), true),
            Err(e) => return Err(io("read", &path)(e)),
        };
        if state.format != FORMAT {
            return Err(StoreError::Format {
                path,
                found: state.format,
            });
        }
        if state.time_scale != scenario.time_scale {
            return Err(StoreError::TimeScale {
                path,
                state: state.time_scale,
                scenario: scenario.time_scale,
            });
        }
        let clock = state.clock();
        let mut txn = Txn {
            now: clock.now(),
            clock,
            state,
            scenario,
            store: self,
            dirty: fresh,
            rng: None,
        };
        txn.settle();
        let out = f(&mut txn);
        if txn.dirty {
            self.write(&txn.state)?;
        }
        Ok(out)
    }

    /// Forgets every machine and counter (under the lock).
    pub(crate) fn wipe(&self) -> Result<(), StoreError> {
        self.lock.lock().map_err(io("lock", self.dir.join("state.lock")))?;
        let result = (|| {
            for sub in ["machines", "incoming"] {
                match std::fs::remove_dir_all(self.dir.join(sub)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            match std::fs::remove_file(self.state_path()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            std::fs::create_dir_all(self.dir.join("machines"))
        })()
        .map_err(io("reset", &self.dir));
        let _ = self.lock.unlock();
        result
    }

    fn write(&self, state: &State) -> Result<(), StoreError> {
        let path = self.state_path();
        let tmp = self.dir.join("state.json.tmp");
        let bytes = serde_json::to_vec(state).map_err(StoreError::Encode)?;
        let mut f = File::create(&tmp).map_err(io("write", &tmp))?;
        f.write_all(&bytes).map_err(io("write", &tmp))?;
        // No fsync: the goal is surviving killed processes, not power loss, and it keeps
        // every call in the low milliseconds.
        drop(f);
        std::fs::rename(&tmp, &path).map_err(io("replace", &path))
    }
}
