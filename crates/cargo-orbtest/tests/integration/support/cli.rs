//! Running the real `cargo-orbtest` binary over fixture workspaces, with real cargo and
//! cargo-nextest.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Fixture builds share one target dir so each fixture compiles once per test run.
pub(crate) fn fixture_target() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixture-target")
}

/// A scratch directory holding one test's config, markers and reports.
pub(crate) struct Scenario {
    pub dir: tempfile::TempDir,
    pub fixture: PathBuf,
}

impl Scenario {
    pub(crate) fn new(fixture_name: &str, config: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("orchestrator.toml"), config).expect("write config");
        std::fs::create_dir(dir.path().join("markers")).expect("markers dir");
        Self {
            dir,
            fixture: fixture(fixture_name),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn reports(&self) -> PathBuf {
        self.path().join("reports")
    }

    /// `cargo-orbtest orbtest <args>` against the fixture with this scenario's config.
    pub(crate) fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-orbtest"));
        cmd.arg("orbtest")
            .arg("--manifest-path")
            .arg(self.fixture.join("Cargo.toml"))
            .arg("--config")
            .arg(self.path().join("orchestrator.toml"));
        scrub(&mut cmd);
        cmd.env("CARGO_TARGET_DIR", fixture_target())
            .env("FIXTURE_MARKERS", self.path().join("markers"))
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "0")
            .args(args);
        cmd
    }

    /// Runs `orbtest` with reports in this scenario's directory.
    pub(crate) fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = self.command(["--report-dir".as_ref(), self.reports().as_os_str()]);
        cmd.args(args);
        cmd.output().expect("run cargo-orbtest")
    }

    pub(crate) fn summary(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.reports().join("summary.json")).expect("summary.json");
        serde_json::from_str(&text).expect("summary.json is JSON")
    }

    /// The summary entry of one tier.
    pub(crate) fn tier(&self, name: &str) -> serde_json::Value {
        self.summary()["tiers"]
            .as_array()
            .expect("tiers")
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no tier {name} in summary"))
            .clone()
    }
}

/// Our own tests run under nextest: its variables must not leak into the runs we start.
pub(crate) fn scrub(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("NEXTEST_") {
            cmd.env_remove(key);
        }
    }
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub(crate) fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// Counts of a tier as (passed, failed, flaky, timed_out, skipped).
pub(crate) fn counts(tier: &serde_json::Value) -> (u64, u64, u64, u64, u64) {
    let t = &tier["tests"];
    let n = |k: &str| t[k].as_u64().unwrap_or_else(|| panic!("no count {k} in {tier}"));
    (n("passed"), n("failed"), n("flaky"), n("timed_out"), n("skipped"))
}
