//! cargo-orbtest against orbsim: each scenario gets its own simulated OrbStack (`ORBSIM_STATE`),
//! its own orbtest state (`ORBTEST_HOME`) and config; the machines fixture is built once into
//! a shared target dir.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct Sim {
    pub dir: tempfile::TempDir,
}

impl Sim {
    /// A scenario with this orchestrator.toml (`{scenario}` is replaced by the path of the
    /// orbsim scenario written next to it, when one is given).
    pub(crate) fn new(config: &str, scenario: Option<&str>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let scenario_path = dir.path().join("scenario.toml");
        if let Some(text) = scenario {
            std::fs::write(&scenario_path, text).expect("write scenario");
        }
        let config = config.replace("{scenario}", &scenario_path.display().to_string());
        std::fs::write(dir.path().join("orchestrator.toml"), config).expect("write config");
        for sub in ["wait", "slots"] {
            std::fs::create_dir(dir.path().join(sub)).expect("mkdir");
        }
        Self { dir }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn state(&self) -> PathBuf {
        self.path().join("sim")
    }

    pub(crate) fn reports(&self) -> PathBuf {
        self.path().join("reports")
    }

    /// orbtest's state about this simulated OrbStack (run lock, runs and their journals,
    /// slots, baselines): kept with the provider, in orbsim's state directory.
    pub(crate) fn provider_state(&self) -> PathBuf {
        self.state().join("orbtest")
    }

    fn scenario_env(&self, cmd: &mut Command) {
        let scenario = self.path().join("scenario.toml");
        if scenario.exists() {
            cmd.env("ORBSIM_SCENARIO", scenario);
        } else {
            cmd.env_remove("ORBSIM_SCENARIO");
        }
    }

    /// orbsim itself, as a user at another terminal would call `orbctl`.
    pub(crate) fn orbctl(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(crate::support::orbsim());
        cmd.arg("orbctl").args(args).env("ORBSIM_STATE", self.state());
        self.scenario_env(&mut cmd);
        cmd.output().expect("run orbsim")
    }

    /// Creates machines that exist before any run (leftovers, or somebody else's).
    pub(crate) fn precreate(&self, names: &[&str]) {
        for name in names {
            let out = self.orbctl(&["create", "ubuntu:22.04", name]);
            assert!(
                out.status.success(),
                "precreate {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    pub(crate) fn machines(&self) -> Vec<String> {
        let out = self.orbctl(&["list", "-q"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    pub(crate) fn stats(&self) -> serde_json::Value {
        let mut cmd = Command::new(crate::support::orbsim());
        cmd.arg("stats").env("ORBSIM_STATE", self.state());
        self.scenario_env(&mut cmd);
        let out = cmd.output().expect("orbsim stats");
        serde_json::from_slice(&out.stdout).expect("stats JSON")
    }

    /// `cargo-orbtest orbtest ARGS` over the machines fixture, reports in this scenario.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-orbtest"));
        cmd.arg("orbtest")
            .arg("--manifest-path")
            .arg(crate::support::cli::fixture("machines").join("Cargo.toml"))
            .arg("--config")
            .arg(self.path().join("orchestrator.toml"));
        crate::support::cli::scrub(&mut cmd);
        cmd.env("CARGO_TARGET_DIR", crate::support::cli::fixture_target())
            .env("ORBSIM_STATE", self.state())
            .env("ORBTEST_HOME", self.path().join("home"))
            .env_remove("FIXTURE_WAIT_DIR")
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "0")
            .env_remove("FIXTURE_PREFIX")
            .env_remove("FIXTURE_SLOT_DIR")
            .args(args);
        self.scenario_env(&mut cmd);
        cmd
    }

    /// Runs to completion with reports in this scenario's `reports/`.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.reporting(args).output().expect("run cargo-orbtest")
    }

    /// `command(ARGS)` with reports in this scenario's `reports/`.
    pub(crate) fn reporting(&self, args: &[&str]) -> Command {
        let reports = self.reports();
        let mut all = vec!["--report-dir", reports.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        self.command(&all)
    }

    /// Makes the fixture's waiting tests wait (until a signal) in this scenario's `wait/`.
    pub(crate) fn waiting(&self, mut cmd: Command) -> Command {
        cmd.env("FIXTURE_WAIT_DIR", self.path().join("wait"));
        cmd
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

    pub(crate) fn summary(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.reports().join("summary.json")).expect("summary.json");
        serde_json::from_str(&text).expect("summary JSON")
    }
}

/// Waits (generously: the first run may build the fixture) for `cond`, polling.
pub(crate) fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(300), "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The pid a fixture test wrote into the wait dir once it reached its waiting point.
pub(crate) fn waiting_test_pid(sim: &Sim, label: &str) -> i32 {
    let path = sim.path().join("wait").join(format!("{label}.pid"));
    wait_until(&format!("{} to appear", path.display()), || {
        std::fs::read_to_string(&path).is_ok_and(|t| !t.is_empty())
    });
    std::fs::read_to_string(&path)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid")
}

pub(crate) fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a process we started.
    unsafe {
        libc::kill(pid as i32, sig);
    }
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub(crate) fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// Polls `cond` until it holds or `limit` passes; whether it held.
pub(crate) fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    true
}
