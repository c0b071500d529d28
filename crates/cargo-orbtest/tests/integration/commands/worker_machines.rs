//! Worker machines: preflight provides `count` warm machines (clones of a baseline when there
//! is one), each running test gets its own (pytest-xdist through the documented mapping and
//! `orbtest-worker`; nextest through orbtest's target runner), a broken one is replaced before
//! the next test gets it, and postflight deletes them.

use std::process::Command;

use serde_json::Value;

use crate::support::pysuite::{Scenario, code, counts, python_or_skip, stderr};

fn sim_config(workers: &str, tiers: &str) -> String {
    format!(
        "[machines]\nprovider = \"sim\"\nprefixes = [\"test-\"]\n{workers}\n[machines.sim]\nscenario = \"{{scenario}}\"\n{tiers}"
    )
}

const SCENARIO: &str = "time_scale = 0.01\n[latency]\ncreate = \"5s\"\nclone = \"2s\"\n";

/// Tests whose spans overlap never had the same worker.
fn assert_exclusive(records: &[Value], start: &str, end: &str) {
    for (i, a) in records.iter().enumerate() {
        for b in &records[i + 1..] {
            let overlap = a[start].as_f64().unwrap() < b[end].as_f64().unwrap()
                && b[start].as_f64().unwrap() < a[end].as_f64().unwrap();
            if overlap {
                assert_ne!(a["worker"], b["worker"], "two tests ran at once on one worker: {a} {b}");
            }
        }
    }
}

fn worker_machines(s: &Scenario) -> Vec<String> {
    s.machines()
        .into_iter()
        .filter(|m| m.starts_with("orbtest-worker-"))
        .collect()
}

#[test]
fn pytest_workers_each_get_their_own_machine() {
    let Some(python) = python_or_skip("pytest_workers_each_get_their_own_machine") else {
        return;
    };
    let config = sim_config(
        "[machines.workers]\nimage = \"ubuntu:22.04\"\ncount = \"threads\"\n",
        r#"
[tiers.workers]
command = ["{python}", "-m", "pytest", "-q", "-n", "{threads}", "tests/test_workers.py", "--junitxml={junit}"]
threads = 2
machines = true
"#,
    );
    let s = Scenario::new(&config, Some(&python), Some(SCENARIO));
    let out = s.run(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("workers: 2 ready (from ubuntu:22.04)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(counts(&s.tier("workers")), (4, 0, 0, 0, 0));
    let records = s.records();
    assert_eq!(records.len(), 4);
    let names = records[0]["workers"].as_array().unwrap().clone();
    assert_eq!(names.len(), 2, "count = threads = 2: {names:?}");
    for r in &records {
        assert!(names.contains(&r["worker"]), "{r}");
    }
    assert_exclusive(&records, "start", "end");
    let used: std::collections::BTreeSet<String> = records.iter().map(|r| r["worker"].to_string()).collect();
    assert_eq!(used.len(), 2, "both xdist workers had their own machine: {records:?}");
    assert_eq!(s.stats()["creates_started"], 2, "made once, in preflight");
    assert!(
        worker_machines(&s).is_empty(),
        "postflight deletes the workers: {:?}",
        s.machines()
    );
}

#[test]
fn a_broken_worker_is_replaced_before_the_next_test_gets_it() {
    let Some(python) = python_or_skip("a_broken_worker_is_replaced_before_the_next_test_gets_it") else {
        return;
    };
    // Workers are clones of the baseline; one test deletes its worker, the next finds it working.
    let config = sim_config(
        "[[machines.baseline]]\nname = \"pysuite-base\"\nimage = \"ubuntu:22.04\"\n[machines.workers]\ncount = 1\n",
        r#"
[tiers.break]
command = ["{python}", "-m", "pytest", "-q", "tests/test_break.py", "--junitxml={junit}"]
machines = true
"#,
    );
    let s = Scenario::new(&config, Some(&python), Some(SCENARIO));
    let out = s.run(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("workers: 1 ready (clones of pysuite-base)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(counts(&s.tier("break")), (2, 0, 0, 0, 0));
    let stats = s.stats();
    assert_eq!(stats["clones_started"], 2, "the worker, then its replacement: {stats}");
    let records = s.records();
    assert!(
        records[0]["worker"].as_str().unwrap().starts_with("orbtest-worker-"),
        "{records:?}"
    );
    assert!(worker_machines(&s).is_empty(), "{:?}", s.machines());
    assert_eq!(s.machines(), ["pysuite-base"], "only the baseline stays");
}

/// The nextest side: the fixture's tests record `ORBTEST_WORKER` and hold it while another
/// test starts; a second tier breaks a worker between two tests.
#[test]
fn nextest_tests_running_at_once_never_share_a_worker() {
    let s = Scenario::new(
        &sim_config(
            "[machines.workers]\nimage = \"ubuntu:22.04\"\n",
            "[tiers.slots]\nfilter = \"binary(slots)\"\nthreads = 2\nmachines = true\n\
             [tiers.breakage]\nfilter = \"binary(breakage)\"\nthreads = 1\nmachines = true\n\
             # a breaks, then b finds it replaced: the order is the test.\n\
             slowest_first = false\n",
        ),
        None,
        Some(SCENARIO),
    );
    std::fs::create_dir_all(s.state()).unwrap();
    let out = fixture_run(&s, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(counts(&s.tier("slots")), (4, 0, 0, 0, 0));
    assert_eq!(counts(&s.tier("breakage")), (2, 0, 0, 0, 0));
    let records: Vec<Value> = s
        .records()
        .into_iter()
        .filter(|r| r["test"].as_str().unwrap().starts_with("slot_"))
        .collect();
    assert_eq!(records.len(), 4);
    let names: Vec<&str> = records[0]["workers"].as_str().unwrap().split(',').collect();
    assert_eq!(names.len(), 2, "count = threads = 2");
    for r in &records {
        let slot: usize = r["slot"].as_str().unwrap().parse().unwrap();
        assert_eq!(r["worker"], names[slot], "the worker of slot {slot}: {r}");
    }
    assert_exclusive(&records, "start", "end");
    // The broken worker was made again (same name) before the next test got it.
    assert_eq!(s.stats()["creates_started"], 3, "two workers and one replacement");
    assert!(worker_machines(&s).is_empty(), "{:?}", s.machines());
}

#[test]
fn fewer_workers_than_tests_at_once_is_refused() {
    let s = Scenario::new(
        &sim_config(
            "[machines.workers]\nimage = \"ubuntu:22.04\"\ncount = 1\n",
            "[tiers.slots]\nfilter = \"binary(slots)\"\nthreads = 2\nmachines = true\n",
        ),
        None,
        Some(SCENARIO),
    );
    let out = fixture_run(&s, &[]);
    assert_eq!(code(&out), 64, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("tier `slots` runs up to 2 tests at once but [machines.workers] count is 1"),
        "{err}"
    );
    assert!(s.machines().is_empty(), "nothing was made");
}

/// cargo-orbtest over the workers fixture (a cargo workspace) with this scenario's config.
fn fixture_run(s: &Scenario, args: &[&str]) -> std::process::Output {
    let manifest = crate::support::cli::fixture("workers").join("Cargo.toml");
    let mut cmd: Command = s.command(&[
        "--manifest-path",
        manifest.to_str().unwrap(),
        "--config",
        s.path().join("orchestrator.toml").to_str().unwrap(),
        "--report-dir",
        s.path().join(".orbtest/latest").to_str().unwrap(),
    ]);
    cmd.args(args)
        .env("CARGO_TARGET_DIR", crate::support::cli::fixture_target())
        .env("FIXTURE_RECORD_DIR", s.state())
        .env("ORBSIM_SCENARIO", s.path().join("scenario.toml"));
    cmd.output().expect("run cargo-orbtest")
}
