//! The scenario file (`ORBSIM_SCENARIO`, TOML): timing, faults, host memory and OrbStack
//! outages. See `docs/orbsim.md` for the format; every key has a default, unknown keys are
//! errors.

use std::collections::BTreeMap;
use std::path::Path;

use rand::Rng;
use serde::Deserialize;

/// Simulated seconds.
pub(crate) type SimSecs = f64;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// Seeds the random stream; the same seed and call order give the same behaviour.
    pub seed: u64,
    /// Real seconds per simulated second: 0.001 runs a "180 s" create in 180 ms.
    pub time_scale: f64,
    /// The simulated Mac's architecture (decides `--arch` choices and the default).
    pub host_arch: String,
    /// Per-operation latency in simulated time. Keys: see [`LATENCY_KEYS`].
    pub latency: BTreeMap<String, Dist>,
    pub faults: Faults,
    pub host: Host,
    /// OrbStack stopped / restarting, in simulated time since the state was created.
    pub windows: Vec<Window>,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            seed: 0,
            time_scale: 1.0,
            host_arch: "arm64".into(),
            latency: BTreeMap::new(),
            faults: Faults::default(),
            host: Host::default(),
            windows: Vec::new(),
        }
    }
}

/// Operations that take a latency. `create` is the download/unpack phase (state `creating`),
/// `provisioning` the setup phase after it; `startup` is OrbStack itself starting.
pub(crate) const LATENCY_KEYS: &[&str] = &[
    "create",
    "provisioning",
    "clone",
    "import",
    "export",
    "delete",
    "start",
    "stop",
    "restart",
    "rename",
    "list",
    "info",
    "status",
    "run",
    "push",
    "pull",
    "logs",
    "default",
    "config",
    "version",
    "startup",
];

/// Operations faults can apply to.
pub(crate) const FAULT_OPS: &[&str] = &["create", "clone", "import"];

/// A latency distribution over simulated time. In TOML: `"12s"` (fixed) or a table
/// `{ dist = "uniform", min = "10s", max = "20s" }` / `{ dist = "normal", mean = "30s",
/// stddev = "5s" }` / `{ dist = "fixed", value = "3s" }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawDist")]
pub enum Dist {
    Fixed(SimSecs),
    Uniform {
        min: SimSecs,
        max: SimSecs,
    },
    /// Draws below zero are clamped to zero.
    Normal {
        mean: SimSecs,
        stddev: SimSecs,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawDist {
    Text(String),
    Table(DistTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DistTable {
    dist: String,
    value: Option<String>,
    min: Option<String>,
    max: Option<String>,
    mean: Option<String>,
    stddev: Option<String>,
}

fn secs(text: &str) -> Result<SimSecs, String> {
    humantime::parse_duration(text.trim())
        .map(|d| d.as_secs_f64())
        .map_err(|e| format!("invalid duration {text:?}: {e} (write e.g. \"12s\", \"500ms\", \"3m\")"))
}

fn required(v: &Option<String>, key: &str, dist: &str) -> Result<SimSecs, String> {
    match v {
        Some(t) => secs(t),
        None => Err(format!("a {dist} latency needs `{key}`")),
    }
}

impl TryFrom<RawDist> for Dist {
    type Error = String;

    fn try_from(raw: RawDist) -> Result<Self, Self::Error> {
        match raw {
            RawDist::Text(t) => secs(&t).map(Dist::Fixed),
            RawDist::Table(t) => match t.dist.as_str() {
                "fixed" => required(&t.value, "value", "fixed").map(Dist::Fixed),
                "uniform" => {
                    let min = required(&t.min, "min", "uniform")?;
                    let max = required(&t.max, "max", "uniform")?;
                    if max < min {
                        return Err(format!("uniform latency has max ({max}s) below min ({min}s)"));
                    }
                    Ok(Dist::Uniform { min, max })
                }
                "normal" => Ok(Dist::Normal {
                    mean: required(&t.mean, "mean", "normal")?,
                    stddev: required(&t.stddev, "stddev", "normal")?,
                }),
                other => Err(format!(
                    "unknown dist {other:?}: use \"fixed\", \"uniform\" or \"normal\""
                )),
            },
        }
    }
}

impl Dist {
    pub(crate) fn draw(&self, rng: &mut impl Rng) -> SimSecs {
        match *self {
            Dist::Fixed(v) => v,
            Dist::Uniform { min, max } => min + rng.random::<f64>() * (max - min),
            Dist::Normal { mean, stddev } => {
                // Box–Muller; 1 - u keeps the logarithm finite.
                let u1: f64 = 1.0 - rng.random::<f64>();
                let u2: f64 = rng.random::<f64>();
                let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                (mean + stddev * z).max(0.0)
            }
        }
    }

    /// Whether drawing needs randomness (fixed latencies do not use up the random stream).
    pub fn is_random(&self) -> bool {
        !matches!(self, Dist::Fixed(_))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    pub hang: Option<Hang>,
    pub transient: Option<Transient>,
    pub kill: Option<Kill>,
}

/// The client process dies from a signal after its operation took effect and before it
/// printed anything (the OOM killer, a crash): the caller sees a signal death, the machine
/// change happened anyway.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kill {
    /// Chance per call.
    pub probability: f64,
    /// Operations it applies to (default: all of [`KILL_OPS`]).
    #[serde(default = "kill_ops")]
    pub ops: Vec<String>,
    /// `KILL`, `TERM`, `INT`, `SEGV`, `ABRT` or `BUS` (with or without `SIG`).
    #[serde(default = "kill_signal")]
    pub signal: String,
    /// Kill at most this many calls in total.
    pub limit: Option<u64>,
}

/// Operations a `[faults.kill]` may apply to: every one orbsim simulates, except `run`, `push`
/// and `pull`, for which orbsim becomes the command itself (exec) and is no longer there to die.
pub(crate) const KILL_OPS: &[&str] = &[
    "create", "delete", "list", "info", "start", "stop", "restart", "clone", "rename", "export", "import", "default",
    "status", "logs", "config",
];

/// The signal number of a `[faults.kill] signal` name.
pub(crate) fn signal_number(name: &str) -> Option<i32> {
    Some(match name.trim_start_matches("SIG") {
        "KILL" => libc::SIGKILL,
        "TERM" => libc::SIGTERM,
        "INT" => libc::SIGINT,
        "SEGV" => libc::SIGSEGV,
        "ABRT" => libc::SIGABRT,
        "BUS" => libc::SIGBUS,
        _ => return None,
    })
}

fn kill_ops() -> Vec<String> {
    KILL_OPS.iter().map(|s| s.to_string()).collect()
}
fn kill_signal() -> String {
    "KILL".into()
}

/// The client keeps running after the operation succeeded (the machine is there, the command
/// has not returned): what a too-short client timeout then turns into a "failed" create.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hang {
    pub probability: f64,
    #[serde(default = "zero", deserialize_with = "de_secs")]
    pub min: SimSecs,
    #[serde(deserialize_with = "de_secs")]
    pub max: SimSecs,
    #[serde(default = "hang_ops")]
    pub ops: Vec<String>,
}

/// Download failures: the create fails part-way with `error` and the machine disappears.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transient {
    /// Chance that a call starts a failure burst.
    pub rate: f64,
    #[serde(default = "transient_ops")]
    pub ops: Vec<String>,
    /// The daemon's message (orbsim adds `[-32098] ` and, for create, `create 'N': `).
    #[serde(default = "download_error")]
    pub error: String,
    /// Calls that fail in a row once a burst starts (1 = independent failures).
    #[serde(default = "one")]
    pub burst: u32,
    /// Inject at most this many failures in total.
    pub limit: Option<u64>,
    /// When the failure happens, as a fraction of the operation's own latency.
    #[serde(default = "half")]
    pub at: f64,
}

fn zero() -> SimSecs {
    0.0
}
fn one() -> u32 {
    1
}
fn half() -> f64 {
    0.5
}
fn hang_ops() -> Vec<String> {
    vec!["create".into(), "clone".into()]
}
fn transient_ops() -> Vec<String> {
    vec!["create".into()]
}
/// The error OrbStack users saw in orbstack/orbstack#643.
pub(crate) fn download_error() -> String {
    "make rootfs: download rootfs: stream to file: unexpected EOF".into()
}

fn de_secs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SimSecs, D::Error> {
    let t = String::deserialize(d)?;
    secs(&t).map_err(serde::de::Error::custom)
}

/// Host memory: machines use memory; beyond the host's memory it turns into swap, and swap
/// above a threshold slows every operation down.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Host {
    pub memory_mib: u64,
    /// Used by macOS, OrbStack and everything else before any machine runs.
    pub base_mib: u64,
    /// Per machine that is creating, provisioning, starting, running or stopping.
    pub machine_mib: u64,
    /// Swap size that counts as 100 %.
    pub swap_mib: u64,
    pub slowdown_above_swap_percent: f64,
    /// Latency factor at 100 % swap (linear from 1 at the threshold).
    pub max_slowdown: f64,
}

impl Default for Host {
    fn default() -> Self {
        Host {
            memory_mib: 16384,
            base_mib: 2048,
            machine_mib: 1024,
            swap_mib: 8192,
            slowdown_above_swap_percent: 50.0,
            max_slowdown: 4.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowKind {
    /// OrbStack is stopped: `status` says Stopped, stop/restart say it is not running, and
    /// commands that auto-start OrbStack start it (taking the `startup` latency).
    Stopped,
    /// OrbStack is restarting: `status` says Starting and daemon calls fail with
    /// `machine manager is stopping`.
    Restarting,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub kind: WindowKind,
    #[serde(deserialize_with = "de_secs")]
    pub from: SimSecs,
    #[serde(deserialize_with = "de_secs")]
    pub to: SimSecs,
}

/// A scenario that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {}: {source}", .path.display())]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("scenario {}: {source}", .path.display())]
    In {
        path: std::path::PathBuf,
        #[source]
        source: Box<ScenarioError>,
    },
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    /// A value the format does not allow, and why.
    #[error("{0}")]
    Invalid(String),
}

impl Scenario {
    /// Reads `ORBSIM_SCENARIO` if set, else the defaults (no latency, no faults).
    pub fn from_env() -> Result<Scenario, ScenarioError> {
        match std::env::var_os("ORBSIM_SCENARIO") {
            Some(p) if !p.is_empty() => Scenario::load(Path::new(&p)),
            _ => Ok(Scenario::default()),
        }
    }

    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Scenario::parse(&text).map_err(|e| ScenarioError::In {
            path: path.to_path_buf(),
            source: Box::new(e),
        })
    }

    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let s: Scenario = toml::from_str(text)?;
        s.validate().map_err(ScenarioError::Invalid)?;
        Ok(s)
    }

    /// Why the scenario's values do not go together, if they do not.
    fn validate(&self) -> Result<(), String> {
        if !(self.time_scale > 0.0 && self.time_scale.is_finite()) {
            return Err(format!("time_scale must be a positive number, not {}", self.time_scale));
        }
        if !matches!(self.host_arch.as_str(), "arm64" | "amd64") {
            return Err(format!(
                "host_arch must be \"arm64\" or \"amd64\", not {:?}",
                self.host_arch
            ));
        }
        for key in self.latency.keys() {
            if !LATENCY_KEYS.contains(&key.as_str()) {
                return Err(format!(
                    "unknown latency key {key:?}; known: {}",
                    LATENCY_KEYS.join(", ")
                ));
            }
        }
        let check_ops = |what: &str, ops: &[String]| -> Result<(), String> {
            match ops.iter().find(|o| !FAULT_OPS.contains(&o.as_str())) {
                Some(o) => Err(format!(
                    "faults.{what}.ops: {o:?} is not one of {}",
                    FAULT_OPS.join(", ")
                )),
                None => Ok(()),
            }
        };
        let prob = |what: &str, p: f64| -> Result<(), String> {
            if (0.0..=1.0).contains(&p) {
                Ok(())
            } else {
                Err(format!("{what} must be between 0 and 1, not {p}"))
            }
        };
        if let Some(h) = &self.faults.hang {
            prob("faults.hang.probability", h.probability)?;
            check_ops("hang", &h.ops)?;
            if h.max < h.min {
                return Err("faults.hang.max is below faults.hang.min".into());
            }
        }
        if let Some(t) = &self.faults.transient {
            prob("faults.transient.rate", t.rate)?;
            prob("faults.transient.at", t.at)?;
            check_ops("transient", &t.ops)?;
            if t.burst == 0 {
                return Err("faults.transient.burst must be at least 1".into());
            }
        }
        if let Some(k) = &self.faults.kill {
            prob("faults.kill.probability", k.probability)?;
            if let Some(o) = k.ops.iter().find(|o| !KILL_OPS.contains(&o.as_str())) {
                return Err(format!("faults.kill.ops: {o:?} is not one of {}", KILL_OPS.join(", ")));
            }
            if signal_number(&k.signal).is_none() {
                return Err(format!(
                    "faults.kill.signal: {:?} is not one of KILL, TERM, INT, SEGV, ABRT, BUS",
                    k.signal
                ));
            }
        }
        if self.host.memory_mib == 0 {
            return Err("host.memory_mib must be above 0".into());
        }
        for w in &self.windows {
            if w.to <= w.from {
                return Err(format!(
                    "window {:?} from {}s to {}s ends before it starts",
                    w.kind, w.from, w.to
                ));
            }
        }
        Ok(())
    }

    pub fn latency(&self, key: &str) -> Option<&Dist> {
        self.latency.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let text = include_str!("../../../docs/orbsim-scenario.example.toml");
        let s = Scenario::parse(text).unwrap();
        assert!(s.time_scale > 0.0);
        assert!(s.faults.hang.is_some());
    }

    #[test]
    fn distributions() {
        let s = Scenario::parse(
            r#"
            [latency]
            create = "12s"
            delete = { dist = "uniform", min = "1s", max = "3s" }
            clone = { dist = "normal", mean = "5s", stddev = "1s" }
            "#,
        )
        .unwrap();
        assert_eq!(s.latency("create"), Some(&Dist::Fixed(12.0)));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for _ in 0..100 {
            let d = s.latency("delete").unwrap().draw(&mut rng);
            assert!((1.0..=3.0).contains(&d));
            assert!(s.latency("clone").unwrap().draw(&mut rng) >= 0.0);
        }
    }

    #[test]
    fn mistakes_are_named() {
        let e = Scenario::parse("[latency]\ncreat = \"1s\"").unwrap_err().to_string();
        assert!(e.contains("unknown latency key \"creat\""), "{e}");
        let e = Scenario::parse("[latency]\ncreate = \"soon\"").unwrap_err().to_string();
        assert!(e.contains("invalid duration"), "{e}");
        let e = Scenario::parse("tiem_scale = 1.0").unwrap_err().to_string();
        assert!(e.contains("tiem_scale"), "{e}");
        let e = Scenario::parse("[faults.hang]\nprobability = 2.0\nmax = \"1s\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("between 0 and 1"), "{e}");
    }

    use rand::SeedableRng;
}
