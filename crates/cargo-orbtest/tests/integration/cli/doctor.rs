//! `cargo orbtest doctor` says "ready" only when a run would start: cargo-nextest is there and
//! new enough, every tier selects tests (or finds its command), and the provider answers when a
//! tier needs machines.

use std::os::unix::fs::PermissionsExt;

use crate::support::cli::{Scenario, code, stderr};

fn doctor(s: &Scenario, extra: &[(&str, &std::path::Path)]) -> (i32, String) {
    let mut cmd = s.command(["doctor"]);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("doctor");
    (
        code(&out),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out)),
    )
}

const GOOD: &str = "[tiers.fast]\nfilter = \"kind(lib)\"\n[tiers.integration]\nfilter = \"kind(test)\"\n";

#[test]
fn doctor_is_ready_when_every_tier_selects_tests() {
    let s = Scenario::new("basic", GOOD);
    let (code, text) = doctor(&s, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("ok   cargo-nextest: 0."), "{text}");
    assert!(text.contains("ok   tier integration: selects 3 tests"), "{text}");
    assert!(text.contains("not needed, no tier has `machines = true`"), "{text}");
    assert!(text.contains("verdict: ready"), "{text}");
}

#[test]
fn doctor_is_not_ready_without_cargo_nextest() {
    let s = Scenario::new("basic", GOOD);
    // A cargo that knows no `nextest` subcommand.
    let cargo = s.path().join("cargo");
    std::fs::write(
        &cargo,
        "#!/bin/sh\nif [ \"$1\" = nextest ]; then echo 'error: no such command: `nextest`' >&2; exit 101; fi\nexec cargo \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, text) = doctor(&s, &[("CARGO", &cargo)]);
    assert_eq!(code, 3, "{text}");
    assert!(
        text.contains("FAIL cargo-nextest: cargo-nextest is not installed"),
        "{text}"
    );
    assert!(text.contains("cargo install cargo-nextest --locked"), "{text}");
    assert!(text.contains("verdict: not ready"), "{text}");
    assert!(!text.contains("verdict: ready"), "{text}");
}

#[test]
fn doctor_is_not_ready_when_a_tier_selects_nothing() {
    let s = Scenario::new(
        "basic",
        "[tiers.fast]\nfilter = \"kind(lib)\"\n[tiers.bins]\nfilter = \"kind(bin)\"\n[tiers.quiet]\nfilter = \"kind(bench)\"\nno_tests = \"pass\"\n",
    );
    let (code, text) = doctor(&s, &[]);
    assert_eq!(code, 3, "{text}");
    assert!(
        text.contains("FAIL tier bins: its filter `kind(bin)` selects no test, so a run would fail (exit 4)"),
        "{text}"
    );
    assert!(
        text.contains("ok   tier quiet: selects no test (no_tests = \"pass\")"),
        "{text}"
    );
    assert!(text.contains("verdict: not ready: 1 problem"), "{text}");
}

#[test]
fn doctor_needs_the_provider_only_for_machine_tiers() {
    let missing = "[machines]\norbctl = \"orbctl-not-installed\"\n";
    let s = Scenario::new("basic", &format!("{missing}{GOOD}"));
    let (code, text) = doctor(&s, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("advice: provider (not used until a tier has `machines = true`)"),
        "{text}"
    );
    let s = Scenario::new(
        "basic",
        &format!("{missing}[tiers.vm]\nfilter = \"kind(lib)\"\nmachines = true\n"),
    );
    let (code, text) = doctor(&s, &[]);
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("FAIL provider: "), "{text}");
    assert!(text.contains("verdict: not ready"), "{text}");
}

/// A command tier `python3 -m MODULE` (what init writes when pytest is not on PATH) is not
/// ready when that python has no such module: the run would start only to fail at once.
#[test]
fn doctor_is_not_ready_when_a_command_tiers_python_lacks_its_module() {
    let has_python = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_python {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: python3 must be installed"
        );
        eprintln!("skipped: no python3 on PATH");
        return;
    }
    let s = Scenario::new(
        "basic",
        "[tiers.missing]\ncommand = [\"python3\", \"-m\", \"orbtest_no_such_module\", \"-q\"]\n\
         [tiers.present]\ncommand = [\"python3\", \"-m\", \"json.tool\", \"--help\"]\n",
    );
    let (code, text) = doctor(&s, &[]);
    assert_eq!(code, 3, "{text}");
    assert!(
        text.contains(
            "FAIL tier missing: `python3 -m orbtest_no_such_module`: python3 has no module orbtest_no_such_module"
        ),
        "{text}"
    );
    assert!(text.contains("python3 -m pip install orbtest_no_such_module"), "{text}");
    assert!(
        text.contains("ok   tier present: runs `python3 -m json.tool --help`"),
        "{text}"
    );
    assert!(text.contains("verdict: not ready: 1 problem"), "{text}");
}
