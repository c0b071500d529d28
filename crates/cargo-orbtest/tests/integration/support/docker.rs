//! cargo-orbtest with `provider = "docker"`: each scenario is a project of its own (its own
//! directory, so its own `dev.orbtest.project` label: scenarios never see each other's
//! machines), running the machines fixture's tests on a real Docker engine. Its machine image is
//! the one the repository's dogfood config uses (same recipe, so one build per engine).
//!
//! Without an engine or debootstrap these tests skip with a message on a developer machine and
//! fail under `CI=true` (`.ci/run` provides both).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The recipe the scenarios use: the dogfood's (`orchestrator.docker.toml`).
pub(crate) const IMAGE_RECIPE: &str =
    "[machines.docker.images.\"ubuntu:22.04\"]\ndebootstrap = \"bookworm\"\npackages = [\"iputils-ping\"]\n";

/// Whether this machine can run the Docker scenarios; `None` says why not (after failing the
/// test under CI, where it must).
pub(crate) fn available() -> Option<()> {
    let why = if let Err(e) = orbdock::Engine::connect() {
        Some(format!("no Docker engine: {e}"))
    } else if which::which("docker").is_err() {
        Some("no docker CLI (the tests look at containers with it)".to_string())
    } else if !Path::new("/usr/sbin/debootstrap").exists() && which::which("debootstrap").is_err() {
        Some("no debootstrap (apt-get install debootstrap) to build the machine image".to_string())
    } else if unsafe { libc::geteuid() } != 0 {
        Some("debootstrap needs root".to_string())
    } else {
        None
    };
    match why {
        None => Some(()),
        Some(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true and the Docker provider's tests cannot run: {why}")
        }
        Some(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

pub(crate) struct Docker {
    pub(crate) dir: tempfile::TempDir,
}

impl Docker {
    /// A project whose orchestrator.toml is `[machines] provider = "docker"` plus `machines`
    /// (more `[machines]` keys), the image recipe, and `tiers`.
    pub(crate) fn new(machines: &str, tiers: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = format!("[machines]\nprovider = \"docker\"\n{machines}\n{IMAGE_RECIPE}\n{tiers}");
        std::fs::write(dir.path().join("orchestrator.toml"), config).expect("write config");
        std::fs::create_dir(dir.path().join("wait")).expect("mkdir");
        Self { dir }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn reports(&self) -> PathBuf {
        self.path().join("reports")
    }

    /// The project label of this scenario's containers: one per scenario (they all run the
    /// same fixture workspace, whose own project they would otherwise share).
    pub(crate) fn project(&self) -> String {
        format!("t-{}", orbtest::lifecycle::docker::project(self.path()))
    }

    /// `cargo-orbtest orbtest ARGS` over the machines fixture, with this scenario's config as
    /// the project (run from its directory).
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-orbtest"));
        cmd.arg("orbtest")
            .arg("--manifest-path")
            .arg(crate::support::cli::fixture("machines").join("Cargo.toml"))
            .arg("--config")
            .arg(self.path().join("orchestrator.toml"))
            .current_dir(self.path());
        crate::support::cli::scrub(&mut cmd);
        cmd.env("CARGO_TARGET_DIR", crate::support::cli::fixture_target())
            .env("ORBTEST_HOME", self.path().join("home"))
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "0")
            .env("FIXTURE_PREFIX", "scratch-")
            .env("ORBDOCK_PROJECT", self.project())
            .env_remove("FIXTURE_WAIT_DIR")
            .env_remove("FIXTURE_SLOT_DIR")
            .args(args);
        cmd
    }

    /// `command(ARGS)` with reports in this scenario's `reports/`.
    pub(crate) fn reporting(&self, args: &[&str]) -> Command {
        let reports = self.reports();
        let mut all = vec!["--report-dir", reports.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        self.command(&all)
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.reporting(args).output().expect("run cargo-orbtest")
    }

    /// Starts `cmd` in the background, its stderr in `<dir>/<name>.out`.
    pub(crate) fn spawn(&self, name: &str, mut cmd: Command) -> std::process::Child {
        let out = std::fs::File::create(self.path().join(format!("{name}.out"))).expect("output file");
        cmd.stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("spawn cargo-orbtest")
    }

    pub(crate) fn output_of(&self, name: &str) -> String {
        std::fs::read_to_string(self.path().join(format!("{name}.out"))).unwrap_or_default()
    }

    /// orbdock as this project's `orbctl`, as a user at another terminal would call it.
    pub(crate) fn orbctl(&self, args: &[&str]) -> Output {
        let links = self.path().join("links");
        let [orbctl, _] =
            orbtest::lifecycle::docker::link_engine_names(Path::new(env!("CARGO_BIN_EXE_cargo-orbtest")), &links)
                .expect("link orbdock");
        Command::new(orbctl)
            .args(args)
            .env("ORBDOCK_PROJECT", self.project())
            .env_remove("ORBTEST_DOCKER_IMAGES")
            .output()
            .expect("run orbdock")
    }

    /// The project's machines, by name.
    pub(crate) fn machines(&self) -> Vec<String> {
        let out = self.orbctl(&["list", "-q"]);
        let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }

    /// Every container on the engine labelled with this project (machines and sentinels), by
    /// name.
    pub(crate) fn containers(&self) -> Vec<String> {
        docker_names(&format!("label=dev.orbtest.project={}", self.project()))
    }
}

/// Names of the containers `docker ps -a --filter FILTER` lists.
pub(crate) fn docker_names(filter: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-a", "--filter", filter, "--format", "{{.Names}}"])
        .output()
        .expect("docker ps");
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

impl Drop for Docker {
    /// Whatever a scenario left (baselines, a failed test's machines) goes with it.
    fn drop(&mut self) {
        let ids = Command::new("docker")
            .args(["ps", "-aq", "--filter"])
            .arg(format!("label=dev.orbtest.project={}", self.project()))
            .output();
        if let Ok(out) = ids {
            let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_string)
                .collect();
            if !ids.is_empty() {
                let _ = Command::new("docker").args(["rm", "-f"]).args(&ids).output();
            }
        }
    }
}
