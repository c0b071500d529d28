//! The provider boundary: how an orbctl argv becomes a process, and how loaded the host is.
//!
//! Kept small on purpose: future providers (Docker, Incus) speak orbctl's argv and semantics and
//! only decide what to execute.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use orbtest_process::Invocation;

/// Host memory pressure as a provider (or the orchestrator's sampler) sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pressure {
    pub memory_percent: f64,
    pub swap_percent: f64,
    /// The sizes behind the percentages, when known: what create headroom is computed from.
    pub mib: Option<MemoryMib>,
}

/// Memory and swap in MiB, and what one machine is expected to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryMib {
    pub memory: u64,
    pub memory_used: u64,
    pub swap: u64,
    pub swap_used: u64,
    pub per_machine: u64,
}

impl Pressure {
    /// Percentages only (the sizes unknown).
    pub fn percent(memory_percent: f64, swap_percent: f64) -> Self {
        Pressure {
            memory_percent,
            swap_percent,
            mib: None,
        }
    }
}

/// Where admission gets the host's pressure: the orchestrator's sampler (the real host), or a
/// provider that simulates one.
pub trait PressureSource: Send + Sync {
    /// Now; `None` when it cannot tell.
    fn sample(&self) -> Option<Pressure>;
}

/// A provider's own figures (orbsim's scenario) as a pressure source.
pub(crate) struct ProviderPressure(pub std::sync::Arc<dyn Provider>);

impl PressureSource for ProviderPressure {
    fn sample(&self) -> Option<Pressure> {
        self.0.pressure()
    }
}

pub trait Provider: Send + Sync {
    /// Short label for logs and reports (`orbstack`, `orbsim`).
    fn name(&self) -> &str;
    /// The process that carries out `argv` (orbctl's arguments, without a program name).
    fn invocation(&self, argv: &[String]) -> Invocation;
    /// Pressure the provider can report itself. `None`: the real host's is what counts (the
    /// orchestrator measures it).
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
    pub(crate) fn from_path() -> Result<Self, which::Error> {
        which::which("orbctl").map(Self::new)
    }

    /// orbsim as orbctl: `orbctl` is a program that behaves as orbctl (orbsim behind a link
    /// named `orbctl`, or cargo-orbtest's `orbsim-orbctl`), `orbsim` the simulator under its
    /// own name (for `orbsim stats`). Every call gets the state directory (and scenario).
    pub fn sim(orbctl: PathBuf, orbsim: PathBuf, state_dir: &Path, scenario: Option<&Path>) -> Self {
        let mut env = vec![(OsString::from("ORBSIM_STATE"), state_dir.as_os_str().to_owned())];
        if let Some(s) = scenario {
            env.push(("ORBSIM_SCENARIO".into(), s.as_os_str().to_owned()));
        }
        OrbctlProvider {
            name: "orbsim".into(),
            program: orbctl,
            env,
            sim_binary: Some(orbsim),
        }
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

    /// The orbsim binary behind a simulated provider.
    pub fn sim_binary(&self) -> Option<&Path> {
        self.sim_binary.as_deref()
    }

    /// Rebuilds a provider from its parts (the shim reads them from the run's settings).
    pub fn restore(name: &str, program: PathBuf, env: Vec<(OsString, OsString)>, sim_binary: Option<PathBuf>) -> Self {
        OrbctlProvider {
            name: name.to_string(),
            program,
            env,
            sim_binary,
        }
    }
}

impl Provider for OrbctlProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn invocation(&self, argv: &[String]) -> Invocation {
        Invocation {
            env: self.env.clone(),
            ..Invocation::new(&self.program).args(argv)
        }
    }

    fn pressure(&self) -> Option<Pressure> {
        let bin = self.sim_binary.as_ref()?;
        let inv = Invocation {
            env: self.env.clone(),
            ..Invocation::new(bin).arg("stats")
        };
        let out = orbtest_process::capture(&inv, Some(std::time::Duration::from_secs(10))).ok()?;
        #[derive(serde::Deserialize)]
        struct Stats {
            memory_percent: f64,
            swap_percent: f64,
            #[serde(default)]
            memory_mib: u64,
            #[serde(default)]
            memory_used_mib: u64,
            #[serde(default)]
            swap_mib: u64,
            #[serde(default)]
            swap_used_mib: u64,
            #[serde(default)]
            machine_mib: u64,
        }
        let s: Stats = serde_json::from_slice(&out.stdout).ok()?;
        Some(Pressure {
            memory_percent: s.memory_percent,
            swap_percent: s.swap_percent,
            mib: (s.memory_mib > 0).then_some(MemoryMib {
                memory: s.memory_mib,
                memory_used: s.memory_used_mib,
                swap: s.swap_mib,
                swap_used: s.swap_used_mib,
                per_machine: s.machine_mib,
            }),
        })
    }
}

pub use orbctl::links::link_orbctl;
