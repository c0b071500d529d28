//! A throwaway orbsim installation per test: state dir, `orbctl`/`orb` links, scenario.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use orbsim::Stats;

pub(crate) struct Sim {
    pub dir: tempfile::TempDir,
    pub bin: PathBuf,
    pub state: PathBuf,
    pub scenario: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub(crate) struct Out {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Out {
    pub(crate) fn ok(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success: {self:?}");
        self
    }
}

pub(crate) fn orbsim_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_orbsim"))
}

impl Sim {
    pub(crate) fn new() -> Sim {
        Self::make(None)
    }

    pub(crate) fn with_scenario(toml: &str) -> Sim {
        Self::make(Some(toml))
    }

    fn make(scenario: Option<&str>) -> Sim {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("bin");
        let state = dir.path().join("state");
        let out = Command::new(orbsim_exe())
            .arg("link")
            .arg(&bin)
            .output()
            .expect("run orbsim link");
        assert!(out.status.success(), "orbsim link failed: {out:?}");
        let scenario = scenario.map(|text| {
            let p = dir.path().join("scenario.toml");
            std::fs::write(&p, text).expect("write scenario");
            p
        });
        Sim {
            dir,
            bin,
            state,
            scenario,
        }
    }

    /// A command for `orbctl`/`orb` (through the links) with this sim's environment.
    pub(crate) fn command(&self, program: &str) -> Command {
        let mut c = Command::new(self.bin.join(program));
        c.env("ORBSIM_STATE", &self.state)
            .env("USER", "tester")
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        match &self.scenario {
            Some(s) => c.env("ORBSIM_SCENARIO", s),
            None => c.env_remove("ORBSIM_SCENARIO"),
        };
        c
    }

    pub(crate) fn run(&self, program: &str, args: &[&str]) -> Out {
        let out = self.command(program).args(args).output().expect("run orbsim");
        Out {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code().unwrap_or(-1),
        }
    }

    pub(crate) fn orbctl(&self, args: &[&str]) -> Out {
        self.run("orbctl", args)
    }

    pub(crate) fn orb(&self, args: &[&str]) -> Out {
        self.run("orb", args)
    }

    pub(crate) fn stats(&self) -> Stats {
        let mut c = Command::new(orbsim_exe());
        c.arg("stats").env("ORBSIM_STATE", &self.state);
        match &self.scenario {
            Some(s) => c.env("ORBSIM_SCENARIO", s),
            None => c.env_remove("ORBSIM_SCENARIO"),
        };
        let out = c.output().expect("orbsim stats");
        assert!(out.status.success(), "orbsim stats failed: {out:?}");
        serde_json::from_slice(&out.stdout).expect("stats JSON")
    }

    /// Polls `orbsim stats` until `cond` holds (a condition, not a guess at timing).
    pub(crate) fn wait_for(&self, what: &str, cond: impl Fn(&Stats) -> bool) -> Stats {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.stats();
            if cond(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}: {s:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub(crate) fn names(&self) -> Vec<String> {
        let out = self.orbctl(&["list", "-q"]);
        out.ok();
        out.stdout.lines().map(str::to_string).collect()
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

/// The machine's id from `info -f json`.
pub(crate) fn id_of(sim: &Sim, name: &str) -> String {
    let out = sim.orbctl(&["info", name, "-f", "json"]);
    out.ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("info JSON");
    v["record"]["id"].as_str().expect("id").to_string()
}

pub(crate) fn exists(p: &Path) -> bool {
    p.exists()
}
