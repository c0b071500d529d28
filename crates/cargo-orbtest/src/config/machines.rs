//! `[machines]`: the provider, what cleanup may touch, and the policy for machine operations.

use std::path::PathBuf;
use std::time::Duration;

use super::diagnostic::Diagnostic;
use super::docker::{self, DockerConfig, ImageUse};
use super::reader::{Diagnostics, Table};
use super::tier::Backoff;
use super::write::{Writer, duration_string};

const KEYS: &[&str] = &[
    "provider",
    "orbctl",
    "min_version",
    "prefixes",
    "protect",
    "max_concurrent_creates",
    "auto_baselines",
    "timeouts",
    "retry",
    "images",
    "baseline",
    "keep_on_failure",
    "keep_runs",
    "sim",
    "docker",
    "workers",
    "restart",
];
const TIMEOUT_KEYS: &[&str] = &["create", "lifecycle", "query"];
const RETRY_KEYS: &[&str] = &["attempts", "delay", "backoff"];
const BASELINE_KEYS: &[&str] = &[
    "name",
    "image",
    "user",
    "provision",
    "provision_timeout",
    "clone_for_create",
];
const SIM_KEYS: &[&str] = &["state", "scenario"];
const WORKER_KEYS: &[&str] = &["image", "baseline", "count"];
const RESTART_KEYS: &[&str] = &["helper_memory_mib", "swap_percent", "timeout"];

/// Shortest prefix cleanup accepts: shorter ones match too many machines to be safe.
pub const MIN_PREFIX_LEN: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// The real `orbctl` (macOS).
    Orbstack,
    /// orbsim, the bundled simulator.
    Sim,
    /// Labelled system containers on a Docker engine (orbdock, embedded).
    Docker,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Orbstack => "orbstack",
            ProviderKind::Sim => "sim",
            ProviderKind::Docker => "docker",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MachinesConfig {
    pub provider: ProviderKind,
    /// The real orbctl: a path or a name looked up on PATH. Default "orbctl".
    pub orbctl: String,
    /// Oldest OrbStack version accepted. Default "1.10.0" (first with clone/export/import).
    pub min_version: String,
    /// Name prefixes of test machines that cleanup may delete. Default none.
    pub prefixes: Vec<String>,
    /// Machine names (globs) never deleted. Default none.
    pub protect: Vec<String>,
    /// At most this many create/clone/import at once. Default none: as many as the host has
    /// memory headroom for (at least one), from the pressure limits.
    pub max_concurrent_creates: Option<u32>,
    /// Make a baseline for each image the previous run's tests created again and again (and
    /// have no baseline for), and turn their creates into clones of it. Default true.
    pub auto_baselines: bool,
    pub timeouts: OpTimeouts,
    pub retry: OpRetry,
    /// Images warmed in preflight.
    pub images: Vec<String>,
    pub baselines: Vec<Baseline>,
    /// Keep the machines of a failed run for debugging. Default false.
    pub keep_on_failure: bool,
    /// How many runs' journals to keep. Default 20.
    pub keep_runs: u32,
    pub sim: SimConfig,
    /// `[machines.docker]`: machine images for the Docker provider.
    pub docker: DockerConfig,
    /// `[machines.workers]`: warm machines handed to tests, one per test slot. Default none.
    pub workers: Option<WorkersConfig>,
    /// `[machines.restart]`: when `doctor --fix` and `--restart-orbstack` restart OrbStack.
    pub restart: RestartConfig,
}

/// Warm machines preflight provides and postflight deletes; each running test gets its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkersConfig {
    pub source: WorkerSpec,
    pub count: WorkerCount,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerSpec {
    /// Clones of this `[[machines.baseline]]`.
    Baseline(String),
    /// Created from this image (cloned from a baseline of the same image when there is one).
    Image(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerCount {
    Count(u32),
    /// As many as the machine tiers run tests at once (their largest `threads`).
    Threads,
}

/// When OrbStack gets restarted, and how long it may take to come back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RestartConfig {
    /// Restart when OrbStack's helper (its VM) uses more memory than this. Default 8192 MiB.
    pub helper_memory_mib: u64,
    /// Or when swap is used more than this, percent. Default 50.
    pub swap_percent: f64,
    /// How long `orbctl status` may take to say Running again. Default 120s.
    pub timeout: Duration,
}

impl Default for RestartConfig {
    fn default() -> Self {
        Self {
            helper_memory_mib: 8192,
            swap_percent: 50.0,
            timeout: Duration::from_secs(120),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpTimeouts {
    /// create, clone, import. Default 180s.
    pub create: Duration,
    /// start, stop, restart, delete. Default 60s.
    pub lifecycle: Duration,
    /// everything else except `run`, which only the test's own timeout bounds. Default 30s.
    pub query: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpRetry {
    /// Attempts in all, the first included. Default 4.
    pub attempts: u32,
    pub delay: Duration,
    pub backoff: Backoff,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baseline {
    pub name: String,
    pub image: String,
    pub user: Option<String>,
    pub provision: Vec<String>,
    pub provision_timeout: Duration,
    /// Let the shim turn a matching `create` into `clone` + `start`. Default true.
    pub clone_for_create: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimConfig {
    /// orbsim state directory. Default: `$ORBSIM_STATE`, else one under the user's cache dir.
    pub state: Option<PathBuf>,
    /// orbsim scenario file (relative to the config file). Default: `$ORBSIM_SCENARIO` or none.
    pub scenario: Option<PathBuf>,
}

impl Default for MachinesConfig {
    fn default() -> Self {
        Self {
            provider: ProviderKind::Orbstack,
            orbctl: "orbctl".into(),
            min_version: "1.10.0".into(),
            prefixes: Vec::new(),
            protect: Vec::new(),
            max_concurrent_creates: None,
            auto_baselines: true,
            timeouts: OpTimeouts {
                create: Duration::from_secs(180),
                lifecycle: Duration::from_secs(60),
                query: Duration::from_secs(30),
            },
            retry: OpRetry {
                attempts: 4,
                delay: Duration::from_secs(2),
                backoff: Backoff::Exponential,
            },
            images: Vec::new(),
            baselines: Vec::new(),
            keep_on_failure: false,
            keep_runs: 20,
            sim: SimConfig::default(),
            docker: DockerConfig::default(),
            workers: None,
            restart: RestartConfig::default(),
        }
    }
}

pub(crate) fn read(t: &Table<'_, '_>, base_dir: &std::path::Path, diags: &mut Diagnostics) -> MachinesConfig {
    t.deny_unknown(KEYS, diags);
    let d = MachinesConfig::default();
    let provider = match t.string("provider", diags) {
        None => d.provider,
        Some(p) => match p.get_ref().as_str() {
            "orbstack" => ProviderKind::Orbstack,
            "sim" => ProviderKind::Sim,
            "docker" => ProviderKind::Docker,
            other => {
                diags.push(Diagnostic::new(p.span(), format!("unknown provider `{other}`")).help(
                    "use \"orbstack\" (the real orbctl), \"sim\" (the bundled orbsim simulator) or \"docker\" \
                         (system containers on a Docker engine)",
                ));
                d.provider
            }
        },
    };
    let prefixes = t.string_list("prefixes", diags).unwrap_or_default();
    for p in &prefixes {
        if p.get_ref().chars().count() < MIN_PREFIX_LEN {
            let what = if p.get_ref().is_empty() {
                "an empty prefix"
            } else {
                "a prefix this short"
            };
            diags.push(
                Diagnostic::new(p.span(), format!("unsafe cleanup prefix `{}`", p.get_ref()))
                    .help(format!(
                        "{what} would let cleanup delete machines that are not test machines; use at least {MIN_PREFIX_LEN} characters, like \"test-\""
                    )),
            );
        } else if let Some(why) = prefix_never_matches(p.get_ref()) {
            diags.push(
                Diagnostic::new(p.span(), format!("cleanup prefix `{}` can never match a machine name", p.get_ref()))
                    .help(format!(
                        "{why}; machine names start with a letter or digit and hold only letters, digits, `-` and `.` (a prefix is not a glob: write \"test-\", not \"test-*\")"
                    )),
            );
        }
    }
    // Protect entries are exceptions: they win over the prefixes (prefix "test-" with protect
    // "test-fixture-db" keeps the fixture).
    let protect = t.string_list("protect", diags).unwrap_or_default();
    for entry in &protect {
        if let Some(why) = bad_protect_glob(entry.get_ref()) {
            diags.push(
                Diagnostic::new(entry.span(), format!("bad protect pattern `{}`", entry.get_ref())).help(format!(
                    "{why}; write a machine name or a glob of one, like \"dev\" or \"work-*\""
                )),
            );
        }
    }
    let timeouts = match t.table("timeouts", format!("{}.timeouts", t.name), diags) {
        None => d.timeouts,
        Some(tt) => {
            tt.deny_unknown(TIMEOUT_KEYS, diags);
            OpTimeouts {
                create: tt.duration("create", diags).unwrap_or(d.timeouts.create),
                lifecycle: tt.duration("lifecycle", diags).unwrap_or(d.timeouts.lifecycle),
                query: tt.duration("query", diags).unwrap_or(d.timeouts.query),
            }
        }
    };
    let retry = match t.table("retry", format!("{}.retry", t.name), diags) {
        None => d.retry,
        Some(rt) => {
            rt.deny_unknown(RETRY_KEYS, diags);
            OpRetry {
                attempts: rt
                    .integer("attempts", 1..=20, diags)
                    .map_or(d.retry.attempts, |n| n as u32),
                delay: rt.duration("delay", diags).unwrap_or(d.retry.delay),
                backoff: match rt.string("backoff", diags) {
                    None => d.retry.backoff,
                    Some(b) if b.get_ref() == "fixed" => Backoff::Fixed,
                    Some(b) if b.get_ref() == "exponential" => Backoff::Exponential,
                    Some(b) => {
                        diags.push(
                            Diagnostic::new(b.span(), format!("unknown backoff `{}`", b.get_ref()))
                                .help("use \"fixed\" or \"exponential\""),
                        );
                        d.retry.backoff
                    }
                },
            }
        }
    };
    let mut uses = Vec::new();
    let baselines = t
        .table_list("baseline", diags)
        .iter()
        .filter_map(|b| read_baseline(b, &mut uses, diags))
        .collect::<Vec<_>>();
    let sim = match t.table("sim", format!("{}.sim", t.name), diags) {
        None => d.sim.clone(),
        Some(st) => {
            st.deny_unknown(SIM_KEYS, diags);
            SimConfig {
                state: st.string("state", diags).map(|s| base_dir.join(s.get_ref())),
                scenario: st.string("scenario", diags).map(|s| base_dir.join(s.get_ref())),
            }
        }
    };
    let workers = t
        .table("workers", "[machines.workers]".to_string(), diags)
        .and_then(|w| read_workers(&w, &baselines, &mut uses, diags));
    let docker = t
        .table("docker", "[machines.docker]".to_string(), diags)
        .map(|dt| docker::read(&dt, diags))
        .unwrap_or_default();
    let images = t.string_list("images", diags).unwrap_or_default();
    uses.extend(images.iter().map(|i| ImageUse {
        image: i.get_ref().clone(),
        span: i.span(),
        key: "[machines] images",
    }));
    if provider == ProviderKind::Docker {
        docker::check_uses(&docker, &uses, diags);
    }
    let restart = match t.table("restart", "[machines.restart]".to_string(), diags) {
        None => d.restart,
        Some(rt) => {
            rt.deny_unknown(RESTART_KEYS, diags);
            RestartConfig {
                helper_memory_mib: rt
                    .integer("helper_memory_mib", 1..=1 << 30, diags)
                    .map_or(d.restart.helper_memory_mib, |n| n as u64),
                swap_percent: rt.percent("swap_percent", diags).unwrap_or(d.restart.swap_percent),
                timeout: rt.duration("timeout", diags).unwrap_or(d.restart.timeout),
            }
        }
    };
    MachinesConfig {
        provider,
        orbctl: t.string("orbctl", diags).map_or(d.orbctl, |s| s.into_inner()),
        min_version: t.string("min_version", diags).map_or(d.min_version, |s| s.into_inner()),
        prefixes: prefixes.into_iter().map(|p| p.into_inner()).collect(),
        protect: protect.into_iter().map(|p| p.into_inner()).collect(),
        max_concurrent_creates: t
            .integer("max_concurrent_creates", 1..=64, diags)
            .map(|n| n as u32)
            .or(d.max_concurrent_creates),
        auto_baselines: t.bool("auto_baselines", diags).unwrap_or(d.auto_baselines),
        timeouts,
        retry,
        images: images.into_iter().map(|i| i.into_inner()).collect(),
        baselines,
        keep_on_failure: t.bool("keep_on_failure", diags).unwrap_or(d.keep_on_failure),
        keep_runs: t
            .integer("keep_runs", 1..=10_000, diags)
            .map_or(d.keep_runs, |n| n as u32),
        sim,
        docker,
        workers,
        restart,
    }
}

fn read_workers(
    t: &Table<'_, '_>,
    baselines: &[Baseline],
    uses: &mut Vec<ImageUse>,
    diags: &mut Diagnostics,
) -> Option<WorkersConfig> {
    t.deny_unknown(WORKER_KEYS, diags);
    let count = match t.get("count") {
        None => Some(WorkerCount::Threads),
        Some(v) => match v.get_ref() {
            toml::de::DeValue::String(s) if s == "threads" => Some(WorkerCount::Threads),
            toml::de::DeValue::Integer(_) => {
                super::reader::integer_value(v, "count", 1..=256, diags).map(|n| WorkerCount::Count(n as u32))
            }
            _ => {
                diags.push(
                    Diagnostic::new(v.span(), "`count` must be a whole number or \"threads\"")
                        .help("\"threads\" gives one worker per test a machine tier runs at once"),
                );
                None
            }
        },
    };
    let image = t.string("image", diags);
    let baseline = t.string("baseline", diags);
    let source = match (image, baseline) {
        (Some(i), Some(_)) => {
            diags.push(
                Diagnostic::new(i.span(), "[machines.workers] has both `image` and `baseline`").help(
                    "give one: `baseline` clones that baseline, `image` creates from the image (or clones a \
                     baseline of the same image)",
                ),
            );
            return None;
        }
        (Some(i), None) => {
            uses.push(ImageUse {
                image: i.get_ref().clone(),
                span: i.span(),
                key: "[machines.workers] image",
            });
            WorkerSpec::Image(i.into_inner())
        }
        (None, Some(b)) => {
            if !baselines.iter().any(|x| x.name == *b.get_ref()) {
                let mut d = Diagnostic::new(b.span(), format!("no [[machines.baseline]] named `{}`", b.get_ref()));
                if let Some(s) = super::did_you_mean(b.get_ref(), baselines.iter().map(|x| x.name.as_str())) {
                    d = d.help(format!("did you mean `{s}`?"));
                } else {
                    d = d.help("name a configured baseline, or give `image` instead");
                }
                diags.push(d);
                return None;
            }
            WorkerSpec::Baseline(b.into_inner())
        }
        (None, None) => match baselines {
            [only] => WorkerSpec::Baseline(only.name.clone()),
            _ => {
                diags.push(
                    Diagnostic::new(t.span.clone(), "[machines.workers] needs an `image` or a `baseline`")
                        .help(r#"for example `image = "ubuntu:22.04"`, or `baseline = "NAME"` to clone a baseline"#),
                );
                return None;
            }
        },
    };
    Some(WorkersConfig { source, count: count? })
}

fn read_baseline(t: &Table<'_, '_>, uses: &mut Vec<ImageUse>, diags: &mut Diagnostics) -> Option<Baseline> {
    t.deny_unknown(BASELINE_KEYS, diags);
    let name = t.string("name", diags);
    let image = t.string("image", diags);
    for (key, value) in [("name", &name), ("image", &image)] {
        if value.is_none() && t.get(key).is_none() {
            diags.push(
                Diagnostic::new(t.span.clone(), format!("{} is missing `{key}`", t.name))
                    .help("a baseline needs a `name` and an `image`, like name = \"orbtest-base-jammy\", image = \"ubuntu:22.04\""),
            );
        }
    }
    if let Some(i) = &image {
        uses.push(ImageUse {
            image: i.get_ref().clone(),
            span: i.span(),
            key: "a [[machines.baseline]] image",
        });
    }
    Some(Baseline {
        name: name?.into_inner(),
        image: image?.into_inner(),
        user: t.string("user", diags).map(|u| u.into_inner()),
        provision: t
            .string_list("provision", diags)
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.into_inner())
            .collect(),
        provision_timeout: t
            .duration("provision_timeout", diags)
            .unwrap_or(Duration::from_secs(600)),
        clone_for_create: t.bool("clone_for_create", diags).unwrap_or(true),
    })
}

/// Why no machine name can start with `prefix`, if none can.
pub fn prefix_never_matches(prefix: &str) -> Option<String> {
    let mut chars = prefix.chars();
    let first = chars.next()?;
    if !first.is_ascii_alphanumeric() {
        return Some(format!("it starts with `{first}`"));
    }
    chars
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
        .map(|c| format!("`{}` never appears in a machine name", c.escape_default()))
}

/// Why `pattern` is not a usable protect glob (a name, or a glob with `*`, `?`, `[...]`,
/// `{a,b}`), if it is not: globset rejects it, or it needs a character no machine name has.
pub fn bad_protect_glob(pattern: &str) -> Option<String> {
    if pattern.trim().is_empty() {
        return Some("it is empty".into());
    }
    if let Err(e) = globset::Glob::new(pattern) {
        return Some(e.kind().to_string());
    }
    let mut in_class = false;
    for c in pattern.chars() {
        match c {
            '[' => in_class = true,
            ']' => in_class = false,
            _ if in_class => {}
            '*' | '?' | '{' | '}' | ',' => {}
            c if c.is_ascii_alphanumeric() || c == '-' || c == '.' => {}
            c => return Some(format!("`{}` never appears in a machine name", c.escape_default())),
        }
    }
    None
}

impl MachinesConfig {
    pub(crate) fn write(&self, w: &mut Writer) {
        w.string("provider", self.provider.as_str());
        w.string("orbctl", &self.orbctl);
        w.string("min_version", &self.min_version);
        w.strings("prefixes", &self.prefixes);
        w.strings("protect", &self.protect);
        if let Some(cap) = self.max_concurrent_creates {
            w.integer("max_concurrent_creates", i64::from(cap));
        }
        w.bool("auto_baselines", self.auto_baselines);
        w.inline_table("timeouts", |t| {
            t.string("create", &duration_string(self.timeouts.create));
            t.string("lifecycle", &duration_string(self.timeouts.lifecycle));
            t.string("query", &duration_string(self.timeouts.query));
        });
        w.inline_table("retry", |r| {
            r.integer("attempts", i64::from(self.retry.attempts));
            r.string("delay", &duration_string(self.retry.delay));
            r.string("backoff", self.retry.backoff.as_str());
        });
        w.strings("images", &self.images);
        w.bool("keep_on_failure", self.keep_on_failure);
        w.integer("keep_runs", i64::from(self.keep_runs));
        if self.sim != SimConfig::default() {
            w.inline_table("sim", |s| {
                if let Some(state) = &self.sim.state {
                    s.string("state", &state.to_string_lossy());
                }
                if let Some(scenario) = &self.sim.scenario {
                    s.string("scenario", &scenario.to_string_lossy());
                }
            });
        }
        if self.docker != DockerConfig::default() {
            w.inline_table("docker", |d| self.docker.write(d));
        }
        if let Some(workers) = &self.workers {
            w.inline_table("workers", |wt| {
                match &workers.source {
                    WorkerSpec::Baseline(b) => wt.string("baseline", b),
                    WorkerSpec::Image(i) => wt.string("image", i),
                }
                match workers.count {
                    WorkerCount::Count(n) => wt.integer("count", i64::from(n)),
                    WorkerCount::Threads => wt.string("count", "threads"),
                }
            });
        }
        w.inline_table("restart", |r| {
            r.integer("helper_memory_mib", self.restart.helper_memory_mib as i64);
            r.float("swap_percent", self.restart.swap_percent);
            r.string("timeout", &duration_string(self.restart.timeout));
        });
        let baselines = self
            .baselines
            .iter()
            .map(|b| {
                let mut bw = Writer::default();
                bw.string("name", &b.name);
                bw.string("image", &b.image);
                if let Some(user) = &b.user {
                    bw.string("user", user);
                }
                bw.strings("provision", &b.provision);
                bw.string("provision_timeout", &duration_string(b.provision_timeout));
                bw.bool("clone_for_create", b.clone_for_create);
                bw
            })
            .collect::<Vec<_>>();
        if !baselines.is_empty() {
            w.tables("baseline", baselines);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{bad_protect_glob, prefix_never_matches};

    #[test]
    fn prefixes_that_no_machine_name_can_start_with() {
        for ok in ["test-", "e2e.", "Dev9", "a-"] {
            assert_eq!(prefix_never_matches(ok), None, "{ok}");
        }
        for bad in ["test-*", "-test", ".x", "te st", "t_e", "---", "tést", "x/"] {
            assert!(prefix_never_matches(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn protect_globs_must_parse_and_be_able_to_match_a_name() {
        for ok in [
            "dev",
            "work-*",
            "test-fixture-db",
            "db-[0-9]",
            "{dev,prod}-box",
            "a?c",
            "x[_ ]y",
        ] {
            assert_eq!(bad_protect_glob(ok), None, "{ok}");
        }
        for bad in ["", "  ", "work-[", "dev box", "my_vm", "a/b", "{a,b"] {
            assert!(bad_protect_glob(bad).is_some(), "{bad}");
        }
    }
}
