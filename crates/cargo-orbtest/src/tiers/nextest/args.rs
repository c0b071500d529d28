//! Arguments after `--`, split between the one build and the per-tier runs: cargo's build
//! options shape what gets compiled; everything else is nextest's and goes to each tier.

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

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardedArgs {
    /// For the build step (`cargo nextest list --list-type binaries-only`).
    pub build: Vec<String>,
    /// For every tier's `cargo nextest run`.
    pub run: Vec<String>,
}

impl ForwardedArgs {
    pub fn split(args: &[String]) -> Self {
        let mut out = Self::default();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            if arg == "--" {
                // Test-binary arguments: all for the run.
                out.run.push(arg.clone());
                out.run.extend(iter.by_ref().cloned());
                break;
            }
            let name = arg.split_once('=').map_or(arg.as_str(), |(n, _)| n);
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
                out.run.push(arg.clone());
            }
        }
        out
    }
}

/// A short build option with its value attached, like `-pcore`.
fn is_joined_short(arg: &str) -> bool {
    !arg.starts_with("--") && arg.len() > 2 && BUILD_WITH_VALUE.iter().any(|s| s.len() == 2 && arg.starts_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(args: &[&str]) -> ForwardedArgs {
        ForwardedArgs::split(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
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
    }
}
