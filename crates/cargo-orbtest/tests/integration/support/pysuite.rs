//! Scenarios for command tiers: a copy of the pytest fixture suite in a scratch directory (not
//! a cargo workspace), its own orchestrator.toml, simulated OrbStack (`ORBSIM_STATE`) and
//! orbtest state (`ORBTEST_HOME`); and the virtualenv with pytest, made once per test run.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A python with pytest and pytest-xdist: `$ORBTEST_TEST_PYTHON` when it has them (`.ci/run`
/// installs them into a virtualenv and names its python there), else the virtualenv made once
/// per test run; an error saying why when pip cannot install them.
pub(crate) fn python() -> Result<PathBuf, String> {
    if let Some(given) = std::env::var_os("ORBTEST_TEST_PYTHON").filter(|p| !p.is_empty()) {
        let ok = Command::new(&given)
            .args(["-c", "import pytest, xdist"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Ok(PathBuf::from(given));
        }
    }
    venv("pysuite-venv", &["pytest>=7", "pytest-xdist>=3"]).map(|bin| bin.join("python"))
}

/// The `bin/` of a virtualenv under the test target dir with `packages` from PyPI, made once
/// per test run (tests run as parallel processes: one makes it, the others wait for it).
pub(crate) fn venv(name: &str, packages: &[&str]) -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let venv = root.join("venv");
    let ready = root.join("ready");
    let bin = venv.join("bin");
    std::fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let lock = File::create(root.join("lock")).map_err(|e| format!("cannot create the venv lock: {e}"))?;
    lock.lock().map_err(|e| format!("cannot lock the venv: {e}"))?;
    if ready.exists() {
        return Ok(bin);
    }
    let _ = std::fs::remove_dir_all(&venv);
    let log = root.join("install.log");
    let made = Command::new("python3").arg("-m").arg("venv").arg(&venv).output();
    match made {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            return Err(format!(
                "`python3 -m venv` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Err(e) => return Err(format!("python3 is not available: {e}")),
    }
    let out = Command::new(bin.join("python"))
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
        .args(packages)
        .output()
        .map_err(|e| format!("cannot run pip: {e}"))?;
    let _ = std::fs::write(&log, [out.stdout.as_slice(), out.stderr.as_slice()].concat());
    if !out.status.success() {
        return Err(format!(
            "pip could not install {} (see {})",
            packages.join(", "),
            log.display()
        ));
    }
    std::fs::write(&ready, "").map_err(|e| format!("cannot mark the venv ready: {e}"))?;
    Ok(bin)
}

/// The venv's python, or prints why the test is skipped and returns `None`. Under `CI=true`
/// pytest is required: no python fails the test.
pub(crate) fn python_or_skip(test: &str) -> Option<PathBuf> {
    match python() {
        Ok(p) => Some(p),
        Err(why) => {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "{test} needs pytest and pytest-xdist, which CI installs (.ci/run): {why}"
            );
            eprintln!("SKIPPED {test}: {why}");
            None
        }
    }
}

pub(crate) struct Scenario {
    pub dir: tempfile::TempDir,
}

impl Scenario {
    /// A copy of the pytest suite with this config. `{python}` becomes the venv's python,
    /// `{scenario}` the path of the orbsim scenario (written when given).
    pub(crate) fn new(config: &str, python: Option<&Path>, scenario: Option<&str>) -> Self {
        Self::of("pysuite", config, python, scenario)
    }

    /// [`Scenario::new`] with another pytest fixture (a directory under `tests/fixtures`).
    pub(crate) fn of(fixture: &str, config: &str, python: Option<&Path>, scenario: Option<&str>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(&crate::support::cli::fixture(fixture), dir.path());
        let scenario_path = dir.path().join("scenario.toml");
        if let Some(text) = scenario {
            std::fs::write(&scenario_path, text).expect("write scenario");
        }
        let config = config
            .replace("{python}", &python.map(|p| p.display().to_string()).unwrap_or_default())
            .replace("{scenario}", &scenario_path.display().to_string());
        std::fs::write(dir.path().join("orchestrator.toml"), config).expect("write config");
        Self { dir }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Where the fixture's tests leave markers and records.
    pub(crate) fn state(&self) -> PathBuf {
        self.path().join("state")
    }

    pub(crate) fn sim(&self) -> PathBuf {
        self.path().join("sim")
    }

    /// `cargo-orbtest orbtest ARGS` in the scenario's directory, which is no cargo workspace.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-orbtest"));
        cmd.arg("orbtest").args(args).current_dir(self.path());
        crate::support::cli::scrub(&mut cmd);
        cmd.env("ORBTEST_HOME", self.path().join("home"))
            .env("ORBSIM_STATE", self.sim())
            .env("PYSUITE_STATE", self.state())
            .env("NO_COLOR", "1")
            .env_remove("ORBSIM_SCENARIO")
            .env_remove("PYSUITE_FAIL")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("ORBTEST_RUN_DIR")
            .env_remove("ORBTEST_WORKERS")
            .env_remove("ORBTEST_WORKER");
        cmd
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run cargo-orbtest")
    }

    /// The newest run's summary.json (reports go to `<dir>/.orbtest/latest` here).
    pub(crate) fn summary(&self) -> serde_json::Value {
        let path = self.path().join(".orbtest/latest/summary.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).expect("summary.json is JSON")
    }

    pub(crate) fn tier(&self, name: &str) -> serde_json::Value {
        self.summary()["tiers"]
            .as_array()
            .expect("tiers")
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no tier {name} in summary"))
            .clone()
    }

    /// orbsim itself, as another terminal would call `orbctl`.
    pub(crate) fn orbctl(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(crate::support::orbsim());
        cmd.arg("orbctl").args(args).env("ORBSIM_STATE", self.sim());
        let scenario = self.path().join("scenario.toml");
        if scenario.exists() {
            cmd.env("ORBSIM_SCENARIO", scenario);
        } else {
            cmd.env_remove("ORBSIM_SCENARIO");
        }
        cmd.output().expect("run orbsim")
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
        cmd.arg("stats").env("ORBSIM_STATE", self.sim());
        let scenario = self.path().join("scenario.toml");
        if scenario.exists() {
            cmd.env("ORBSIM_SCENARIO", scenario);
        }
        let out = cmd.output().expect("orbsim stats");
        serde_json::from_slice(&out.stdout).expect("stats JSON")
    }

    /// The JSON records the fixture's tests wrote (`<state>/<label>.json`), by label.
    pub(crate) fn records(&self) -> Vec<serde_json::Value> {
        let mut out: Vec<(String, serde_json::Value)> = std::fs::read_dir(self.state())
            .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .map(|p| {
                let text = std::fs::read_to_string(&p).expect("record");
                (
                    p.display().to_string(),
                    serde_json::from_str(&text).expect("record JSON"),
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.into_iter().map(|(_, v)| v).collect()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        if name == "__pycache__" || name == ".pytest_cache" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).expect("copy");
        }
    }
}

/// Whether a process is alive (a zombie nobody has reaped yet counts as dead).
pub(crate) fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Polls `cond` with a generous limit (a loaded CI machine is slow).
pub(crate) fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(120), "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// A tier's counts as (passed, failed, flaky, timed_out, skipped).
pub(crate) fn counts(tier: &serde_json::Value) -> (u64, u64, u64, u64, u64) {
    crate::support::cli::counts(tier)
}
