//! Puts the shim in front of a run's tests: `orbctl`/`orb` links in the run directory (this
//! executable), the settings the shim reads, and the run's machine broker the shim talks to.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::baselines::ReadyBaseline;
use super::pressure::{HostPressure, limits};
use super::provider::{ResolvedProvider, policy};
use super::reap::Protect;
use crate::config::{MachinesConfig, PressureConfig, ProviderKind};
use orbtest_machines::broker::{Broker, Hooks};
use orbtest_machines::settings::{BaselineRef, RunSettings};
use orbtest_machines::{Journal, Provider};

/// Why the shim could not be put in place; each says what it was doing.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ShimSetupError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid protect pattern: {0}")]
    Protect(#[source] globset::Error),
}

fn doing(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ShimSetupError {
    let what = what.into();
    move |source| ShimSetupError::Io { what, source }
}

/// Links `bin/orbctl` and `bin/orb` in the run directory to this executable (the shim), and
/// starts the run's broker, which writes the settings the shim reads. Returns `bin/` and the
/// broker (it serves until dropped).
pub(crate) fn install_shim(
    run_dir: &Path,
    resolved: &ResolvedProvider,
    config: &MachinesConfig,
    pressure: &PressureConfig,
    baselines: &[ReadyBaseline],
    journal: &Journal,
) -> std::result::Result<(PathBuf, Broker), ShimSetupError> {
    let me = std::env::current_exe().map_err(doing("cannot find cargo-orbtest's own executable"))?;
    let bin = run_dir.join("bin");
    orbtest_machines::files::ensure_private_dir(&bin).map_err(doing(format!("cannot create {}", bin.display())))?;
    orbtest_machines::provider::link_orbctl(&me, &bin)
        .map_err(doing(format!("cannot link the shim into {}", bin.display())))?;
    crate::personalities::worker_slot::link(&bin).map_err(doing(format!(
        "cannot link orbtest's worker commands into {}",
        bin.display()
    )))?;
    let settings = RunSettings {
        run_id: journal.run_id().to_string(),
        provider: resolved.provider.name().to_string(),
        real_orbctl: resolved.orbctl.clone(),
        real_orb: resolved.orb.clone(),
        env: resolved.env.clone(),
        sim_binary: resolved.provider.sim_binary().map(Path::to_path_buf),
        host_arch: host_arch(resolved),
        policy: policy(config),
        max_concurrent_creates: config.max_concurrent_creates.map(|c| c as usize),
        pressure: limits(pressure),
        clone_from: baselines
            .iter()
            .filter(|b| b.clone_for_create)
            .map(|b| BaselineRef {
                name: b.name.clone(),
                image: b.image.clone(),
                user: b.user.clone(),
            })
            .collect(),
        baselines: baselines.iter().map(|b| b.name.clone()).collect(),
        journal: journal.path().to_path_buf(),
        broker: None,
    };
    let protect = Protect::new(&config.protect).map_err(ShimSetupError::Protect)?;
    let hooks = Hooks {
        pressure: Some(Arc::new(HostPressure(resolved.provider.clone()))),
        protected: Some(Arc::new(move |name: &str| {
            protect
                .matching(name)
                .map(|pattern| format!("it is protected by `{pattern}` in orchestrator.toml"))
        })),
    };
    let broker = Broker::start(run_dir, settings, hooks).map_err(doing(format!(
        "cannot start the run's machine broker in {}",
        run_dir.display()
    )))?;
    Ok((bin, broker))
}

/// The architecture orbctl takes for the host's: orbsim's scenario says; for OrbStack it is
/// this Mac's; for Docker, the host's (the engine runs containers of its own architecture).
fn host_arch(resolved: &ResolvedProvider) -> Option<String> {
    match resolved.kind {
        ProviderKind::Sim => {
            let scenario = resolved
                .env
                .iter()
                .find(|(k, _)| k == "ORBSIM_SCENARIO")
                .map(|(_, v)| orbsim::scenario::Scenario::load(Path::new(v)));
            match scenario {
                Some(Ok(s)) => Some(s.host_arch),
                Some(Err(_)) => None,
                None => Some(orbsim::scenario::Scenario::default().host_arch),
            }
        }
        ProviderKind::Orbstack | ProviderKind::Docker => match std::env::consts::ARCH {
            "aarch64" => Some("arm64".into()),
            "x86_64" => Some("amd64".into()),
            _ => None,
        },
    }
}
