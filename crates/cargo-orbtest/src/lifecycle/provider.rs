//! Which orbctl a run uses: the real one (`provider = "orbstack"`), orbsim
//! (`provider = "sim"`) or orbdock on a Docker engine (`provider = "docker"`, see `docker`), with the state directory named by `ORBSIM_STATE` when set, else one
//! under orbtest's cache directory; and where orbtest's state about that provider lives (with
//! the provider: see `state`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use super::resolved::ResolvedProvider;
use super::resolved::short_hash;
use super::state::ProviderState;
use crate::config::{MachinesConfig, ProviderKind};
use crate::errors::{Error, Result};
use orbtest_machines::OrbctlProvider;
use orbtest_machines::{Policy, Retry, Timeouts};

/// The provider `config` names; `workspace` is the project (the Docker provider labels its
/// containers with it).
pub fn resolve(config: &MachinesConfig, home: &Path, workspace: &Path) -> Result<ResolvedProvider> {
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
            let state = open_state(&super::state::orbstack_state_dir())?;
            Ok(ResolvedProvider {
                kind: ProviderKind::Orbstack,
                provider: Arc::new(OrbctlProvider::new(&orbctl)),
                state,
                description: format!("orbstack ({})", orbctl.display()),
                orb: orbctl.with_file_name("orb"),
                orbctl,
                env: Vec::new(),
            })
        }
        ProviderKind::Docker => super::docker::resolve(config, home, workspace),
        ProviderKind::Sim => {
            let scenario = config.sim.scenario.clone().or_else(|| {
                std::env::var_os("ORBSIM_SCENARIO")
                    .filter(|s| !s.is_empty())
                    .map(PathBuf::from)
            });
            let state_dir = sim_state_dir(config, home, scenario.as_deref());
            std::fs::create_dir_all(&state_dir)
                .map_err(|e| Error::preflight("provider", format!("cannot create {}: {e}", state_dir.display())))?;
            let state_dir = std::fs::canonicalize(&state_dir).unwrap_or(state_dir);
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
            // Every run against this simulated OrbStack shares its state, whatever its home.
            let state = open_state(&state_dir.join("orbtest"))?;
            // The links point at this executable: one directory per executable, so two builds
            // sharing a home never swap each other's simulator mid-run.
            let exe = std::env::current_exe().unwrap_or_default();
            let bin = home.join("bin").join(short_hash(&exe.to_string_lossy()));
            let [orbctl, orb, orbsim] = link_embedded_sim(&bin)
                .map_err(|e| Error::preflight("provider", format!("cannot link orbsim into {}: {e}", bin.display())))?;
            let provider_env: Vec<(std::ffi::OsString, std::ffi::OsString)> =
                std::iter::once(("ORBSIM_STATE".into(), state_dir.clone().into_os_string()))
                    .chain(
                        scenario
                            .iter()
                            .map(|s| ("ORBSIM_SCENARIO".into(), s.clone().into_os_string())),
                    )
                    .collect();
            let provider = OrbctlProvider::restore("orbsim", orbctl, provider_env, Some(orbsim));
            let mut env = vec![("ORBSIM_STATE".to_string(), state_dir.display().to_string())];
            if let Some(s) = &scenario {
                env.push(("ORBSIM_SCENARIO".to_string(), s.display().to_string()));
            }
            Ok(ResolvedProvider {
                kind: ProviderKind::Sim,
                orbctl: provider.program().to_path_buf(),
                orb,
                provider: Arc::new(provider),
                state,
                env,
                description: format!("orbsim (state {})", state_dir.display()),
            })
        }
    }
}

/// `[machines.sim] state`, else `$ORBSIM_STATE`, else one per scenario under
/// `<orbtest home>/orbsim/` (a simulated OrbStack keeps the time scale it was created with).
pub(crate) fn sim_state_dir(config: &MachinesConfig, home: &Path, scenario: Option<&Path>) -> PathBuf {
    config
        .sim
        .state
        .clone()
        .or_else(|| {
            std::env::var_os("ORBSIM_STATE")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| {
            let key = scenario.map_or_else(
                || "default".to_string(),
                |s| {
                    short_hash(
                        &std::fs::canonicalize(s)
                            .unwrap_or_else(|_| s.to_path_buf())
                            .to_string_lossy(),
                    )
                },
            );
            home.join("orbsim").join(key)
        })
}

/// Links `orbsim-orbctl`, `orbsim-orb` and `orbsim` in `dir` to this very executable, which
/// runs the simulator it embeds when called by those names (so the simulator can never be an
/// older build than the orchestrator). Returns the three paths.
pub(crate) fn link_embedded_sim(dir: &Path) -> std::io::Result<[PathBuf; 3]> {
    link_sim_names(&std::env::current_exe()?, dir)
}

/// Links `orbsim-orbctl`, `orbsim-orb` and `orbsim` in `dir` to `exe`, a cargo-orbtest
/// executable (tests and benchmarks reach the simulator it embeds this way).
pub fn link_sim_names(exe: &Path, dir: &Path) -> std::io::Result<[PathBuf; 3]> {
    let me = std::fs::canonicalize(exe)?;
    orbtest_machines::files::ensure_private_dir(dir)?;
    let names = ["orbsim-orbctl", "orbsim-orb", "orbsim"];
    for name in names {
        let link = dir.join(name);
        if std::fs::read_link(&link).is_ok_and(|target| target == me) {
            continue;
        }
        // Replace atomically: link under a temporary name, then rename over the old one.
        let tmp = dir.join(format!(".{name}.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&me, &tmp)?;
        std::fs::rename(&tmp, &link)?;
    }
    Ok(names.map(|n| dir.join(n)))
}

fn open_state(dir: &Path) -> Result<ProviderState> {
    ProviderState::open(dir).map_err(|e| {
        Error::preflight(
            "provider",
            format!("cannot create orbtest's state in {}: {e}", dir.display()),
        )
    })
}

/// The machines layer's policy from `[machines]`.
pub fn policy(config: &MachinesConfig) -> Policy {
    Policy {
        timeouts: Timeouts {
            create: config.timeouts.create,
            lifecycle: config.timeouts.lifecycle,
            query: config.timeouts.query,
            run: None,
        },
        retry: Retry {
            attempts: config.retry.attempts,
            delay: config.retry.delay,
            backoff: config.retry.backoff,
        },
        ..Policy::default()
    }
}
