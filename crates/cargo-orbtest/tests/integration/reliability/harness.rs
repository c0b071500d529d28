//! What every fault test checks once its run has ended: the exit code, a summary.json that is
//! complete or absent, no pass for a test that did not get to its end, and no machine of ours
//! left once the next run's preflight has run.
//!
//! The fixture's `faults` tests name their machines `scratch-...` and no cleanup prefix covers
//! that: only the run journals can tell the next run which machines were ours.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use orbtest::results::TestStatus;

use crate::support::lifecycle::{Sim, code, stderr};

pub(super) const PREFIX: &str = "scratch-";

/// orchestrator.toml for a fault test: `main` runs the selected fixture tests; `sweep` is the
/// next run, whose preflight must reap whatever `main` left (it selects a test that touches no
/// machine).
pub(super) fn config(main_filter: &str, machines_extra: &str, threads: u32) -> String {
    format!(
        "[machines]\nprovider = \"sim\"\n{machines_extra}\n[machines.sim]\nscenario = \"{{scenario}}\"\n\
         [tiers.main]\nfilter = \"{main_filter}\"\nthreads = {threads}\nmachines = true\n\
         [tiers.sweep]\nfilter = \"test(=tests::names_use_the_prefix)\"\nmachines = true\n"
    )
}

pub(super) fn faults_dir(sim: &Sim) -> PathBuf {
    sim.path().join("faults")
}

/// `cargo orbtest --tier main` with the fixture's fault tests switched on.
pub(super) fn main_run(sim: &Sim, extra: &[&str]) -> Command {
    let mut args = vec!["--tier", "main"];
    args.extend_from_slice(extra);
    let mut cmd = sim.reporting(&args);
    std::fs::create_dir_all(faults_dir(sim)).expect("faults dir");
    cmd.env("FIXTURE_FAULTS_DIR", faults_dir(sim))
        .env("FIXTURE_PREFIX", PREFIX);
    cmd
}

/// Checks the exit code against summary.json (which must be complete) and that every test
/// reported as passed really got to its end.
pub(super) fn assert_honest_run(sim: &Sim, out: &Output, expected: i32) -> serde_json::Value {
    assert_honest(sim, code(out), &stderr(out), expected)
}

/// [`assert_honest_run`] for a run started in the background (`log`: its stderr).
pub(super) fn assert_honest(sim: &Sim, code: i32, log: &str, expected: i32) -> serde_json::Value {
    let text = std::fs::read_to_string(sim.reports().join("summary.json"))
        .unwrap_or_else(|e| panic!("no summary.json ({e}); exit {code}: {log}"));
    let summary: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("summary.json is not complete JSON ({e}):\n{text}"));
    assert_eq!(summary["exit_code"], code, "summary.json and the exit code disagree");
    assert_eq!(code, expected, "{log}");
    if let Some(checked) = assert_passes_are_real(sim, &sim.reports()) {
        // Every test of `main` is a fault test: what junit.xml and summary.json call passed agree.
        let main = summary["tiers"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["name"] == "main"));
        if let Some(main) = main {
            assert_eq!(
                Some(checked),
                main["tests"]["passed"].as_u64(),
                "junit.xml and summary.json disagree"
            );
        }
    }
    summary
}

/// Every test the merged junit.xml calls passed (or flaky: passed on a retry) left its marker;
/// how many such tests there were (`None` without a junit.xml).
pub(super) fn assert_passes_are_real(sim: &Sim, reports: &Path) -> Option<u64> {
    let junit = reports.join("junit.xml");
    if !junit.exists() {
        return None;
    }
    let results = orbtest::junit::read_path(&junit).expect("junit.xml is readable");
    let marks = faults_dir(sim).join("passed");
    let mut checked = 0;
    for r in results {
        if matches!(r.status, TestStatus::Passed | TestStatus::Flaky) && r.id.binary_id.ends_with("::faults") {
            assert!(
                marks.join(&r.id.name).exists(),
                "{} is reported as passed but never got to its end",
                r.id
            );
            checked += 1;
        }
    }
    Some(checked)
}

/// Runs the next run (`--tier sweep`) and checks that its preflight left none of our machines.
pub(super) fn assert_next_run_reaps(sim: &Sim) {
    let out = sim
        .command(&[
            "--tier",
            "sweep",
            "--report-dir",
            sim.path().join("sweep").to_str().expect("utf-8"),
        ])
        .output()
        .expect("run cargo-orbtest");
    assert_eq!(code(&out), 0, "the next run: {}", stderr(&out));
    let ours: Vec<String> = sim.machines().into_iter().filter(|m| m.starts_with(PREFIX)).collect();
    assert!(ours.is_empty(), "machines of ours survived the next run: {ours:?}");
}

/// Tests the markers say got to their end.
pub(super) fn passed_markers(sim: &Sim) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(faults_dir(sim).join("passed"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Waits for the fixture's `pauses_with_a_machine` to reach its pause: its pid and machine.
pub(super) fn paused(sim: &Sim) -> (i32, String) {
    let path = faults_dir(sim).join("paused");
    crate::support::lifecycle::wait_until("the test to pause with its machine", || {
        std::fs::read_to_string(&path).is_ok_and(|t| t.contains(' '))
    });
    let text = std::fs::read_to_string(&path).expect("paused");
    let (pid, machine) = text.split_once(' ').expect("PID NAME");
    (pid.parse().expect("pid"), machine.to_string())
}

/// Lets the paused test go on.
pub(super) fn go(sim: &Sim) {
    std::fs::write(faults_dir(sim).join("go"), "").expect("go");
}

/// Every run journal of the scenario's provider, read whole.
pub(super) fn journals(sim: &Sim) -> String {
    let mut text = String::new();
    let Ok(runs) = std::fs::read_dir(sim.provider_state().join("runs")) else {
        return text;
    };
    for run in runs.flatten() {
        text.push_str(&std::fs::read_to_string(run.path().join("journal.jsonl")).unwrap_or_default());
    }
    text
}
