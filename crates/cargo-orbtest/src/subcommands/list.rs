//! `cargo orbtest list`: each tier's effective settings and the tests it selects, as nextest
//! evaluates the tier's filterset (a command tier's tests are whatever its command runs);
//! warns about tests no tier selects.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::cli::GlobalArgs;
use crate::config::{Tier, duration_string};
use crate::errors::Result;
use crate::exit_code;
use crate::results::TestId;
use crate::tiers::nextest::{self, ForwardedArgs};

pub fn execute(global: &GlobalArgs, forwarded: &[String]) -> Result<i32> {
    let (ws, config) = super::project::load(global)?;
    if config.tiers.iter().all(Tier::is_command) {
        let mut out = String::new();
        for tier in &config.tiers {
            describe(&mut out, tier);
            out.push('\n');
        }
        crate::out!("{out}");
        return Ok(exit_code::PASSED);
    }
    nextest::check_version(&ws.cargo)?;
    let tiers: Vec<&Tier> = config.tiers.iter().filter(|t| !t.is_command()).collect();
    let forwarded = ForwardedArgs::split(forwarded)?;
    if !global.quiet {
        crate::errln!("orbtest: building tests");
    }
    let (all, listings) = nextest::build_and_list(
        &ws,
        &config,
        &tiers,
        &forwarded.build,
        forwarded.profile.as_deref(),
        global.color.enabled(),
        global.verbose,
    )?;

    let mut owners: BTreeMap<&TestId, Vec<&str>> = all.iter().map(|t| (t, Vec::new())).collect();
    let mut out = String::new();
    for tier in config.tiers.iter().filter(|t| t.is_command()) {
        describe(&mut out, tier);
        out.push('\n');
    }
    for (tier, listing) in tiers.iter().zip(&listings) {
        describe(&mut out, tier);
        if listing.tests.is_empty() {
            let _ = writeln!(
                out,
                "  no tests: the filter selects nothing that was built (its package may need `-- --workspace` or `-- -p NAME`)"
            );
            out.push('\n');
            continue;
        }
        let _ = writeln!(out, "  {} tests:", listing.tests.len());
        for test in &listing.tests {
            let _ = writeln!(out, "    {test}");
            if let Some(o) = owners.get_mut(test) {
                o.push(&tier.name);
            }
        }
        out.push('\n');
    }
    if ws.root.join(".config/nextest.toml").exists() {
        let _ = writeln!(
            out,
            "note: settings under [profile.orbtest-<tier>] in .config/nextest.toml override those above\n"
        );
    }
    let orphans: Vec<_> = owners.iter().filter(|(_, o)| o.is_empty()).map(|(t, _)| *t).collect();
    if !orphans.is_empty() {
        let _ = writeln!(
            out,
            "warning: {} tests are selected by no tier and never run:",
            orphans.len()
        );
        for t in &orphans {
            let _ = writeln!(out, "    {t}");
        }
    }
    let shared: Vec<_> = owners.iter().filter(|(_, o)| o.len() > 1).collect();
    if !shared.is_empty() {
        let _ = writeln!(
            out,
            "note: {} tests are selected by several tiers and run in each:",
            shared.len()
        );
        for (t, o) in shared {
            let _ = writeln!(out, "    {t} ({})", o.join(", "));
        }
    }
    crate::out!("{out}");
    Ok(exit_code::PASSED)
}

fn describe(out: &mut String, t: &Tier) {
    let _ = writeln!(out, "tier {}", t.name);
    if let Some(c) = &t.command {
        let _ = writeln!(out, "  command: {}", crate::tiers::command::display(&c.argv));
        if let Some(rerun) = &c.rerun {
            let _ = writeln!(out, "  rerun: {}", crate::tiers::command::display(rerun));
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
}
