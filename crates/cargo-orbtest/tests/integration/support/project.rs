//! Projects of a user's own, made with `cargo new` in a scratch directory, where
//! `cargo orbtest` runs with the project as its working directory, as a user types it.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::cli::{code, scrub, stderr};

/// A project directory of its own (its own target dir too), where `cargo orbtest` runs with the
/// project as its working directory, as a user types it.
pub(crate) struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    pub(crate) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn write(&self, rel: &str, text: &str) {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub(crate) fn orbtest_in(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-orbtest"));
        cmd.arg("orbtest").args(args).current_dir(cwd);
        scrub(&mut cmd);
        cmd.env("CARGO_TARGET_DIR", self.path().join("target"))
            .env("ORBTEST_HOME", self.path().join(".home"))
            .env("NO_COLOR", "1")
            .env_remove("ORBTEST_RUN_DIR");
        cmd
    }

    pub(crate) fn orbtest(&self, args: &[&str]) -> Output {
        self.orbtest_in(self.path(), args).output().expect("run cargo-orbtest")
    }

    pub(crate) fn config(&self) -> String {
        std::fs::read_to_string(self.path().join("orchestrator.toml")).expect("orchestrator.toml")
    }

    pub(crate) fn summary(&self, reports: &Path) -> serde_json::Value {
        let text = std::fs::read_to_string(reports.join("summary.json")).expect("summary.json");
        serde_json::from_str(&text).unwrap()
    }

    /// `init`, then `list`, then a run, each from the project's directory; the run must pass.
    /// Returns the config written, `list`'s output and the run's summary.
    pub(crate) fn init_list_run(&self) -> (String, String, serde_json::Value) {
        let out = self.orbtest(&["init"]);
        assert_eq!(code(&out), 0, "init: {}", stderr(&out));
        let config = self.config();
        let listed = self.orbtest(&["list"]);
        assert_eq!(code(&listed), 0, "list: {}\n{config}", stderr(&listed));
        let reports = self.path().join("reports");
        let run = self.orbtest(&["--report-dir", reports.to_str().unwrap()]);
        assert_eq!(code(&run), 0, "the first run passes: {}\n{config}", stderr(&run));
        (
            config,
            String::from_utf8_lossy(&listed.stdout).into_owned(),
            self.summary(&reports),
        )
    }
}

/// `cargo new KIND NAME` in `dir`.
pub(crate) fn cargo_new(dir: &Path, name: &str, kind: &str) {
    let out = Command::new("cargo")
        .args(["new", "--quiet", "--vcs", "none", kind, name])
        .current_dir(dir)
        .output()
        .expect("cargo new");
    assert!(
        out.status.success(),
        "cargo new: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A workspace `Cargo.toml` at the project's root with these members.
pub(crate) fn workspace(p: &Project, members: &[&str]) {
    let list: Vec<String> = members.iter().map(|m| format!("\"{m}\"")).collect();
    p.write(
        "Cargo.toml",
        &format!("[workspace]\nresolver = \"3\"\nmembers = [{}]\n", list.join(", ")),
    );
}
