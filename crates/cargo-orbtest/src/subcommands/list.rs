//! `cargo orbtest list [--tier NAME] [--message-format json]`: each tier's effective settings
//! and the tests it selects, as nextest evaluates the tier's filterset (a command tier's tests
//! are whatever its command runs); warns about tests no tier selects. Tests are named as
//! nextest shows them: `binary-id test-name`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::json;

use crate::cli::{GlobalArgs, ListArgs, MessageFormat, NextestFlags};
use crate::config::{Tier, duration_string};
use crate::errors::Result;
use crate::exit_code;
use crate::results::TestId;
use crate::tiers::nextest::{self, ForwardedArgs};
use crate::view::text;

/// What `list` found: the shown tiers, each with its tests (`None` for a command tier), and
/// over all tiers the tests no tier selects and those several tiers select.
struct Listing<'c> {
    tiers: Vec<(&'c Tier, Option<Vec<TestId>>)>,
    unselected: Vec<TestId>,
    shared: Vec<(TestId, Vec<String>)>,
}

pub(super) fn execute(global: &GlobalArgs, args: &ListArgs) -> Result<i32> {
    let (ws, config) = super::project::load(global)?;
    let shown = crate::plan::selected_tiers(&config, args.tier.as_deref())?;
    let mut listing = Listing {
        tiers: shown.iter().map(|t| (*t, None)).collect(),
        unselected: Vec::new(),
        shared: Vec::new(),
    };
    let nextest_tiers: Vec<&Tier> = shown.iter().copied().filter(|t| !t.is_command()).collect();
    if !nextest_tiers.is_empty() {
        nextest::check_version(&ws.cargo)?;
        let flags = NextestFlags {
            workspace: args.workspace,
            package: args.package.clone(),
            ..NextestFlags::default()
        };
        let nextest_args = super::project::nextest_args(global, &ws, &flags, &args.build_args);
        let forwarded = ForwardedArgs::split(&nextest_args)?;
        forwarded.check_profile(&ws.root)?;
        if !global.quiet {
            crate::errln!("orbtest: building tests");
        }
        let (all, listings) = nextest::build_and_list(
            &ws,
            &config,
            &nextest_tiers,
            &forwarded.build,
            forwarded.profile.as_deref(),
            global.color.enabled(),
            global.verbose,
        )?;
        let mut owners: BTreeMap<&TestId, Vec<&str>> = all.iter().map(|t| (t, Vec::new())).collect();
        for (tier, tests) in nextest_tiers.iter().zip(&listings) {
            for test in &tests.tests {
                if let Some(o) = owners.get_mut(test) {
                    o.push(&tier.name);
                }
            }
        }
        // Which tests no tier runs is a question about every tier, not a chosen few.
        if args.tier.is_none() {
            listing.unselected = owners
                .iter()
                .filter(|(_, o)| o.is_empty())
                .map(|(t, _)| (*t).clone())
                .collect();
        }
        listing.shared = owners
            .iter()
            .filter(|(_, o)| o.len() > 1)
            .map(|(t, o)| ((*t).clone(), o.iter().map(|s| s.to_string()).collect()))
            .collect();
        for (tier, tests) in nextest_tiers.iter().zip(listings) {
            if let Some(entry) = listing.tiers.iter_mut().find(|(t, _)| t.name == tier.name) {
                entry.1 = Some(tests.tests);
            }
        }
    }
    match args.message_format {
        MessageFormat::Human => crate::out!("{}", human(&listing, ws.root.join(".config/nextest.toml").exists())),
        MessageFormat::Json => crate::out!("{}\n", to_json(&listing)),
    }
    Ok(exit_code::PASSED)
}

fn human(listing: &Listing<'_>, repo_config: bool) -> String {
    let mut out = String::new();
    for (tier, tests) in &listing.tiers {
        describe(&mut out, tier);
        match tests {
            None => {}
            Some(tests) if tests.is_empty() => {
                let _ = writeln!(
                    out,
                    "  no tests: the filter selects nothing that was built (its package may need `--workspace` or `-p NAME`)"
                );
            }
            Some(tests) => {
                let _ = writeln!(out, "  {}:", count(tests.len()));
                for test in tests {
                    let _ = writeln!(out, "    {}", text::name(&test.shown()));
                }
            }
        }
        out.push('\n');
    }
    if repo_config {
        let _ = writeln!(
            out,
            "note: settings under [profile.orbtest-<tier>] in .config/nextest.toml override those above\n"
        );
    }
    if !listing.unselected.is_empty() {
        let n = listing.unselected.len();
        let _ = writeln!(
            out,
            "warning: {} selected by no tier and never run:",
            if n == 1 {
                "1 test is".to_string()
            } else {
                format!("{n} tests are")
            }
        );
        for t in &listing.unselected {
            let _ = writeln!(out, "    {}", text::name(&t.shown()));
        }
    }
    if !listing.shared.is_empty() {
        let n = listing.shared.len();
        let _ = writeln!(
            out,
            "note: {} selected by several tiers and run in each:",
            if n == 1 {
                "1 test is".to_string()
            } else {
                format!("{n} tests are")
            }
        );
        for (t, tiers) in &listing.shared {
            let _ = writeln!(out, "    {} ({})", text::name(&t.shown()), tiers.join(", "));
        }
    }
    out
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 test".to_string()
    } else {
        format!("{n} tests")
    }
}

fn test_json(t: &TestId) -> serde_json::Value {
    json!({ "id": t.to_string(), "binary_id": t.binary_id, "name": t.name })
}

/// `{"tiers": [{name, kind, settings..., tests}], "unselected": [...], "shared": [...]}`.
fn to_json(listing: &Listing<'_>) -> serde_json::Value {
    let tiers: Vec<serde_json::Value> = listing
        .tiers
        .iter()
        .map(|(t, tests)| {
            let mut v = json!({
                "name": t.name,
                "kind": if t.is_command() { "command" } else { "nextest" },
                "threads": t.threads.to_string(),
                "timeout": duration_string(t.timeout),
                "retries": t.retries.count,
                "needs": t.needs,
                "machines": t.machines,
                "no_tests": t.no_tests.as_str(),
            });
            match &t.command {
                Some(c) => {
                    v["command"] = json!(c.argv);
                    v["tests"] = serde_json::Value::Null;
                }
                None => {
                    v["filter"] = json!(t.filter);
                    v["flaky"] = json!(t.flaky);
                    v["tests"] = json!(tests.iter().flatten().map(test_json).collect::<Vec<_>>());
                }
            }
            v
        })
        .collect();
    json!({
        "tiers": tiers,
        "unselected": listing.unselected.iter().map(test_json).collect::<Vec<_>>(),
        "shared": listing
            .shared
            .iter()
            .map(|(t, tiers)| {
                let mut v = test_json(t);
                v["tiers"] = json!(tiers);
                v
            })
            .collect::<Vec<_>>(),
    })
}

fn describe(out: &mut String, t: &Tier) {
    let _ = writeln!(out, "tier {}", t.name);
    if let Some(c) = &t.command {
        let _ = writeln!(out, "  command: {}", crate::tiers::command::display(&c.argv));
        if let Some(rerun) = &c.rerun {
            let _ = writeln!(out, "  rerun: {}", crate::tiers::command::display(rerun));
        }
        if let Some(listing) = &c.list {
            let _ = writeln!(
                out,
                "  list: {} (shards split the tier through {{tests}})",
                crate::tiers::command::display(listing)
            );
        }
        let _ = writeln!(
            out,
            "  threads ({{threads}}): {}  timeout (whole tier): {}  retries: {}",
            crate::tiers::command::threads(t.threads),
            duration_string(t.timeout),
            t.retries.count
        );
        let _ = writeln!(
            out,
            "  needs: {}  machines: {}\n  tests: whatever the command runs (its JUnit report, or its exit code)",
            if t.needs.is_empty() {
                "-".to_string()
            } else {
                t.needs.join(", ")
            },
            if t.machines { "yes" } else { "no" }
        );
        return;
    }
    let retries = if t.retries.count == 0 {
        "0".to_string()
    } else {
        format!(
            "{} ({} backoff, delay {})",
            t.retries.count,
            t.retries.backoff.as_str(),
            duration_string(t.retries.delay)
        )
    };
    let _ = writeln!(
        out,
        "  filter: {}\n  threads: {}  timeout: {}  retries: {retries}  fail-fast: {}",
        t.filter,
        t.threads,
        duration_string(t.timeout),
        t.fail_fast
    );
    let list = |v: &[String]| if v.is_empty() { "-".to_string() } else { v.join(", ") };
    let _ = writeln!(
        out,
        "  needs: {}  machines: {}  flaky: {}{}",
        list(&t.needs),
        if t.machines { "yes" } else { "no" },
        list(&t.flaky),
        if t.flaky.is_empty() {
            String::new()
        } else {
            format!(" (+{} retries)", t.flaky_retries)
        }
    );
    if t.new_test_runs > 1 {
        let _ = writeln!(
            out,
            "  new_test_runs: {} (tests the flake ledger never saw run {} times)",
            t.new_test_runs, t.new_test_runs
        );
    }
}
