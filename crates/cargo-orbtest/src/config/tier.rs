//! `[tiers.NAME]`: one nextest run with its own filterset, threads, timeout and retries, or a
//! command (pytest, go test, jest, maven, ...) with its own timeout, retries and environment.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::DeValue;

use super::diagnostic::Diagnostic;
use super::reader::{Diagnostics, Table, duration_value, integer_value};
use super::write::{Writer, duration_string};

pub(crate) const KEYS: &[&str] = &[
    "filter",
    "threads",
    "timeout",
    "grace_period",
    "retries",
    "flaky",
    "flaky_retries",
    "fail_fast",
    "slowest_first",
    "no_tests",
    "needs",
    "machines",
    "command",
    "rerun",
    "workdir",
    "env",
    "list",
    "new_test_runs",
];

/// Keys that only mean something for a nextest tier.
const NEXTEST_ONLY: &[&str] = &["flaky", "flaky_retries", "fail_fast", "slowest_first", "new_test_runs"];
/// Keys that only mean something for a command tier.
const COMMAND_ONLY: &[&str] = &["rerun", "workdir", "env", "list"];

/// A command tier's default timeout: it bounds the whole command, not one test.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30 * 60);

const RETRY_KEYS: &[&str] = &["count", "delay", "backoff", "max_delay", "jitter"];

/// A validated tier. Every field has a documented default (see `orchestrator.toml` reference in
/// the README).
#[derive(Debug, Clone)]
pub struct Tier {
    pub name: String,
    /// nextest filterset selecting the tier's tests. Default `all()`.
    pub filter: String,
    /// Test threads. Default `num-cpus`.
    pub threads: Threads,
    /// Per-test timeout. Default by name: `integration` 300s, `e2e` 900s, others 60s.
    pub timeout: Duration,
    /// Time between SIGTERM and SIGKILL for a test over its timeout. Default 10s.
    pub grace_period: Duration,
    /// Retries for every test of the tier. Default none.
    pub retries: Retries,
    /// Filtersets of known-flaky tests that get `flaky_retries` extra retries.
    pub flaky: Vec<String>,
    /// Extra retries for tests matching `flaky`. Default 2.
    pub flaky_retries: u32,
    /// Stop the tier at its first failing test (nextest's fail-fast). Default false: a tier
    /// reports every test, and the tier as a whole stops later tiers instead.
    pub fail_fast: bool,
    /// Start the tests that took longest in earlier runs first (nextest priorities), so the
    /// tier does not end with one long test running alone. Default true.
    pub slowest_first: bool,
    /// What a tier whose filter selects no test is. Default `Fail`: a gate never passes on
    /// nothing.
    pub no_tests: NoTests,
    /// Tiers that must pass earlier in the same invocation. Default none.
    pub needs: Vec<String>,
    /// Whether the tier's tests create OrbStack machines (preflight, shim, postflight). Default false.
    pub machines: bool,
    /// Runs of a test the ledger has never seen (early flake detection). Default 1: no extra runs.
    pub new_test_runs: u32,
    /// Run this command instead of nextest. Default none (a nextest tier).
    pub command: Option<CommandTier>,
    /// Where things are in the file, to point nextest's complaints at the right line.
    pub spans: TierSpans,
}

/// What a command tier runs. Strings may hold `{placeholders}` (see `placeholders`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandTier {
    /// Program and arguments, run directly (no shell).
    pub argv: Vec<String>,
    /// What a retry runs instead of `argv` (e.g. pytest's `--lf`). Default: `argv` again.
    pub rerun: Option<Vec<String>>,
    /// Where it runs: relative to the config file's directory, which is the default.
    pub workdir: Option<PathBuf>,
    /// Added to the environment, in file order.
    pub env: Vec<(String, String)>,
    /// A command printing the tier's test ids, one per line up to the first empty line
    /// (pytest: `["pytest", "--collect-only", "-q"]`): with `{tests}` in `command`, it lets
    /// shards split the tier.
    pub list: Option<Vec<String>>,
}

impl CommandTier {
    /// The directory the command runs in, given the config file's directory.
    pub fn workdir(&self, config_dir: &Path) -> PathBuf {
        self.workdir.clone().unwrap_or_else(|| config_dir.to_path_buf())
    }

    /// Whether the command can be told which tests to run (`{tests}`).
    pub(crate) fn takes_tests(&self) -> bool {
        let mentions =
            |s: &String| super::placeholders::check(s).is_ok_and(|names| names.contains(&super::placeholders::TESTS));
        self.argv.iter().any(mentions) || self.env.iter().any(|(_, v)| mentions(v))
    }
}

#[derive(Debug, Clone, Default)]
pub struct TierSpans {
    pub header: Range<usize>,
    pub filter: Option<Range<usize>>,
    pub flaky: Vec<Range<usize>>,
    pub needs: Vec<Range<usize>>,
    /// The `command` list, and each of its elements.
    pub command: Option<Range<usize>>,
    pub command_args: Vec<Range<usize>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    NumCpus,
    /// A positive count, or negative: that many fewer than the number of CPUs (as nextest).
    Count(i64),
}

impl std::fmt::Display for Threads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Threads::NumCpus => f.write_str("num-cpus"),
            Threads::Count(n) => write!(f, "{n}"),
        }
    }
}

/// What a tier that selects no test is (nextest's `--no-tests`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NoTests {
    /// The tier fails (a run failing only for this exits 4).
    #[default]
    Fail,
    /// The tier passes with a warning.
    Warn,
    /// The tier passes.
    Pass,
}

impl NoTests {
    pub fn as_str(self) -> &'static str {
        match self {
            NoTests::Fail => "fail",
            NoTests::Warn => "warn",
            NoTests::Pass => "pass",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "fail" => NoTests::Fail,
            "warn" => NoTests::Warn,
            "pass" => NoTests::Pass,
            _ => return None,
        })
    }
}

/// How retry delays grow: the machines client's, so `[machines] retry` and a tier's `retries`
/// mean the same thing.
pub use orbtest_machines::policy::Backoff;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retries {
    pub count: u32,
    pub delay: Duration,
    pub backoff: Backoff,
    pub max_delay: Option<Duration>,
    pub jitter: bool,
}

impl Default for Retries {
    fn default() -> Self {
        Self {
            count: 0,
            delay: Duration::ZERO,
            backoff: Backoff::Fixed,
            max_delay: None,
            jitter: false,
        }
    }
}

impl Retries {
    pub(crate) fn with_extra(self, extra: u32) -> Self {
        Self {
            count: self.count.saturating_add(extra),
            ..self
        }
    }
}

/// The default per-test timeout of a tier, by the conventional tier names (Bazel's sizes).
pub fn default_timeout(name: &str) -> Duration {
    match name {
        "integration" => Duration::from_secs(300),
        "e2e" => Duration::from_secs(900),
        _ => Duration::from_secs(60),
    }
}

pub(crate) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.len() <= 64
}

pub(crate) fn read(
    name: &str,
    name_span: Range<usize>,
    t: &Table<'_, '_>,
    base_dir: &Path,
    diags: &mut Diagnostics,
) -> Tier {
    t.deny_unknown(KEYS, diags);
    if !valid_name(name) {
        diags.push(
            Diagnostic::new(name_span.clone(), format!("invalid tier name `{name}`"))
                .help("tier names start with a letter or digit and contain only letters, digits, `-` and `_`"),
        );
    }
    let filter = t.string("filter", diags);
    let flaky = t.string_list("flaky", diags).unwrap_or_default();
    let needs = t.string_list("needs", diags).unwrap_or_default();
    for f in flaky.iter().filter(|f| f.get_ref().trim().is_empty()) {
        diags.push(
            Diagnostic::new(f.span(), "empty filterset in `flaky`")
                .help("write a filterset such as \"test(=vm_info)\""),
        );
    }
    if let Some(f) = filter.as_ref().filter(|f| f.get_ref().trim().is_empty()) {
        diags.push(
            Diagnostic::new(f.span(), "empty filterset in `filter`")
                .help("leave `filter` out to select all tests, or write a filterset such as \"kind(lib)\""),
        );
    }
    let command = read_command(t, base_dir, diags);
    let command_spans = t
        .get("command")
        .map(|v| {
            let args = match v.get_ref() {
                DeValue::Array(items) => items.iter().map(|i| i.span()).collect(),
                _ => Vec::new(),
            };
            (v.span(), args)
        })
        .unwrap_or_default();
    let default_tier_timeout = if t.get("command").is_some() {
        COMMAND_TIMEOUT
    } else {
        default_timeout(name)
    };
    Tier {
        name: name.to_string(),
        filter: filter
            .as_ref()
            .map_or_else(|| "all()".to_string(), |f| f.get_ref().clone()),
        threads: read_threads(t, diags).unwrap_or(Threads::NumCpus),
        timeout: positive(t, "timeout", diags).unwrap_or(default_tier_timeout),
        grace_period: t.duration("grace_period", diags).unwrap_or(Duration::from_secs(10)),
        retries: read_retries(t, diags).unwrap_or_default(),
        flaky_retries: t.integer("flaky_retries", 0..=100, diags).map_or(2, |n| n as u32),
        fail_fast: t.bool("fail_fast", diags).unwrap_or(false),
        slowest_first: t.bool("slowest_first", diags).unwrap_or(true),
        no_tests: read_no_tests(t, diags),
        machines: t.bool("machines", diags).unwrap_or(false),
        new_test_runs: t.integer("new_test_runs", 1..=100, diags).map_or(1, |n| n as u32),
        command,
        spans: TierSpans {
            header: name_span,
            filter: filter.as_ref().map(|f| f.span()),
            flaky: flaky.iter().map(|f| f.span()).collect(),
            needs: needs.iter().map(|n| n.span()).collect(),
            command: t.get("command").map(|_| command_spans.0.clone()),
            command_args: command_spans.1,
        },
        flaky: flaky.into_iter().map(|f| f.into_inner()).collect(),
        needs: needs.into_iter().map(|n| n.into_inner()).collect(),
    }
}

/// `command`, `rerun`, `workdir` and `env`, and the keys that do not go with them.
fn read_command(t: &Table<'_, '_>, base_dir: &Path, diags: &mut Diagnostics) -> Option<CommandTier> {
    let Some(command_value) = t.get("command") else {
        for key in COMMAND_ONLY {
            if let Some(v) = t.get(key) {
                diags.push(
                    Diagnostic::new(v.span(), format!("`{key}` only applies to a command tier"))
                        .help("add `command = [...]` to run a command instead of nextest, or remove it"),
                );
            }
        }
        return None;
    };
    if t.get("filter").is_some() {
        diags.push(
            Diagnostic::new(
                command_value.span(),
                format!("{} has both `filter` and `command`", t.name),
            )
            .help(
                "a tier runs either the nextest tests its `filter` selects, or a `command` (pytest, go test, ...); \
                 make them two tiers",
            ),
        );
    }
    for key in NEXTEST_ONLY {
        if let Some(v) = t.get(key) {
            diags.push(
                Diagnostic::new(v.span(), format!("`{key}` does not apply to a command tier")).help(
                    "it is a nextest setting; a command tier reruns the whole command (`retries`, optionally \
                     with a `rerun` command such as pytest's --lf), and fail-fast is the runner's own flag",
                ),
            );
        }
    }
    let argv = command_list(t, "command", diags);
    let rerun = t.get("rerun").and_then(|_| command_list(t, "rerun", diags));
    let workdir = t.string("workdir", diags).and_then(|w| {
        if w.get_ref().trim().is_empty() {
            diags.push(
                Diagnostic::new(w.span(), "`workdir` is empty")
                    .help("leave it out to run in the config file's directory"),
            );
            return None;
        }
        Some(base_dir.join(w.get_ref()))
    });
    let env = read_env(t, diags);
    let list = t.get("list").and_then(|_| command_list(t, "list", diags));
    let command = CommandTier {
        argv: argv.unwrap_or_default(),
        rerun,
        workdir,
        env,
        list,
    };
    if let (Some(list), false) = (t.get("list"), command.takes_tests()) {
        diags.push(
            Diagnostic::new(list.span(), "`list` without `{tests}` in `command`")
                .help("shards can split the tier only if its command is told which tests to run: add \"{tests}\" to `command`"),
        );
    }
    Some(command)
}

/// A non-empty list of strings whose placeholders are all known.
fn command_list(t: &Table<'_, '_>, key: &str, diags: &mut Diagnostics) -> Option<Vec<String>> {
    let value = t.get(key)?;
    let items = t.string_list(key, diags)?;
    if items.is_empty() || items[0].get_ref().trim().is_empty() {
        diags.push(
            Diagnostic::new(value.span(), format!("`{key}` needs a program to run"))
                .help(r#"for example `command = ["pytest", "-q", "--junitxml={junit}"]`"#),
        );
        return None;
    }
    for item in &items {
        check_placeholders(item.get_ref(), item.span(), diags);
    }
    Some(items.into_iter().map(|i| i.into_inner()).collect())
}

fn check_placeholders(text: &str, span: Range<usize>, diags: &mut Diagnostics) {
    if let Err(e) = super::placeholders::check(text) {
        // Past the opening quote; exact for strings without escapes.
        let last = span.end.saturating_sub(1).max(span.start);
        let start = (span.start + 1 + e.offset).min(last);
        let end = (start + e.len).min(last).max(start + 1);
        diags.push(Diagnostic::new(start..end, e.message).help(e.help));
    }
}

fn read_env(t: &Table<'_, '_>, diags: &mut Diagnostics) -> Vec<(String, String)> {
    let Some(table) = t.table("env", format!("{}.env", t.name), diags) else {
        return Vec::new();
    };
    let mut env = Vec::new();
    for (key, value) in table.table.iter() {
        let name = key.get_ref().as_ref();
        if name.is_empty() || name.contains(['=', '\0']) {
            diags.push(Diagnostic::new(
                key.span(),
                format!("`{name}` is not a valid environment variable name"),
            ));
            continue;
        }
        match value.get_ref() {
            DeValue::String(s) => {
                check_placeholders(s, value.span(), diags);
                env.push((name.to_string(), s.to_string()));
            }
            other => diags.push(
                Diagnostic::new(
                    value.span(),
                    format!(
                        "environment variable `{name}` must be a string, found {}",
                        other.type_str()
                    ),
                )
                .help(format!("quote it: {name} = \"...\"")),
            ),
        }
    }
    env
}

fn read_no_tests(t: &Table<'_, '_>, diags: &mut Diagnostics) -> NoTests {
    let Some(v) = t.string("no_tests", diags) else {
        return NoTests::default();
    };
    NoTests::parse(v.get_ref()).unwrap_or_else(|| {
        diags.push(
            Diagnostic::new(v.span(), format!("unknown `no_tests` value `{}`", v.get_ref()))
                .help("use \"fail\" (the default), \"warn\" or \"pass\""),
        );
        NoTests::default()
    })
}

fn positive(t: &Table<'_, '_>, key: &str, diags: &mut Diagnostics) -> Option<Duration> {
    let d = t.duration(key, diags)?;
    if d.is_zero() {
        let span = t.get(key).map_or(t.span.clone(), |v| v.span());
        diags.push(Diagnostic::new(span, format!("`{key}` must be longer than zero")));
        return None;
    }
    Some(d)
}

fn read_threads(t: &Table<'_, '_>, diags: &mut Diagnostics) -> Option<Threads> {
    let value = t.get("threads")?;
    match value.get_ref() {
        DeValue::String(s) if s == "num-cpus" => Some(Threads::NumCpus),
        DeValue::Integer(_) => {
            let n = integer_value(value, "threads", -1024..=1024, diags)?;
            if n == 0 {
                diags.push(
                    Diagnostic::new(value.span(), "`threads` cannot be 0").help(
                        "use a positive count, \"num-cpus\", or a negative count for that many fewer than the CPUs",
                    ),
                );
                return None;
            }
            Some(Threads::Count(n))
        }
        _ => {
            diags.push(
                Diagnostic::new(value.span(), "`threads` must be a whole number or \"num-cpus\"")
                    .help("for example `threads = 4` or `threads = \"num-cpus\"`"),
            );
            None
        }
    }
}

fn read_retries(t: &Table<'_, '_>, diags: &mut Diagnostics) -> Option<Retries> {
    let value = t.get("retries")?;
    match value.get_ref() {
        DeValue::Integer(_) => {
            let count = integer_value(value, "retries", 0..=100, diags)? as u32;
            Some(Retries {
                count,
                ..Retries::default()
            })
        }
        DeValue::Table(table) => {
            let r = Table::new(table, value.span(), format!("{}.retries", t.name));
            r.deny_unknown(RETRY_KEYS, diags);
            let backoff = match r.string("backoff", diags) {
                None => Backoff::Fixed,
                Some(b) => match b.get_ref().as_str() {
                    "fixed" => Backoff::Fixed,
                    "exponential" => Backoff::Exponential,
                    other => {
                        diags.push(
                            Diagnostic::new(b.span(), format!("unknown backoff `{other}`"))
                                .help("use \"fixed\" or \"exponential\""),
                        );
                        Backoff::Fixed
                    }
                },
            };
            let max_delay = r.get("max_delay").and_then(|v| duration_value(v, "max_delay", diags));
            let delay = r.duration("delay", diags).unwrap_or(Duration::ZERO);
            if backoff == Backoff::Exponential && delay.is_zero() {
                diags.push(
                    Diagnostic::new(value.span(), "exponential backoff needs a `delay` longer than zero")
                        .help(r#"for example `retries = { count = 2, delay = "1s", backoff = "exponential" }`"#),
                );
            }
            Some(Retries {
                count: r.integer("count", 0..=100, diags).map_or(0, |n| n as u32),
                delay,
                backoff,
                max_delay,
                jitter: r.bool("jitter", diags).unwrap_or(false),
            })
        }
        _ => {
            diags.push(
                Diagnostic::new(value.span(), "`retries` must be a count or a table").help(
                    r#"for example `retries = 2` or `retries = { count = 2, delay = "10s", backoff = "exponential" }`"#,
                ),
            );
            None
        }
    }
}

impl Tier {
    pub(crate) fn is_command(&self) -> bool {
        self.command.is_some()
    }

    /// Every setting, defaults included, as `[tiers.NAME]` would spell it.
    pub(crate) fn write(&self, w: &mut Writer) {
        if let Some(c) = &self.command {
            w.strings("command", &c.argv);
            if let Some(rerun) = &c.rerun {
                w.strings("rerun", rerun);
            }
            if let Some(dir) = &c.workdir {
                w.string("workdir", &dir.to_string_lossy());
            }
            if !c.env.is_empty() {
                w.inline_table("env", |e| {
                    for (k, v) in &c.env {
                        e.string(k, v);
                    }
                });
            }
            if let Some(list) = &c.list {
                w.strings("list", list);
            }
        } else {
            w.string("filter", &self.filter);
        }
        match self.threads {
            Threads::NumCpus => w.string("threads", "num-cpus"),
            Threads::Count(n) => w.integer("threads", n),
        }
        w.string("timeout", &duration_string(self.timeout));
        w.string("grace_period", &duration_string(self.grace_period));
        w.inline_table("retries", |r| {
            r.integer("count", i64::from(self.retries.count));
            r.string("delay", &duration_string(self.retries.delay));
            r.string("backoff", self.retries.backoff.as_str());
            if let Some(max) = self.retries.max_delay {
                r.string("max_delay", &duration_string(max));
            }
            r.bool("jitter", self.retries.jitter);
        });
        if self.command.is_none() {
            w.strings("flaky", &self.flaky);
            w.integer("flaky_retries", i64::from(self.flaky_retries));
            w.bool("fail_fast", self.fail_fast);
            w.bool("slowest_first", self.slowest_first);
            w.integer("new_test_runs", i64::from(self.new_test_runs));
        }
        w.string("no_tests", self.no_tests.as_str());
        w.strings("needs", &self.needs);
        w.bool("machines", self.machines);
    }
}
