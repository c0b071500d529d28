//! What a run tells the processes that call orbctl on its behalf (the shim in every test, the
//! Rust helper API): written once by preflight as `$ORBTEST_RUN_DIR/settings.json`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::admission::{CreateAdmission, PressureLimits, Slots};
use crate::client::Client;
use crate::journal::Journal;
use crate::policy::Policy;
use crate::provider::{OrbctlProvider, Provider};

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
    pub policy: Policy,
    pub max_concurrent_creates: usize,
    pub slots_dir: PathBuf,
    pub pressure: Option<PressureLimits>,
    /// Baselines matching creates are cloned from (`clone_for_create`).
    pub clone_from: Vec<BaselineRef>,
    pub journal: PathBuf,
}

impl RunSettings {
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

    /// The client a process of this run uses: the run's policy, every attempt journaled (with
    /// `test` as the caller), creates admitted through the shared slots and pressure limits.
    pub fn client(&self, journal: Arc<Journal>) -> Client {
        let provider: Arc<dyn Provider> = Arc::new(self.provider());
        let admission = CreateAdmission {
            slots: Slots::new(&self.slots_dir, self.max_concurrent_creates),
            pressure: self.pressure.clone().map(|limits| (limits, provider.clone())),
            sample: |p| p.pressure().unwrap_or_else(crate::provider::host_pressure),
        };
        // Tests wait on these creates, and a create slot is held while they run: a client
        // hanging after success is stopped as soon as its machine is seen finished.
        let policy = Policy {
            watch_hangs: true,
            ..self.policy.clone()
        };
        Client::new(provider)
            .with_policy(policy)
            .with_observer(journal)
            .with_admission(Arc::new(admission))
    }
}
