//! The configs `cargo orbtest init` writes, derived from what the project has: for a cargo
//! workspace, tiers from the test binaries nextest lists; elsewhere, command tiers for the test
//! runners it finds. Every key written carries a comment saying what it does and its default.

use std::fmt::Write as _;
use std::path::Path;

/// nextest's kinds of test binary: `lib`, `bin`, `proc-macro`, `test` (a file under `tests/`),
/// `bench`, `example`.
pub(super) const INTEGRATION_KIND: &str = "test";

/// One test binary nextest listed, with how many tests it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedBinary {
    pub binary_id: String,
    /// The target's name (`e2e_flow` for `tests/e2e_flow.rs`).
    pub name: String,
    pub kind: String,
    pub tests: usize,
    /// `#[ignore]`d tests among them.
    pub ignored: usize,
}

/// Binaries of `tests/*` whose name says they are end-to-end tests.
fn is_e2e(b: &ListedBinary) -> bool {
    b.kind == INTEGRATION_KIND && b.name.to_ascii_lowercase().contains("e2e")
}

/// The tiers derived from a workspace's test binaries: `fast` (unit tests: every binary that is
/// not under `tests/`), `integration` (`tests/*`), `e2e` (`tests/*` named `e2e`, only if one is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    pub fast: Vec<ListedBinary>,
    pub integration: Vec<ListedBinary>,
    pub e2e: Vec<ListedBinary>,
}

impl Derived {
    pub(crate) fn from_binaries(binaries: &[ListedBinary]) -> Self {
        let with_tests = binaries.iter().filter(|b| b.tests > 0);
        let mut d = Self {
            fast: Vec::new(),
            integration: Vec::new(),
            e2e: Vec::new(),
        };
        for b in with_tests {
            let bucket = if b.kind != INTEGRATION_KIND {
                &mut d.fast
            } else if is_e2e(b) {
                &mut d.e2e
            } else {
                &mut d.integration
            };
            bucket.push(b.clone());
        }
        d
    }

    /// `(name, filter, binaries)` of each tier to write, in run order.
    pub fn tiers(&self) -> Vec<(&'static str, String, &[ListedBinary])> {
        let mut out = Vec::new();
        if !self.fast.is_empty() {
            out.push(("fast", "!kind(test)".to_string(), self.fast.as_slice()));
        }
        if !self.integration.is_empty() {
            // `binary()` must match some binary of the workspace, so the e2e split is written
            // only when an e2e binary exists.
            let filter = if self.e2e.is_empty() {
                "kind(test)".to_string()
            } else {
                "kind(test) & !binary(/e2e/)".to_string()
            };
            out.push(("integration", filter, self.integration.as_slice()));
        }
        if !self.e2e.is_empty() {
            out.push(("e2e", "kind(test) & binary(/e2e/)".to_string(), self.e2e.as_slice()));
        }
        out
    }
}

/// What each written tier says about itself in its comment.
fn what(tier: &str) -> &'static str {
    match tier {
        "fast" => "unit tests: every test binary except those under tests/ (lib, bins, proc-macros)",
        "integration" => "integration tests: the binaries under tests/",
        _ => "end-to-end tests: the binaries under tests/ whose name contains `e2e`",
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Names of up to `max` binaries, then how many more.
fn binary_names(binaries: &[ListedBinary], max: usize) -> String {
    let mut names: Vec<&str> = binaries.iter().take(max).map(|b| b.binary_id.as_str()).collect();
    let more = binaries.len().saturating_sub(max);
    let more = format!("and {more} more");
    if binaries.len() > max {
        names.push(&more);
    }
    names.join(", ")
}

/// orchestrator.toml for a cargo workspace, from its listed test binaries.
pub fn for_workspace(binaries: &[ListedBinary]) -> String {
    let derived = Derived::from_binaries(binaries);
    let tiers = derived.tiers();
    let mut out = String::from(
        "# orchestrator.toml: the tiers `cargo orbtest` runs, each one `cargo nextest run` with its own\n\
         # settings, in file order. Written by `cargo orbtest init` from the test binaries nextest\n\
         # lists in this workspace; edit freely. Every key is optional; defaults are in the comments.\n\
         # Next: `cargo orbtest list` shows what each tier selects, `cargo orbtest` runs them.\n",
    );
    if tiers.is_empty() {
        out.push_str(
            "\n# nextest found no tests yet, so this one tier selects everything and passes while\n\
             # there is nothing to run. Split it into fast/integration tiers once tests exist\n\
             # (`cargo orbtest init --force` derives them again).\n\
             [tiers.fast]\n\
             # nextest filterset choosing the tier's tests (https://nexte.st/docs/filtersets/). Default \"all()\".\n\
             filter = \"all()\"\n\
             # What a tier that selects no test is: \"fail\" (the default: a CI job that ran nothing\n\
             # must not pass), \"warn\" or \"pass\".\n\
             no_tests = \"warn\"\n",
        );
    }
    let mut previous: Option<&str> = None;
    for (name, filter, binaries) in &tiers {
        let tests: usize = binaries.iter().map(|b| b.tests).sum();
        let ignored: usize = binaries.iter().map(|b| b.ignored).sum();
        let ignored = if ignored > 0 {
            format!(", {ignored} of them #[ignore]d")
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "\n# {}.\n# Found {} in {}: {}{ignored}.\n[tiers.{name}]\n\
             # nextest filterset choosing the tier's tests (https://nexte.st/docs/filtersets/). Default \"all()\".\n\
             filter = \"{filter}\"\n\
             # Tests run at once: a number or \"num-cpus\" (the default).\n\
             threads = \"num-cpus\"\n\
             # Per-test timeout; a test past it is stopped and counts as timed out.\n\
             # Default 60s (300s for a tier named integration, 900s for e2e).\n\
             timeout = \"{}\"\n\
             # Retries of a failing test: a count, or {{ count, delay, backoff = \"fixed\" | \"exponential\" }}.\n\
             # A test that fails and then passes is reported as flaky. Default 0.\n\
             retries = {}\n",
            what(name),
            count(tests, "test", "tests"),
            count(binaries.len(), "binary", "binaries"),
            binary_names(binaries, 6),
            super::duration_string(super::default_timeout(name)),
            0,
        );
        match previous {
            Some(p) => {
                let _ = write!(
                    out,
                    "# Run only if these tiers passed earlier in the same invocation. Default [].\n\
                     needs = [\"{p}\"]\n"
                );
            }
            None => out
                .push_str("# Run only if these tiers passed earlier in the same invocation. Default [].\nneeds = []\n"),
        }
        out.push_str(
            "# Whether the tests create OrbStack machines (adds preflight, the orbctl shim and\n\
             # postflight; see [machines] below). Default false.\n\
             machines = false\n\
             # Known-flaky tests (filtersets) get flaky_retries (default 2) extra retries. Default [].\n\
             # flaky = [\"test(=tests::talks_to_the_network)\"]\n",
        );
        previous = Some(name);
    }
    out.push_str(OPTIONAL_SECTIONS);
    out
}

/// A test runner found outside a cargo workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandTierStarter {
    /// The tier's name: `pytest`, `go`, `npm`.
    pub name: &'static str,
    /// Why it was chosen (`pytest.ini`, `go.mod`, ...).
    pub found: String,
    pub command: Vec<String>,
    /// What a retry runs, when the runner can rerun only what failed.
    pub rerun: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    /// Said in a comment above the command (how to get per-test results, ...).
    pub notes: Vec<String>,
}

fn toml_strings(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| toml_string(s)).collect();
    format!("[{}]", quoted.join(", "))
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// orchestrator.toml for a project without cargo: one command tier per runner found.
pub fn for_commands(runners: &[CommandTierStarter]) -> String {
    let mut out = String::from(
        "# orchestrator.toml: the tiers `cargo orbtest` runs, in file order. Written by\n\
         # `cargo orbtest init` for the test runners it found here; edit freely. Each tier runs its\n\
         # command directly (no shell) in this directory; results come from the JUnit report it\n\
         # writes at {junit}, else from its exit code. Every key except `command` is optional.\n\
         # Next: `cargo orbtest list` shows the tiers, `cargo orbtest` runs them.\n",
    );
    for r in runners {
        let _ = write!(out, "\n# Found {}.\n[tiers.{}]\n", r.found, r.name);
        out.push_str(
            "# The command and its arguments. Placeholders: {junit} (where to write the JUnit report),\n\
             # {threads}, {tier}, {run_dir}.\n",
        );
        for note in &r.notes {
            let _ = writeln!(out, "# {note}");
        }
        let _ = writeln!(out, "command = {}", toml_strings(&r.command));
        match &r.rerun {
            Some(rerun) => {
                let _ = writeln!(
                    out,
                    "# What a retry runs (here: only the tests that failed). Default: `command` again.\nrerun = {}",
                    toml_strings(rerun)
                );
            }
            None => out.push_str("# What a retry runs. Default: `command` again.\n# rerun = []\n"),
        }
        if !r.env.is_empty() {
            let pairs: Vec<String> = r.env.iter().map(|(k, v)| format!("{k} = {}", toml_string(v))).collect();
            let _ = writeln!(
                out,
                "# Added to the command's environment (placeholders work here too). Default {{}}.\nenv = {{ {} }}",
                pairs.join(", ")
            );
        }
        out.push_str(
            "# Retries of the whole command after a failure. Default 0.\n\
             retries = 0\n\
             # Bounds the whole tier, every attempt included. Default 30m.\n\
             timeout = \"30m\"\n\
             # The number {threads} stands for: a number or \"num-cpus\" (the default).\n\
             threads = \"num-cpus\"\n\
             # Whether the tests create OrbStack machines (preflight, the orbctl shim, postflight).\n\
             # Default false.\n\
             machines = false\n",
        );
    }
    out.push_str(OPTIONAL_SECTIONS);
    out
}

/// The sections every starter ends with, commented out: what to add when machines come in.
const OPTIONAL_SECTIONS: &str = r#"
# A tier can also run any test runner's command instead of nextest:
# [tiers.python]
# command = ["pytest", "-q", "--junitxml={junit}", "-n", "{threads}"]
# rerun = ["pytest", "-q", "--lf", "--junitxml={junit}"]   # what `retries` run (default: command)
# timeout = "30m"                   # bounds the whole tier (default 30m for command tiers)
# workdir = "python"                # relative to this file (default: its directory)
# env = { PYTHONUNBUFFERED = "1" }

# Machines your tests create with `orbctl` (tiers with machines = true):
# [machines]
# provider = "orbstack"             # or "sim" for the bundled orbsim simulator
# prefixes = ["test-"]              # machines cleanup may delete (at least 3 characters)
# protect = ["dev", "work-*"]       # never deleted
# max_concurrent_creates = 4        # default: as many as the host has memory headroom for
# auto_baselines = false            # default true: clone images the last run created again and again
# images = ["ubuntu:22.04"]         # warmed in preflight
#
# [[machines.baseline]]             # a provisioned machine tests' creates are cloned from
# name = "orbtest-base-jammy"
# image = "ubuntu:22.04"
# provision = ["apt-get update", "apt-get install -y python3"]

# [pressure]                        # what machine tiers do when the host swaps
# swap_limit_percent = 80
# on_pressure = "wait"              # wait | skip | fail | ignore

# [gate]                            # checked with `cargo orbtest --gate`
# max_failed = 0
# max_flaky = 2
# max_duration = "15m"
"#;

/// What to say when the config file does not exist.
pub fn missing_config_message(path: &Path) -> String {
    format!(
        "no config file at {}\n\n\
         cargo orbtest reads its tiers from orchestrator.toml at the workspace root.\n\
         Run `cargo orbtest init` to write one derived from this workspace's tests, or pass\n\
         --config PATH. A minimal one looks like this:\n\n\
         \x20   [tiers.fast]\n\
         \x20   filter = \"!kind(test)\"   # unit tests\n\n\
         \x20   [tiers.integration]\n\
         \x20   filter = \"kind(test)\"    # tests/*\n\
         \x20   needs = [\"fast\"]",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Source, parse};

    fn bin(id: &str, kind: &str, tests: usize) -> ListedBinary {
        ListedBinary {
            binary_id: id.into(),
            name: id.rsplit("::").next().unwrap_or(id).into(),
            kind: kind.into(),
            tests,
            ignored: 0,
        }
    }

    fn tier_names(text: &str) -> Vec<String> {
        let config = parse(Source::new("orchestrator.toml", text)).unwrap_or_else(|e| panic!("{e}\n{text}"));
        config.tier_names().iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_fresh_library_gets_one_fast_tier() {
        let text = for_workspace(&[bin("calc", "lib", 1)]);
        assert_eq!(tier_names(&text), ["fast"]);
        assert!(text.contains("Found 1 test in 1 binary: calc."), "{text}");
        assert!(
            !text.contains("binary("),
            "no binary() that could match nothing: {text}"
        );
    }

    #[test]
    fn integration_tests_get_their_tier_and_e2e_only_when_named() {
        let text = for_workspace(&[
            bin("calc", "lib", 3),
            bin("calc::api", "test", 2),
            bin("calc::cli", "bin", 0),
        ]);
        assert_eq!(tier_names(&text), ["fast", "integration"]);
        assert!(text.contains("filter = \"kind(test)\"\n"), "{text}");
        assert!(text.contains("needs = [\"fast\"]"), "{text}");
        let text = for_workspace(&[
            bin("calc", "lib", 3),
            bin("calc::api", "test", 2),
            bin("calc::e2e_flow", "test", 1),
        ]);
        assert_eq!(tier_names(&text), ["fast", "integration", "e2e"]);
        assert!(text.contains("filter = \"kind(test) & !binary(/e2e/)\""), "{text}");
        assert!(text.contains("needs = [\"integration\"]"), "{text}");
    }

    #[test]
    fn only_integration_tests_need_no_fast_tier() {
        let text = for_workspace(&[bin("calc", "lib", 0), bin("calc::api", "test", 2)]);
        assert_eq!(tier_names(&text), ["integration"]);
        assert!(text.contains("needs = []"), "{text}");
    }

    #[test]
    fn no_tests_at_all_still_loads_and_passes_while_empty() {
        let text = for_workspace(&[bin("calc", "lib", 0)]);
        assert_eq!(tier_names(&text), ["fast"]);
        assert!(text.contains("no_tests = \"warn\""), "{text}");
    }

    #[test]
    fn every_written_key_has_a_comment_above_it() {
        let texts = [
            for_workspace(&[
                bin("calc", "lib", 3),
                bin("calc::api", "test", 2),
                bin("calc::e2e", "test", 1),
            ]),
            for_workspace(&[]),
            for_commands(&[CommandTierStarter {
                name: "pytest",
                found: "pytest.ini".into(),
                command: vec!["pytest".into(), "--junitxml={junit}".into()],
                rerun: Some(vec!["pytest".into(), "--lf".into()]),
                env: vec![("A".into(), "\"q\"".into())],
                notes: vec![],
            }]),
        ];
        for text in &texts {
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                let is_key = !line.starts_with('#') && !line.starts_with('[') && line.contains(" = ");
                if is_key {
                    assert!(
                        i > 0 && lines[i - 1].starts_with('#'),
                        "`{line}` has no comment above it:\n{text}"
                    );
                }
            }
        }
    }

    #[test]
    fn command_tiers_quote_their_arguments() {
        let text = for_commands(&[CommandTierStarter {
            name: "npm",
            found: "package.json".into(),
            command: vec!["npm".into(), "test".into(), "--".into(), "--x=\"a b\"\\".into()],
            rerun: None,
            env: vec![("JEST_JUNIT_OUTPUT_FILE".into(), "{junit}".into())],
            notes: vec!["a note".into()],
        }]);
        let config = parse(Source::new("orchestrator.toml", text.as_str())).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let tier = config.tier("npm").unwrap();
        assert_eq!(tier.command.as_ref().unwrap().argv[3], "--x=\"a b\"\\");
        assert_eq!(
            tier.command.as_ref().unwrap().env,
            [("JEST_JUNIT_OUTPUT_FILE".to_string(), "{junit}".to_string())]
        );
    }
}
