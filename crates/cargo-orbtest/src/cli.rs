//! Command-line definitions (clap). Parsing only: validation against the config and the real
//! work happen in `commands`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  cargo orbtest                          run every tier in orchestrator.toml, in order
  cargo orbtest --tier fast              run one tier
  cargo orbtest --tier integration,e2e --ignore-needs
  cargo orbtest parser                   only tests whose name contains `parser`, in each tier
  cargo orbtest -E 'test(/db/)' -j 4     a filterset and 4 threads, in each tier
  cargo orbtest --run-ignored all        #[ignore]d tests too
  cargo orbtest -- --partition hash:1/3  forward arguments to each `cargo nextest run`
  cargo orbtest -- list                  tests named `list` (after `--` a word is a filter)
  cargo orbtest list                     tiers, their settings and the tests each selects
  cargo orbtest list --tier fast --message-format json
  cargo orbtest init                     write orchestrator.toml derived from the project's tests
  cargo orbtest --gate                   run, then check the release gate ([gate])
  cargo orbtest report --open            the newest run's summary; open its report.html
  cargo orbtest report merge shard-*/    merge the reports of partitioned CI jobs
  cargo orbtest shard plan --shards 4 --out plan.json
                                         spread the tests over 4 CI jobs by their durations
  cargo orbtest --shard 2/4 --plan plan.json
                                         run shard 2 of that plan
  cargo orbtest flaky --suggest          flake rates from the ledger; quarantine entries to add

In a member directory of a workspace, a run tests that package (as cargo does) unless
--workspace or -p is given.

Exit codes (orbtest's own; nextest's in brackets): 0 passed [0], 1 tests failed or timed out
[100], 2 gate failed, 3 infrastructure failure: build, nextest, preflight [101, 104, ...],
4 no tests selected [4], 64 usage or config error [2, 94, 96], 130/143 interrupted.";

#[derive(Debug, Parser)]
#[command(
    name = "cargo-orbtest",
    bin_name = "cargo orbtest",
    version,
    about = "Run a workspace's tests in tiers on cargo-nextest, managing the OrbStack machines they create",
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Path to the workspace's Cargo.toml.
    #[arg(long, global = true, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Config file to use instead of orchestrator.toml at the workspace root.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// When to use colours.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// Show cargo's and nextest's output as it happens.
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub verbose: bool,
    /// Print only the final summary.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour output going to stderr (honours NO_COLOR for `auto`).
    pub(crate) fn enabled(self) -> bool {
        use std::io::IsTerminal;
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
            }
        }
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    /// Tiers to run (comma-separated); default: all, in file order.
    #[arg(long, value_delimiter = ',', value_name = "NAME[,NAME]")]
    pub tier: Option<Vec<String>>,
    /// Run selected tiers even if the tiers they need failed or are not selected.
    #[arg(long)]
    pub ignore_needs: bool,
    /// Keep going after a failed tier (tiers that need it are still skipped).
    #[arg(long)]
    pub no_fail_fast: bool,
    /// Where to put this run's reports [default: <target-dir>/orbtest/latest].
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Start OrbStack if it is stopped (machine tiers).
    #[arg(long)]
    pub start_orbstack: bool,
    /// Fail at once if another cargo orbtest run is using the provider, instead of waiting.
    #[arg(long)]
    pub no_wait: bool,
    /// Keep the machines this run creates (their names are printed at the end).
    #[arg(long)]
    pub keep_machines: bool,
    /// Rebuild baseline machines even if their recipe is unchanged.
    #[arg(long)]
    pub rebuild_baselines: bool,
    /// Restart OrbStack before machine tiers if its helper's memory or swap is over the
    /// [machines.restart] limits.
    #[arg(long)]
    pub restart_orbstack: bool,
    /// Check the release gate ([gate] in orchestrator.toml) after the run; exit 2 if only the
    /// gate failed.
    #[arg(long)]
    pub gate: bool,
    /// Run only shard K of N (1-based, like nextest's hash:K/N): the tests `--plan` gives it,
    /// or without a plan nextest's slice:K/N.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<crate::shard::ShardSpec>,
    /// The plan `cargo orbtest shard plan` wrote (needs --shard).
    #[arg(long, value_name = "FILE", requires = "shard")]
    pub plan: Option<PathBuf>,
    #[command(flatten)]
    pub nextest: NextestFlags,
    /// Arguments for each `cargo nextest run` (build options go to the one build).
    #[arg(last = true, value_name = "NEXTEST_ARGS")]
    pub nextest_args: Vec<String>,
}

/// nextest's everyday flags, taken without `--` and applied to every selected tier (within
/// the tier's own filter); cargo's package selection goes to the one build.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Test selection (nextest's, applied to each tier)")]
pub struct NextestFlags {
    /// Test name filters: run the tests whose name contains one of them.
    #[arg(value_name = "FILTERS")]
    pub filters: Vec<String>,
    /// A filterset, intersected with each tier's filter (repeatable: any of them).
    #[arg(short = 'E', long = "filterset", visible_alias = "filter-expr", value_name = "EXPR")]
    pub filterset: Vec<String>,
    /// Tests to run at once in each tier, instead of its `threads`: a number or "num-cpus".
    #[arg(short = 'j', long, value_name = "N", allow_negative_numbers = true)]
    pub test_threads: Option<String>,
    /// A nextest profile (.config/nextest.toml) each tier's settings build on.
    #[arg(short = 'P', long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Run #[ignore]d tests: default (not them), only, all.
    #[arg(long, value_name = "WHICH", value_parser = ["default", "only", "all"])]
    pub run_ignored: Option<String>,
    /// Show the tests' output as they run (nextest runs them one at a time then).
    #[arg(long)]
    pub no_capture: bool,
    /// Test every package of the workspace, also from a member's directory.
    #[arg(long, visible_alias = "all")]
    pub workspace: bool,
    /// Test only this package (repeatable).
    #[arg(short = 'p', long = "package", value_name = "SPEC")]
    pub package: Vec<String>,
}

impl NextestFlags {
    /// The flags as nextest's own arguments, for the split between the build and the tiers.
    pub(crate) fn to_args(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in &self.filterset {
            out.extend(["-E".to_string(), e.clone()]);
        }
        if let Some(n) = &self.test_threads {
            out.extend(["--test-threads".to_string(), n.clone()]);
        }
        if let Some(p) = &self.profile {
            out.extend(["--profile".to_string(), p.clone()]);
        }
        if let Some(w) = &self.run_ignored {
            out.extend(["--run-ignored".to_string(), w.clone()]);
        }
        if self.no_capture {
            out.push("--no-capture".to_string());
        }
        if self.workspace {
            out.push("--workspace".to_string());
        }
        for p in &self.package {
            out.extend(["-p".to_string(), p.clone()]);
        }
        out.extend(self.filters.iter().cloned());
        out
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the tiers (the default when no subcommand is given).
    Run(RunArgs),
    /// Show the tiers, their effective settings and the tests each selects.
    List(ListArgs),
    /// Write orchestrator.toml with tiers derived from your tests (outside cargo: from the test
    /// runners found, pytest, go test, npm test).
    Init {
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Delete leftover test machines: those earlier runs left behind, and those matching
    /// [machines] prefixes (never protected machines, baselines, or machines runs kept).
    Clean {
        /// Only show what would be deleted, and why.
        #[arg(long)]
        dry_run: bool,
        /// Also delete the machines runs kept on purpose (--keep-machines, keep_on_failure).
        #[arg(long)]
        kept: bool,
        /// Fail at once if a cargo orbtest run is using the provider, instead of waiting.
        #[arg(long)]
        no_wait: bool,
    },
    /// Check that a run would start (cargo-nextest, what each tier selects, the provider when a
    /// tier needs machines); show the host and who owns which machine.
    Doctor {
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
        /// Also fix what can be fixed: restart OrbStack if its helper's memory or swap is over
        /// the [machines.restart] limits.
        #[arg(long)]
        fix: bool,
    },
    /// The Docker provider's machine images: each [machines.docker.images] recipe and the
    /// image the engine has for it; builds the missing ones (logs under <target-dir>/orbtest/images/).
    Images {
        /// Rebuild every image, even one the engine has for its recipe.
        #[arg(long, conflicts_with = "no_build")]
        rebuild: bool,
        /// Only show them; build nothing.
        #[arg(long)]
        no_build: bool,
    },
    /// Show a past run (default: the newest), or merge the reports of partitioned CI jobs.
    Report(ReportArgs),
    /// Plan shards for CI: spread the tests over N jobs by their durations and machine cost.
    Shard(ShardArgs),
    /// Flaky tests from the ledger: flake rate over the last runs, first and last seen, and
    /// whether each failing attempt was the test or the machine layer.
    Flaky(FlakyArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Tiers to show (comma-separated); default: all.
    #[arg(long, value_delimiter = ',', value_name = "NAME[,NAME]")]
    pub tier: Option<Vec<String>>,
    /// human, or json for tools (tiers with settings and tests, and tests no tier selects).
    #[arg(long, value_enum, default_value_t = MessageFormat::Human, value_name = "FORMAT")]
    pub message_format: MessageFormat,
    /// List every package of the workspace, also from a member's directory.
    #[arg(long, visible_alias = "all")]
    pub workspace: bool,
    /// List only this package (repeatable).
    #[arg(short = 'p', long = "package", value_name = "SPEC")]
    pub package: Vec<String>,
    /// Cargo build options for the build the listing needs (e.g. `--features x`).
    #[arg(last = true, value_name = "CARGO_ARGS")]
    pub build_args: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ShardArgs {
    #[command(subcommand)]
    pub action: ShardAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ShardAction {
    /// Assign the tests to N shards so each shard's predicted time is as even as possible.
    Plan(PlanArgs),
}

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// How many shards (CI jobs).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub shards: u32,
    /// Write the plan here (JSON) instead of to stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// What to print: the plan (json), a matrix for GitHub Actions' `strategy.matrix` via
    /// fromJSON (github), or each shard's predicted time (table).
    #[arg(long, value_enum, default_value_t = PlanFormat::Json)]
    pub format: PlanFormat,
    /// Where history is: ledger or report directories, CI artifacts [default: this
    /// workspace's ledger under <target-dir>/orbtest/runs].
    #[arg(long, value_name = "DIR", num_args = 1..)]
    pub history: Vec<PathBuf>,
    /// CPUs of the machines that run the shards, for `threads = "num-cpus"` [default: this
    /// machine's].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub cpus: Option<u32>,
    /// Creates at once on the shard machines, for machine tiers [default: [machines]
    /// max_concurrent_creates, else 2].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub create_slots: Option<u32>,
    /// Plan from history alone, without building and listing the tests (tests added since
    /// go to a shard by hash when the shards run).
    #[arg(long)]
    pub no_build: bool,
    /// Tiers to plan (comma-separated) [default: all].
    #[arg(long, value_delimiter = ',', value_name = "NAME[,NAME]")]
    pub tier: Option<Vec<String>>,
    /// Cargo build options for listing the tests (e.g. `--workspace`).
    #[arg(last = true, value_name = "CARGO_ARGS")]
    pub build_args: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Json,
    Github,
    Table,
}

#[derive(Debug, Clone, Args)]
pub struct FlakyArgs {
    /// Print `[[quarantine]]` entries for tests over the flake-rate threshold.
    #[arg(long)]
    pub suggest: bool,
    /// Runs each test's flake rate looks back over [default: [gate] flake_window, 20].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub window: Option<u32>,
    /// Flake rate (0-1) from which --suggest proposes a quarantine [default: [gate]
    /// max_flake_rate, else 0.1].
    #[arg(long, value_name = "RATE")]
    pub threshold: Option<f64>,
    /// Add runs from CI artifacts (ledger or report directories) to the ledger first.
    #[arg(long, value_name = "DIR", num_args = 1..)]
    pub import: Vec<PathBuf>,
    /// Show every test, not only those with a failing attempt.
    #[arg(long)]
    pub all: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub action: Option<ReportAction>,
    /// Open the run's report.html in a browser.
    #[arg(long)]
    pub open: bool,
    /// A run id (or a unique prefix of one), or a directory holding summary.json
    /// [default: the newest run under <target-dir>/orbtest/runs].
    #[arg(value_name = "RUN_ID")]
    pub run: Option<String>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ReportAction {
    /// Merge shard report directories (each with summary.json and junit.xml) into one
    /// summary.json, junit.xml and report.html; exits with the merged run's exit code.
    Merge {
        /// Report directories of the shards (e.g. downloaded CI artifacts).
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
        /// Where to write the merged reports.
        #[arg(long, short, value_name = "DIR", default_value = "orbtest-merged")]
        out: PathBuf,
        /// Check the release gate over the merged run (needs orchestrator.toml) instead of
        /// combining the shards' verdicts.
        #[arg(long)]
        gate: bool,
        /// Do not add the shards' runs to this workspace's flake ledger (the merged
        /// ledger.jsonl is written either way).
        #[arg(long)]
        no_history: bool,
    },
}

/// Parses `cargo orbtest ...` argv: cargo passes `orbtest` as the first argument; running the
/// binary directly works too.
pub fn parse(mut args: Vec<OsString>) -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    if args.get(1).is_some_and(|a| a == "orbtest") {
        args.remove(1);
    }
    let matches = Cli::command().try_get_matches_from(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    let conflict = |message: String| Cli::command().error(clap::error::ErrorKind::ArgumentConflict, message);
    // `--tier fast list` is a mistake, not a listing of every tier: run options go with a run.
    if let Some((name, _)) = matches.subcommand() {
        let given: Vec<String> = RunArgs::augment_args(clap::Command::new("run"))
            .get_arguments()
            .filter(|a| matches.value_source(a.get_id().as_str()) == Some(clap::parser::ValueSource::CommandLine))
            .map(|a| match a.get_long() {
                Some(long) => format!("--{long}"),
                None => a.get_id().to_string(),
            })
            .collect();
        if !given.is_empty() {
            return Err(conflict(format!(
                "{} {}, given before the `{name}` subcommand: put options after the subcommand they \
                 are for (`cargo orbtest {name} --help` lists them), or leave out `{name}` to run",
                given.join(", "),
                if given.len() == 1 {
                    "is a run option"
                } else {
                    "are run options"
                }
            )));
        }
    }
    // A subcommand's name after a test filter (`parser list`) lands among the filters: say
    // what was meant. After `--` a word is a filter (`-- list`).
    let filters = match &cli.command {
        Some(Command::Run(run)) => &run.nextest.filters,
        _ => &cli.run.nextest.filters,
    };
    let cmd = Cli::command();
    let is_subcommand = |w: &str| {
        w == "help"
            || cmd
                .get_subcommands()
                .any(|s| s.get_name() == w || s.get_all_aliases().any(|a| a == w))
    };
    if let Some(word) = filters.iter().find(|w| is_subcommand(w)) {
        return Err(conflict(format!(
            "`{word}` is a subcommand, so it cannot follow a test filter; put it first (`cargo orbtest {word} ...`), \
             or write `cargo orbtest -- {word}` to run the tests named `{word}`"
        )));
    }
    Ok(cli)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(words: &str) -> Result<Cli, clap::Error> {
        let mut args: Vec<OsString> = vec!["cargo-orbtest".into(), "orbtest".into()];
        args.extend(words.split_whitespace().map(OsString::from));
        parse(args)
    }

    #[test]
    fn nextests_flags_work_without_a_double_dash() {
        let cli = parse_words("-E test(x) --filterset test(y) -j 3 -P ci --run-ignored all --no-capture parser lexer")
            .unwrap();
        assert!(cli.command.is_none());
        assert_eq!(
            cli.run.nextest.to_args(),
            [
                "-E",
                "test(x)",
                "-E",
                "test(y)",
                "--test-threads",
                "3",
                "--profile",
                "ci",
                "--run-ignored",
                "all",
                "--no-capture",
                "parser",
                "lexer"
            ]
        );
        let cli = parse_words("run --workspace -p a -p b name").unwrap();
        let Some(Command::Run(run)) = cli.command else {
            panic!("run")
        };
        assert_eq!(run.nextest.to_args(), ["--workspace", "-p", "a", "-p", "b", "name"]);
        assert!(parse_words("--run-ignored sometimes").is_err());
    }

    #[test]
    fn a_subcommand_name_is_the_subcommand_and_after_double_dash_a_filter() {
        assert!(matches!(parse_words("list").unwrap().command, Some(Command::List(_))));
        assert!(matches!(
            parse_words("clean").unwrap().command,
            Some(Command::Clean { .. })
        ));
        let cli = parse_words("-- clean").unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.run.nextest_args, ["clean"]);
        // Global options go anywhere.
        assert!(matches!(
            parse_words("--color never list --tier fast").unwrap().command,
            Some(Command::List(_))
        ));
    }

    #[test]
    fn run_flags_before_a_subcommand_are_an_error() {
        for words in [
            "--tier fast list",
            "--gate doctor",
            "parser list",
            "-E test(x) clean",
            "--tier fast run",
        ] {
            let err = match parse_words(words) {
                Err(e) => e,
                Ok(cli) => panic!("`{words}` parsed as {cli:?}"),
            };
            assert!(err.use_stderr(), "{words}");
            let text = err.to_string();
            assert!(
                text.contains("subcommand") || text.contains("cannot be used"),
                "{words}: {text}"
            );
        }
        let one = parse_words("--tier fast list")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            one.contains("--tier is a run option, given before the `list` subcommand"),
            "{one}"
        );
    }
}
