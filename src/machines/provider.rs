//! The provider boundary: how an orbctl argv becomes a process, and how loaded the host is.
//!
//! Kept small on purpose: future providers (Docker, Incus) speak orbctl's argv and semantics and
//! only decide what to execute.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::process::{Invocation, StdinMode};

/// Host memory pressure as a provider sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pressure {
    pub memory_percent: f64,
    pub swap_percent: f64,
}

pub trait Provider: Send + Sync {
    /// Short label for logs and reports (`orbstack`, `orbsim`).
    fn name(&self) -> &str;
    /// The process that carries out `argv` (orbctl's arguments, without a program name).
    fn invocation(&self, argv: &[String]) -> Invocation;
    /// Pressure the provider can report itself. `None`: measure the real host (sysinfo).
    fn pressure(&self) -> Option<Pressure>;
}

/// Anything that behaves like orbctl: the real binary, or orbsim through its `orbctl` link.
#[derive(Debug, Clone)]
pub struct OrbctlProvider {
    name: String,
    program: PathBuf,
    env: Vec<(OsString, OsString)>,
    /// The orbsim binary, for `orbsim stats` (pressure) when this is the simulator.
    sim_binary: Option<PathBuf>,
}

impl OrbctlProvider {
    /// The real orbctl at `program`.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        OrbctlProvider {
            name: "orbstack".into(),
            program: program.into(),
            env: Vec::new(),
            sim_binary: None,
        }
    }

    /// The real orbctl found on `PATH`.
    pub fn from_path() -> Result<Self, which::Error> {
        which::which("orbctl").map(Self::new)
    }

    /// orbsim as orbctl: creates `link_dir/orbctl` and `link_dir/orb` pointing at `orbsim`,
    /// and passes the state directory (and scenario, if any) to every call.
    pub fn sim(orbsim: &Path, link_dir: &Path, state_dir: &Path, scenario: Option<&Path>) -> std::io::Result<Self> {
        let program = link_orbctl(orbsim, link_dir)?;
        let mut env = vec![(OsString::from("ORBSIM_STATE"), state_dir.as_os_str().to_owned())];
        if let Some(s) = scenario {
            env.push(("ORBSIM_SCENARIO".into(), s.as_os_str().to_owned()));
        }
        Ok(OrbctlProvider {
            name: "orbsim".into(),
            program,
            env,
            sim_binary: Some(orbsim.to_path_buf()),
        })
    }

    /// Adds an environment variable to every call.
    pub fn with_env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    pub fn env(&self) -> &[(OsString, OsString)] {
        &self.env
    }
}

impl Provider for OrbctlProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn invocation(&self, argv: &[String]) -> Invocation {
        Invocation {
            program: self.program.clone(),
            args: argv.to_vec(),
            env: self.env.clone(),
            stdin: StdinMode::Null,
        }
    }

    fn pressure(&self) -> Option<Pressure> {
        let bin = self.sim_binary.as_ref()?;
        let inv = Invocation {
            program: bin.clone(),
            args: vec!["stats".into()],
            env: self.env.clone(),
            stdin: StdinMode::Null,
        };
        let out = super::process::run(&inv, Some(std::time::Duration::from_secs(10))).ok()?;
        #[derive(serde::Deserialize)]
        struct Stats {
            memory_percent: f64,
            swap_percent: f64,
        }
        let s: Stats = serde_json::from_slice(&out.stdout).ok()?;
        Some(Pressure {
            memory_percent: s.memory_percent,
            swap_percent: s.swap_percent,
        })
    }
}

/// Makes `dir/orbctl` and `dir/orb` symlinks to `target` (replacing old ones) and returns the
/// `orbctl` path.
pub fn link_orbctl(target: &Path, dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let target = std::fs::canonicalize(target)?;
    for name in ["orbctl", "orb"] {
        let link = dir.join(name);
        match std::fs::symlink_metadata(&link) {
            Ok(_) => std::fs::remove_file(&link)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::os::unix::fs::symlink(&target, &link)?;
    }
    Ok(dir.join("orbctl"))
}
