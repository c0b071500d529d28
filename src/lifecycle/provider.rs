//! Which orbctl a run uses: the real one (`provider = "orbstack"`) or orbsim
//! (`provider = "sim"`), with the state directory named by `ORBSIM_STATE` when set, else one
//! under orbtest's cache directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::state::ProviderState;
use crate::config::{MachinesConfig, ProviderKind};
use crate::errors::{Error, Result};
use crate::machines::OrbctlProvider;

#[derive(Debug, Clone)]
pub struct ResolvedProvider {
    pub kind: ProviderKind,
    pub provider: Arc<OrbctlProvider>,
    /// orbtest's state for this provider (run lock, journals, baselines).
    pub state: ProviderState,
    /// The orbctl that tests reach: the real binary, or orbsim's `orbctl` link.
    pub orbctl: PathBuf,
    /// Environment tests need to reach it (orbsim's state and scenario).
    pub env: Vec<(String, String)>,
    /// For messages: "orbstack (/usr/local/bin/orbctl)", "orbsim (state /x)".
    pub description: String,
}

pub fn resolve(config: &MachinesConfig, home: &Path) -> Result<ResolvedProvider> {
    match config.provider {
        ProviderKind::Orbstack => {
            let orbctl = which::which(&config.orbctl).map_err(|_| {
                Error::preflight(
                    "provider",
                    format!(
                        "`{}` not found on PATH: install OrbStack (https://orbstack.dev), set [machines] orbctl to \
                         its path, or use provider = \"sim\" to run against the bundled simulator",
                        config.orbctl
                    ),
                )
            })?;
            let state = open_state(home, "orbstack")?;
            Ok(ResolvedProvider {
                kind: ProviderKind::Orbstack,
                provider: Arc::new(OrbctlProvider::new(&orbctl)),
                state,
                description: format!("orbstack ({})", orbctl.display()),
                orbctl,
                env: Vec::new(),
            })
        }
        ProviderKind::Sim => {
            let state_dir = sim_state_dir(config, home);
            std::fs::create_dir_all(&state_dir)
                .map_err(|e| Error::preflight("provider", format!("cannot create {}: {e}", state_dir.display())))?;
            let state_dir = std::fs::canonicalize(&state_dir).unwrap_or(state_dir);
            let scenario = config.sim.scenario.clone().or_else(|| {
                std::env::var_os("ORBSIM_SCENARIO")
                    .filter(|s| !s.is_empty())
                    .map(PathBuf::from)
            });
            if let Some(s) = &scenario
                && !s.is_file()
            {
                return Err(Error::preflight(
                    "provider",
                    format!(
                        "orbsim scenario {} does not exist ([machines.sim] scenario)",
                        s.display()
                    ),
                ));
            }
            let key = format!("sim-{}", short_hash(&state_dir.to_string_lossy()));
            let state = open_state(home, &key)?;
            let orbsim = orbsim_binary()?;
            let provider = OrbctlProvider::sim(&orbsim, &state.dir.join("bin"), &state_dir, scenario.as_deref())
                .map_err(|e| Error::preflight("provider", format!("cannot link orbsim as orbctl: {e}")))?;
            let mut env = vec![("ORBSIM_STATE".to_string(), state_dir.display().to_string())];
            if let Some(s) = &scenario {
                env.push(("ORBSIM_SCENARIO".to_string(), s.display().to_string()));
            }
            Ok(ResolvedProvider {
                kind: ProviderKind::Sim,
                orbctl: provider.program().to_path_buf(),
                provider: Arc::new(provider),
                state,
                env,
                description: format!("orbsim (state {})", state_dir.display()),
            })
        }
    }
}

/// `[machines.sim] state`, else `$ORBSIM_STATE`, else `<orbtest home>/orbsim`.
pub fn sim_state_dir(config: &MachinesConfig, home: &Path) -> PathBuf {
    config
        .sim
        .state
        .clone()
        .or_else(|| {
            std::env::var_os("ORBSIM_STATE")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| home.join("orbsim"))
}

/// orbsim ships next to cargo-orbtest (same package): `ORBTEST_ORBSIM`, else beside our own
/// executable, else on PATH.
pub fn orbsim_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("ORBTEST_ORBSIM").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    if let Some(beside) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("orbsim")))
        .filter(|p| p.is_file())
    {
        return Ok(beside);
    }
    which::which("orbsim").map_err(|_| {
        Error::preflight(
            "provider",
            "orbsim (the simulator installed with cargo-orbtest) was not found beside cargo-orbtest or on PATH; \
             reinstall with `cargo install --path .` or set ORBTEST_ORBSIM",
        )
    })
}

fn open_state(home: &Path, key: &str) -> Result<ProviderState> {
    ProviderState::open(home, key).map_err(|e| {
        Error::preflight(
            "provider",
            format!("cannot create orbtest's state under {}: {e}", home.display()),
        )
    })
}

pub(crate) fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}
