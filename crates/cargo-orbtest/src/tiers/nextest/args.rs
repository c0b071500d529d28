//! Arguments after `--`, split between the one build and the per-tier runs: cargo's build
//! options shape what gets compiled; everything else is nextest's and goes to each tier, except
//! `--no-tests` and `--profile`, which orbtest passes itself and so applies its own way.

use crate::config::NoTests;
use crate::errors::Error;

/// Cargo options that take a value (as `--opt value`, `--opt=value` or `-Xvalue`).
const BUILD_WITH_VALUE: &[&str] = &[
    "-p",
    "--package",
    "--exclude",
    "--bin",
    "--example",
    "--test",
    "--bench",
    "-F",
    "--features",
    "--build-jobs",
    "--cargo-profile",
    "--target",
    "--target-dir",
    "--cargo-message-format",
    "--config",
    "-Z",
];

/// Cargo options without a value.
const BUILD_FLAGS: &[&str] = &[
    "--workspace",
    "--all",
    "--lib",
    "--bins",
    "--examples",
    "--tests",
    "--benches",
    "--all-targets",
    "--all-features",
    "--no-default-features",
    "-r",
    "--release",
    "--unit-graph",
    "--timings",
    "--frozen",
    "--locked",
    "--offline",
    "--cargo-quiet",
    "--cargo-verbose",
    "--ignore-rust-version",
    "--future-incompat-report",
];

/// nextest run options that take a value: their value is not a test-name filter.
const RUN_WITH_VALUE: &[&str] = &[
    "-E",
    "--filterset",
    "--filter-expr",
    "--partition",
    "--run-ignored",
    "-j",
    "--test-threads",
    "--retries",
    "--max-fail",
    "--status-level",
    "--final-status-level",
    "--failure-output",
    "--success-output",
    "--show-progress",
    "--max-progress-running",
    "--message-format",
    "--message-format-version",
    "--color",
    "--test-group",
    "--stress-count",
    "--stress-duration",
    "--debugger",
    "--tracer",
    "--archive-file",
    "--archive-format",
    "--workspace-remap",
    "--extract-to",
    "--target-dir-remap",
];

/// Run options that narrow what a tier selects: a tier they leave empty selected nothing of
/// this run, which is not the tier's own fault. They (and `--run-ignored`) also go to the
/// listing that counts a skipped tier's tests.
const NARROWING: &[&str] = &["-E", "--filterset", "--filter-expr", "--partition"];
const SELECTING: &[&str] = &["-E", "--filterset", "--filter-expr", "--partition", "--run-ignored"];
/// Build options that leave tests out of the build: a package, a target.
const NARROWING_BUILD: &[&str] = &[
    "-p",
    "--package",
    "--exclude",
    "--bin",
    "--example",
    "--test",
    "--bench",
    "--lib",
    "--bins",
    "--examples",
    "--tests",
    "--benches",
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ForwardedArgs {
    /// For the build step (`cargo nextest list --list-type binaries-only`).
    pub build: Vec<String>,
    /// For every tier's `cargo nextest run`.
    pub run: Vec<String>,
    /// `--no-tests X`: wins over every tier's `no_tests` for this run (orbtest passes its own
    /// `--no-tests` to nextest, so the forwarded one is taken out).
    pub no_tests: Option<NoTests>,
    /// `--profile X` (`-P X`): every tier's profile inherits from it (orbtest passes its own
    /// `--profile orbtest-<tier>`).
    pub profile: Option<String>,
    /// A filterset, a partition, test-name filters or a package narrow this run's tiers.
    pub narrowed: bool,
    /// The run arguments that decide which tests a tier selects (filtersets, partition,
    /// test-name filters), for listing a tier that did not run.
    pub select: Vec<String>,
}

impl ForwardedArgs {
    pub(crate) fn split(args: &[String]) -> Result<Self, Error> {
        let mut out = Self::default();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            if arg == "--" {
                // Test-binary arguments: all for the run.
                out.run.push(arg.clone());
                out.run.extend(iter.by_ref().cloned());
                break;
            }
            let (name, attached) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
                _ => (arg.as_str(), None),
            };
            // Ours to pass: taken out and applied by orbtest.
            let own = match name {
                "--no-tests" | "--profile" | "-P" => Some((name, attached)),
                _ if arg.starts_with("-P") => Some(("-P", Some(arg[2..].trim_start_matches('=').to_string()))),
                _ => None,
            };
            if let Some((name, attached)) = own {
                let Some(value) = attached.or_else(|| iter.next().cloned()) else {
                    return Err(Error::Usage(format!("`-- {name}` needs a value")));
                };
                if name == "--no-tests" {
                    out.no_tests = Some(NoTests::parse(&value).ok_or_else(|| {
                        Error::Usage(format!("`-- --no-tests {value}`: expected `fail`, `warn` or `pass`"))
                    })?);
                } else {
                    out.profile = Some(value);
                }
                continue;
            }
            if NARROWING_BUILD.contains(&name) || is_joined_short(arg) && arg.starts_with("-p") {
                out.narrowed = true;
            }
            if BUILD_FLAGS.contains(&name) {
                out.build.push(arg.clone());
            } else if BUILD_WITH_VALUE.contains(&name) {
                out.build.push(arg.clone());
                if !arg.contains('=')
                    && let Some(value) = iter.next()
                {
                    out.build.push(value.clone());
                }
            } else if is_joined_short(arg) {
                // `-pfoo`, `-Zflag`.
                out.build.push(arg.clone());
            } else {
                let positional = !arg.starts_with('-');
                out.narrowed |= NARROWING.contains(&name) || positional;
                let selecting = SELECTING.contains(&name) || positional;
                out.run.push(arg.clone());
                if selecting {
                    out.select.push(arg.clone());
                }
                if RUN_WITH_VALUE.contains(&name)
                    && !arg.contains('=')
                    && let Some(value) = iter.next()
                {
                    out.run.push(value.clone());
                    if selecting {
                        out.select.push(value.clone());
                    }
                }
            }
        }
        Ok(out)
    }
}

impl ForwardedArgs {
    /// A forwarded `--profile` that the user's nextest config does not define is a usage error
    /// (`ws_root`: where `.config/nextest.toml` is, unless `--config-file` names another).
    pub(crate) fn check_profile(&self, ws_root: &std::path::Path) -> Result<(), Error> {
        let Some(name) = &self.profile else {
            return Ok(());
        };
        let mut config_file = ws_root.join(".config/nextest.toml");
        let mut args = self.run.iter().take_while(|a| *a != "--");
        while let Some(arg) = args.next() {
            if arg == "--config-file" {
                if let Some(file) = args.next() {
                    config_file = file.into();
                }
            } else if let Some(file) = arg.strip_prefix("--config-file=") {
                config_file = file.into();
            }
        }
        super::tool_config::check_profile(name, &config_file)
    }

    /// `args` without what selects tests (filtersets, test-name filters, partitions): what a
    /// rerun of one test keeps.
    pub(crate) fn without_selection(args: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            if arg == "--" {
                out.push(arg.clone());
                out.extend(iter.by_ref().cloned());
                break;
            }
            let name = match arg.split_once('=') {
                Some((n, _)) if n.starts_with("--") => n,
                _ => arg.as_str(),
            };
            let takes_value = !arg.contains('=')
                && (RUN_WITH_VALUE.contains(&name)
                    || BUILD_WITH_VALUE.contains(&name)
                    || OWN_WITH_VALUE.contains(&name));
            if NARROWING.contains(&name) {
                if takes_value {
                    iter.next();
                }
                continue;
            }
            if !arg.starts_with('-') {
                // A test-name filter.
                continue;
            }
            out.push(arg.clone());
            if takes_value && let Some(value) = iter.next() {
                out.push(value.clone());
            }
        }
        out
    }
}

/// Options orbtest takes out and applies itself; they take a value.
const OWN_WITH_VALUE: &[&str] = &["--no-tests", "--profile", "-P"];

/// A short build option with its value attached, like `-pcore`.
fn is_joined_short(arg: &str) -> bool {
    !arg.starts_with("--") && arg.len() > 2 && BUILD_WITH_VALUE.iter().any(|s| s.len() == 2 && arg.starts_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(args: &[&str]) -> ForwardedArgs {
        ForwardedArgs::split(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn build_options_go_to_the_build_the_rest_to_the_runs() {
        let a = split(&[
            "--partition",
            "hash:1/3",
            "-p",
            "core",
            "--features=x",
            "--release",
            "-E",
            "test(foo)",
            "-Zunstable",
            "--",
            "--exact",
            "-p",
        ]);
        assert_eq!(a.build, ["-p", "core", "--features=x", "--release", "-Zunstable"]);
        assert_eq!(
            a.run,
            ["--partition", "hash:1/3", "-E", "test(foo)", "--", "--exact", "-p"]
        );
        assert!(a.narrowed);
    }

    #[test]
    fn no_tests_and_profile_are_taken_out_for_orbtest_to_apply() {
        for args in [
            &["--no-tests", "pass", "--profile", "ci", "--retries", "2"][..],
            &["--no-tests=pass", "-P", "ci", "--retries", "2"],
            &["--no-tests=pass", "-Pci", "--retries=2"],
            &["--no-tests=pass", "--profile=ci", "--retries=2"],
        ] {
            let a = split(args);
            assert_eq!(a.no_tests, Some(NoTests::Pass), "{args:?}");
            assert_eq!(a.profile.as_deref(), Some("ci"), "{args:?}");
            assert!(
                a.run.iter().all(|r| !r.contains("no-tests") && !r.contains("ci")),
                "{args:?}"
            );
            assert!(!a.narrowed, "{args:?}: a retry count narrows nothing");
        }
        let bad = ForwardedArgs::split(&["--no-tests".to_string(), "maybe".to_string()]);
        assert!(matches!(bad, Err(Error::Usage(m)) if m.contains("fail")));
        assert!(matches!(
            ForwardedArgs::split(&["--profile".to_string()]),
            Err(Error::Usage(_))
        ));
    }

    #[test]
    fn a_rerun_keeps_everything_but_the_selection() {
        let args: Vec<String> = [
            "-E",
            "test(x)",
            "name",
            "--run-ignored",
            "all",
            "--partition=hash:1/2",
            "--features",
            "a",
            "-j",
            "2",
            "--",
            "--exact",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            ForwardedArgs::without_selection(&args),
            ["--run-ignored", "all", "--features", "a", "-j", "2", "--", "--exact"]
        );
    }

    #[test]
    fn test_name_filters_narrow_the_run_but_option_values_do_not() {
        assert!(split(&["my_test"]).narrowed);
        assert!(!split(&["--test-threads", "4", "--no-capture"]).narrowed);
        assert!(split(&["-p", "core"]).narrowed, "a package leaves other tests out");
        assert!(!split(&["--workspace", "--release"]).narrowed);
        assert_eq!(
            split(&["-E", "test(x)", "--retries", "2", "name", "--run-ignored", "all"]).select,
            ["-E", "test(x)", "name", "--run-ignored", "all"]
        );
    }
}
