//! Shared helpers. The simulator these tests use is the one cargo-orbtest embeds (the one
//! `provider = "sim"` runs), reached through links named `orbsim-orbctl`, `orbsim-orb` and
//! `orbsim`.

#![allow(dead_code)]

pub(crate) mod cli;
pub(crate) mod docker;
pub(crate) mod lifecycle;
pub(crate) mod project;
pub(crate) mod pysuite;
pub(crate) mod sim;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The embedded simulator's three names, linked in `dir`.
pub(crate) struct SimLinks {
    /// Behaves as `orbctl`.
    pub orbctl: PathBuf,
    /// Behaves as `orb`.
    pub orb: PathBuf,
    /// `orbsim` itself: `link`, `stats`, `reset`, `orbctl ARGS...`.
    pub orbsim: PathBuf,
}

/// Links the embedded simulator's names in `dir`.
pub(crate) fn sim_links(dir: &Path) -> SimLinks {
    let [orbctl, orb, orbsim] =
        orbtest::lifecycle::provider::link_sim_names(Path::new(env!("CARGO_BIN_EXE_cargo-orbtest")), dir)
            .expect("link the embedded simulator");
    SimLinks { orbctl, orb, orbsim }
}

/// `orbsim` (the embedded simulator under its own name), linked once per test process.
pub(crate) fn orbsim() -> PathBuf {
    static LINKS: OnceLock<SimLinks> = OnceLock::new();
    LINKS
        .get_or_init(|| sim_links(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("embedded-orbsim")))
        .orbsim
        .clone()
}

/// The `orb` beside an `orbctl`: `orbsim-orb` for the simulator's link, else `orb`.
pub(crate) fn orb_beside(orbctl: &Path) -> PathBuf {
    let name = match orbctl.file_name().and_then(|n| n.to_str()) {
        Some("orbsim-orbctl") => "orbsim-orb",
        _ => "orb",
    };
    orbctl.with_file_name(name)
}

/// A run directory served by a broker, as preflight leaves it: `real` is the real orbctl (the
/// simulator's link), `state` its state directory; `adjust` changes the settings first. The
/// broker serves while the returned value lives.
pub(crate) fn served(
    run_dir: &Path,
    run_id: &str,
    real: &Path,
    state: &Path,
    adjust: impl FnOnce(&mut orbtest_machines::settings::RunSettings),
) -> orbtest_machines::broker::Broker {
    std::fs::create_dir_all(run_dir).expect("create the run directory");
    let mut settings = orbtest_machines::settings::RunSettings {
        env: vec![("ORBSIM_STATE".into(), state.display().to_string())],
        sim_binary: Some(orbsim()),
        ..orbtest_machines::settings::RunSettings::new(
            run_id,
            "orbsim",
            real.to_path_buf(),
            orb_beside(real),
            run_dir.join("journal.jsonl"),
        )
    };
    adjust(&mut settings);
    orbtest_machines::broker::Broker::start(run_dir, settings, orbtest_machines::broker::Hooks::default())
        .expect("start the broker")
}
