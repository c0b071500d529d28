//! Which tests each tier selects, as nextest itself evaluates the tier's filterset.

use nextest_metadata::{ListCommand, TestListSummary};

use super::{Built, ToolConfig, profile_name};
use crate::config::{Config, Tier};
use crate::env::scrubbed;
use crate::errors::{Error, Result};
use crate::results::TestId;
use crate::signals::Interrupts;
use crate::workspace::Workspace;

#[derive(Debug, Clone)]
pub(crate) struct TierListing {
    pub tier: String,
    /// Selected (non-ignored) tests, in nextest's order.
    pub tests: Vec<TestId>,
}

/// Lists every tier's tests (in parallel: each listing runs every test binary) plus, first,
/// all tests regardless of tier.
pub(super) fn list_tiers(
    ws: &Workspace,
    tool_config: &ToolConfig,
    built: &Built,
    tiers: &[&str],
) -> Result<(Vec<TestId>, Vec<TierListing>)> {
    let Some(first) = tiers.first() else {
        return Ok((Vec::new(), Vec::new()));
    };
    let mut jobs: Vec<ListingJob<'_>> = vec![Box::new(move || {
        list_with(ws, tool_config, built, first, true, &[], &Interrupts::none())
    })];
    jobs.extend(tiers.iter().map(|tier| -> ListingJob<'_> {
        Box::new(move || list_with(ws, tool_config, built, tier, false, &[], &Interrupts::none()))
    }));
    let mut lists = in_parallel(jobs)?.into_iter();
    let all = lists.next().unwrap_or_default();
    let listings = tiers
        .iter()
        .zip(lists)
        .map(|(tier, tests)| TierListing {
            tier: tier.to_string(),
            tests,
        })
        .collect();
    Ok((all, listings))
}

/// Lists each tier's tests, without the listing of all tests; `select` are extra selection
/// arguments for every listing (`--run-ignored only` for the #[ignore]d ones).
pub(crate) fn list_each_tier(
    ws: &Workspace,
    tool_config: &ToolConfig,
    built: &Built,
    tiers: &[&str],
    select: &[String],
) -> Result<Vec<TierListing>> {
    let jobs: Vec<ListingJob<'_>> = tiers
        .iter()
        .map(|tier| -> ListingJob<'_> {
            Box::new(move || list_with(ws, tool_config, built, tier, false, select, &Interrupts::none()))
        })
        .collect();
    Ok(tiers
        .iter()
        .zip(in_parallel(jobs)?)
        .map(|(tier, tests)| TierListing {
            tier: tier.to_string(),
            tests,
        })
        .collect())
}

/// One listing to run on its own thread.
type ListingJob<'a> = Box<dyn FnOnce() -> Result<Vec<TestId>> + Send + 'a>;

/// Runs listings side by side (each runs every test binary), results in order.
fn in_parallel(jobs: Vec<ListingJob<'_>>) -> Result<Vec<Vec<TestId>>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs.into_iter().map(|job| scope.spawn(job)).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Infrastructure("a listing thread panicked".into())))
            })
            .collect()
    })
}

/// The tests `tier` selects but does not run by design: its `#[ignore]`d tests (with
/// `--run-ignored only`, the others), as nextest counts them "skipped". `select` are the run's
/// own selection arguments; with `--run-ignored all` nothing is skipped.
pub(crate) fn list_skipped_by_design(
    ws: &Workspace,
    tool_config: &ToolConfig,
    built: &Built,
    tier: &str,
    select: &[String],
    interrupts: &Interrupts,
) -> Result<Vec<TestId>> {
    let mut which = "default".to_string();
    let mut rest = Vec::new();
    let mut iter = select.iter();
    while let Some(arg) = iter.next() {
        if arg == "--run-ignored" {
            which = iter.next().cloned().unwrap_or_default();
        } else if let Some(value) = arg.strip_prefix("--run-ignored=") {
            which = value.to_string();
        } else {
            rest.push(arg.clone());
        }
    }
    let opposite = match which.as_str() {
        "default" => "only",
        "only" | "ignored-only" => "default",
        _ => return Ok(Vec::new()),
    };
    rest.extend(["--run-ignored".to_string(), opposite.to_string()]);
    list_with(ws, tool_config, built, tier, false, &rest, interrupts)
}

/// How many tests `tier` selects in this build, with the run's own selection arguments
/// (filtersets, partition, test-name filters): the tests of a tier that did not run.
pub(crate) fn count_selected(
    ws: &Workspace,
    tool_config: &ToolConfig,
    built: &Built,
    tier: &str,
    select: &[String],
    interrupts: &Interrupts,
) -> Result<usize> {
    list_with(ws, tool_config, built, tier, false, select, interrupts).map(|t| t.len())
}

/// The tests each of `filtersets` selects among all built tests, whatever the tiers select
/// (in the context of `tier`'s profile): one listing per filterset, side by side.
pub(crate) fn list_matching(
    ws: &Workspace,
    tool_config: &ToolConfig,
    built: &Built,
    tier: &str,
    filtersets: &[&str],
) -> Result<Vec<Vec<TestId>>> {
    let jobs: Vec<ListingJob<'_>> = filtersets
        .iter()
        .map(|f| -> ListingJob<'_> {
            let select = ["-E".to_string(), f.to_string()];
            Box::new(move || list_with(ws, tool_config, built, tier, true, &select, &Interrupts::none()))
        })
        .collect();
    in_parallel(jobs)
}

/// Builds the tests of `tiers` (nextest tiers) in a scratch directory under the workspace's
/// orbtest directory and lists every test and what each tier selects: for commands that need
/// the tests as they are now without running them (`list`, `shard plan`). `profile` is a
/// forwarded `--profile`, the tier profiles' parent.
pub(crate) fn build_and_list(
    ws: &Workspace,
    config: &Config,
    tiers: &[&Tier],
    build_args: &[String],
    profile: Option<&str>,
    color: bool,
    verbose: bool,
) -> Result<(Vec<TestId>, Vec<TierListing>)> {
    let scratch_root = ws.orbtest_dir().join("list");
    orbtest_machines::files::ensure_private_dir(&scratch_root)
        .map_err(|e| Error::io("cannot create", &scratch_root, e))?;
    let scratch =
        tempfile::tempdir_in(&scratch_root).map_err(|e| Error::io("cannot create a directory in", &scratch_root, e))?;
    let tool_config = ToolConfig::generate(
        tiers,
        |t| scratch.path().join(format!("{t}.xml")),
        &crate::history::History::default(),
        &scratch.path().join("nextest-tool-config.toml"),
        profile,
    );
    orbtest_machines::files::write_atomic(&tool_config.path, tool_config.text.as_bytes())
        .map_err(|e| Error::io("cannot write", &tool_config.path, e))?;
    let built = super::build(&super::BuildRequest {
        ws,
        config,
        tool_config: &tool_config,
        build_args,
        color: if color { "always" } else { "never" },
        out_dir: scratch.path(),
        echo: verbose,
        interrupts: &Interrupts::none(),
    })?;
    let names: Vec<&str> = tiers.iter().map(|t| t.name.as_str()).collect();
    list_tiers(ws, &tool_config, &built, &names)
}

/// Every test binary of the workspace (the packages a run from its root builds) with how many
/// tests each has, as `cargo nextest list` finds them: what `init` derives tiers from. cargo's
/// build output goes to the terminal unless `quiet`.
pub(crate) fn list_binaries(ws: &Workspace, quiet: bool) -> Result<Vec<crate::config::ListedBinary>> {
    let mut list = ListCommand::new();
    list.cargo_path(ws.cargo.to_string_lossy().as_ref())
        .current_dir(ws.root.to_string_lossy().as_ref())
        .add_args([
            "--manifest-path".to_string(),
            ws.root.join("Cargo.toml").display().to_string(),
        ]);
    let inv = scrubbed((&list.cargo_command()).into());
    // The list (JSON) to a file, cargo's progress to the terminal as it builds.
    let mut json = tempfile::tempfile().map_err(|e| Error::io("cannot create a file in", std::env::temp_dir(), e))?;
    let sink = json
        .try_clone()
        .map_err(|e| Error::io("cannot create a file in", std::env::temp_dir(), e))?;
    let supervision = orbtest_process::Supervision::new().interrupts(crate::signals::current());
    let output = orbtest_process::run(
        &inv,
        &supervision,
        if quiet {
            orbtest_process::Output::Capture
        } else {
            orbtest_process::Output::Redirect {
                stdout: orbtest_process::Sink::File(sink),
                stderr: orbtest_process::Sink::Inherit,
            }
        },
    )
    .map_err(|e| Error::Infrastructure(format!("could not run `cargo nextest list`: {e}")))?;
    if !output.success() {
        let detail = match String::from_utf8_lossy(&output.stderr).trim_end() {
            "" => "its output is above".to_string(),
            text => crate::report::tail(text, 30),
        };
        return Err(match output.code {
            Some(nextest_metadata::NextestExitCode::BUILD_FAILED) => Error::Build {
                code: nextest_metadata::NextestExitCode::BUILD_FAILED.to_string(),
                output_tail: detail,
            },
            code => Error::Nextest {
                what: format!(
                    "`cargo nextest list` failed ({})",
                    code.map_or_else(|| "killed by a signal".to_string(), |c| format!("exit {c}"))
                ),
                detail,
            },
        });
    }
    let stdout = if quiet {
        output.stdout
    } else {
        use std::io::{Read, Seek};
        let mut text = Vec::new();
        json.rewind()
            .and_then(|_| json.read_to_end(&mut text))
            .map_err(|e| Error::Infrastructure(format!("could not read nextest's test list: {e}")))?;
        text
    };
    let summary =
        TestListSummary::parse_json(String::from_utf8_lossy(&stdout).as_ref()).map_err(|e| Error::Nextest {
            what: "could not read nextest's test list".into(),
            detail: e.to_string(),
        })?;
    Ok(summary
        .rust_suites
        .values()
        .map(|suite| crate::config::ListedBinary {
            binary_id: suite.binary.binary_id.to_string(),
            name: suite.binary.binary_name.clone(),
            kind: suite.binary.kind.to_string(),
            tests: suite.test_cases.len(),
            ignored: suite.test_cases.values().filter(|c| c.ignored).count(),
        })
        .collect())
}

fn list_with(
    ws: &Workspace,
    tool_config: &ToolConfig,
    built: &Built,
    tier: &str,
    all: bool,
    select: &[String],
    interrupts: &Interrupts,
) -> Result<Vec<TestId>> {
    let mut list = ListCommand::new();
    list.cargo_path(ws.cargo.to_string_lossy().as_ref())
        .current_dir(ws.root.to_string_lossy().as_ref())
        .add_args(built.args())
        .add_args(["--tool-config-file".to_string(), tool_config.arg()])
        .add_args(["--profile".to_string(), profile_name(tier)])
        .add_args(select.iter().cloned());
    if all {
        list.add_arg("--ignore-default-filter");
    }
    let inv = scrubbed((&list.cargo_command()).into());
    let supervision = orbtest_process::Supervision::new().interrupts(interrupts.clone());
    let output = orbtest_process::run(&inv, &supervision, orbtest_process::Output::Capture)
        .map_err(|e| Error::Infrastructure(format!("could not run `cargo nextest list`: {e}")))?;
    if !output.success() {
        return Err(Error::Nextest {
            what: format!("`cargo nextest list` for tier `{tier}` failed"),
            detail: crate::report::excerpt(String::from_utf8_lossy(&output.stderr).trim_end(), 30, 4_000),
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = TestListSummary::parse_json(stdout.as_ref()).map_err(|e| Error::Nextest {
        what: "could not read nextest's test list".into(),
        detail: e.to_string(),
    })?;
    let mut tests = Vec::new();
    for (binary_id, suite) in &summary.rust_suites {
        for (name, case) in &suite.test_cases {
            if case.filter_match.is_match() {
                tests.push(TestId {
                    binary_id: binary_id.to_string(),
                    name: name.to_string(),
                });
            }
        }
    }
    Ok(tests)
}
