//! What a run tells the processes that call orbctl on its behalf (the shim in every test, the
//! Rust helper API) and the broker that serves them: written once by preflight as
//! `$ORBTEST_RUN_DIR/settings.json`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::admission::PressureLimits;
use crate::policy::Policy;
use crate::provider::OrbctlProvider;

pub const FILE_NAME: &str = "settings.json";

/// A baseline the shim may clone instead of creating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineRef {
    pub name: String,
    pub image: String,
    pub user: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    pub run_id: String,
    pub provider: String,
    /// The real orbctl (or the simulator's) and its `orb`: the only programs the shim ever
    /// executes.
    pub real_orbctl: PathBuf,
    pub real_orb: PathBuf,
    /// Environment it needs (orbsim's state and scenario).
    pub env: Vec<(String, String)>,
    /// orbsim's binary, for its pressure figures.
    pub sim_binary: Option<PathBuf>,
    /// The Mac's architecture as orbctl sees it (`arm64`, `amd64`; orbsim's scenario says),
    /// for answering `create --arch` at once; `None` when unknown.
    #[serde(default)]
    pub host_arch: Option<String>,
    pub policy: Policy,
    /// `max_concurrent_creates` when the config sets it; `None`: the host's headroom decides.
    #[serde(default)]
    pub max_concurrent_creates: Option<usize>,
    pub pressure: Option<PressureLimits>,
    /// Baselines matching creates are cloned from (`clone_for_create`).
    pub clone_from: Vec<BaselineRef>,
    /// Every baseline's name: tests may not delete them.
    #[serde(default)]
    pub baselines: Vec<String>,
    pub journal: PathBuf,
    /// The broker's socket; set when the broker listens.
    #[serde(default)]
    pub broker: Option<PathBuf>,
}

impl RunSettings {
    /// A run of `provider` through `real_orbctl` (and its `orb`), journaling to `journal`, with
    /// the default policy and nothing else: no environment, pressure limits, cap or baselines.
    pub fn new(run_id: &str, provider: &str, real_orbctl: PathBuf, real_orb: PathBuf, journal: PathBuf) -> Self {
        RunSettings {
            run_id: run_id.to_string(),
            provider: provider.to_string(),
            real_orbctl,
            real_orb,
            env: Vec::new(),
            sim_binary: None,
            host_arch: None,
            policy: Policy::default(),
            max_concurrent_creates: None,
            pressure: None,
            clone_from: Vec::new(),
            baselines: Vec::new(),
            journal,
            broker: None,
        }
    }

    pub fn write(&self, run_dir: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::files::write_atomic(&run_dir.join(FILE_NAME), &bytes)
    }

    pub fn read(run_dir: &Path) -> Result<Self, crate::files::ReadJsonError> {
        crate::files::read_json(&run_dir.join(FILE_NAME))
    }

    pub fn provider(&self) -> OrbctlProvider {
        OrbctlProvider::restore(
            &self.provider,
            self.real_orbctl.clone(),
            self.env
                .iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v)))
                .collect(),
            self.sim_binary.clone(),
        )
    }
}
