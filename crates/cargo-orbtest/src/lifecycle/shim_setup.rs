//! Puts the shim in front of a run's tests: `orbctl`/`orb` links in the run directory (this
//! executable) and the settings the shim reads.

use std::path::{Path, PathBuf};

use super::baselines::ReadyBaseline;
use super::provider::{ResolvedProvider, policy};
use crate::config::{MachinesConfig, OnPressure, PressureConfig};
use orbtest_machines::admission::PressureLimits;
use orbtest_machines::settings::{BaselineRef, RunSettings};
use orbtest_machines::{Journal, Provider};

/// Why the shim could not be put in place; each says what it was doing.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct ShimSetupError {
    what: String,
    #[source]
    source: std::io::Error,
}

fn doing(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ShimSetupError {
    let what = what.into();
    move |source| ShimSetupError { what, source }
}

/// Links `bin/orbctl` and `bin/orb` in the run directory to this executable (the shim) and
/// writes the settings the shim reads.
pub(crate) fn install_shim(
    run_dir: &Path,
    resolved: &ResolvedProvider,
    config: &MachinesConfig,
    pressure: &PressureConfig,
    baselines: &[ReadyBaseline],
    journal: &Journal,
) -> std::result::Result<PathBuf, ShimSetupError> {
    let me = std::env::current_exe().map_err(doing("cannot find cargo-orbtest's own executable"))?;
    let bin = run_dir.join("bin");
    orbtest_machines::files::create_private_dir(&bin).map_err(doing(format!("cannot create {}", bin.display())))?;
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
        policy: policy(config),
        max_concurrent_creates: config.max_concurrent_creates as usize,
        slots_dir: resolved.state.slots_dir(),
        pressure: match pressure.on_pressure {
            OnPressure::Ignore => None,
            action => Some(PressureLimits {
                swap_limit_percent: pressure.swap_limit_percent,
                memory_limit_percent: pressure.memory_limit_percent,
                max_wait: pressure.max_wait,
                fail_after_wait: matches!(action, OnPressure::Wait | OnPressure::Fail),
            }),
        },
        clone_from: baselines
            .iter()
            .filter(|b| b.clone_for_create)
            .map(|b| BaselineRef {
                name: b.name.clone(),
                image: b.image.clone(),
                user: b.user.clone(),
            })
            .collect(),
        journal: journal.path().to_path_buf(),
    };
    settings
        .write(run_dir)
        .map_err(doing("cannot write the shim's settings"))?;
    Ok(bin)
}
