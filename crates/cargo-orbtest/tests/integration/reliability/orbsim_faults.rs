//! Faults of OrbStack itself, injected through orbsim's scenario: hangs after success,
//! transient download errors in bursts, orbctl killed by a signal, OrbStack stopped or
//! restarting mid-tier, and a machine deleted by someone else while its test uses it.

use crate::reliability::harness::{
    assert_honest, assert_honest_run, assert_next_run_reaps, config, go, journals, main_run, passed_markers, paused,
};
use crate::support::lifecycle::{Sim, code, stderr, wait_until};

/// Six tests, each: create, info, run, list, delete.
const FAULTY: &str = "binary(faults) & test(/^faulty_/)";

/// Real-time limits: well above what the scaled scenarios take, so only injected faults trip.
const MACHINES: &str = "timeouts = { create = \"1500ms\", lifecycle = \"2s\", query = \"2s\" }\n\
                        retry = { attempts = 4, delay = \"20ms\", backoff = \"exponential\" }";

#[test]
fn everything_at_once_hangs_bursts_and_killed_calls() {
    // 10% of creates hang after succeeding (longer than the create timeout), download errors
    // come in bursts of two, and 5% of orbctl calls of any kind die from SIGKILL after doing
    // their work. Retries (4 attempts) cover a burst; recovery covers hangs and kills.
    let seed: u64 = std::env::var("RELIABILITY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    println!("seed {seed} (set RELIABILITY_SEED to try another)");
    let scenario = format!(
        "seed = {seed}\ntime_scale = 0.01\n[latency]\ncreate = \"20s\"\ndelete = \"2s\"\n\
                    [faults.hang]\nprobability = 0.1\nmin = \"200s\"\nmax = \"300s\"\n\
                    [faults.transient]\nrate = 0.15\nburst = 2\n\
                    [faults.kill]\nprobability = 0.05\n"
    );
    // One test thread keeps orbsim's call order, and so which calls fail, fixed for the seed.
    let sim = Sim::new(&config(FAULTY, MACHINES, 1), Some(&scenario));
    let out = main_run(&sim, &[]).output().expect("run");
    let summary = assert_honest_run(&sim, &out, 0);
    assert_eq!(passed_markers(&sim).len(), 6, "{}", stderr(&out));
    assert_eq!(summary["tiers"][0]["tests"]["passed"], 6);
    let stats = sim.stats();
    for fault in ["hangs_injected", "transient_failures_injected", "kills_injected"] {
        assert!(
            stats[fault].as_u64().unwrap() >= 1,
            "seed {seed} no longer injects {fault}: {stats}"
        );
    }
    assert!(summary["machines"]["retried"].as_u64().unwrap() >= 1, "{summary}");
    assert!(summary["machines"]["recovered"].as_u64().unwrap() >= 1, "{summary}");
    assert_next_run_reaps(&sim);
}

#[test]
fn download_bursts_longer_than_the_retries_fail_those_tests_honestly() {
    // Twelve creates in a row fail: with one test at a time and 4 attempts per call, the first
    // three tests fail, the other three pass.
    let scenario = "seed = 3\ntime_scale = 0.01\n[latency]\ncreate = \"10s\"\n\
                    [faults.transient]\nrate = 1.0\nburst = 12\nlimit = 12\n";
    let sim = Sim::new(&config(FAULTY, MACHINES, 1), Some(scenario));
    let out = main_run(&sim, &[]).output().expect("run");
    let summary = assert_honest_run(&sim, &out, 1);
    let tests = &summary["tiers"][0]["tests"];
    assert_eq!(
        (tests["failed"].as_u64(), tests["passed"].as_u64()),
        (Some(3), Some(3)),
        "{summary}"
    );
    assert_eq!(passed_markers(&sim).len(), 3);
    assert!(
        stderr(&out).contains("unexpected EOF"),
        "the failure shows orbctl's download error: {}",
        stderr(&out)
    );
    assert_next_run_reaps(&sim);
}

#[test]
fn killed_orbctl_calls_are_recovered_or_retried() {
    // A third of all calls die from SIGKILL after their work is done (one test at a time keeps
    // which ones fixed for the seed).
    let scenario = "seed = 5\ntime_scale = 0.01\n[latency]\ncreate = \"10s\"\n\
                    [faults.kill]\nprobability = 0.33\nlimit = 12\n";
    let sim = Sim::new(&config(FAULTY, MACHINES, 1), Some(scenario));
    let out = main_run(&sim, &[]).output().expect("run");
    assert_honest_run(&sim, &out, 0);
    assert!(sim.stats()["kills_injected"].as_u64().unwrap() >= 6);
    assert_next_run_reaps(&sim);
}

/// A test that pauses (with a machine) until the harness says go; nothing else calls orbctl
/// meanwhile, so what the harness does to OrbStack is all the test meets.
const PAUSE: &str = "binary(faults) & test(=pauses_with_a_machine)";

#[test]
fn orbstack_stopped_mid_tier_is_started_again_by_the_next_call() {
    let sim = Sim::new(
        &config(PAUSE, MACHINES, 1),
        Some("time_scale = 0.01\n[latency]\ncreate = \"10s\"\nstartup = \"20s\"\n"),
    );
    let mut run = sim.spawn("run", main_run(&sim, &[]));
    paused(&sim);
    // Someone quits OrbStack while the tier runs.
    assert!(sim.orbctl(&["stop"]).status.success());
    assert_eq!(sim.stats()["orbstack"], "stopped");
    go(&sim);
    let status = run.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "{}", sim.output_of("run"));
    assert_honest(&sim, 0, &sim.output_of("run"), 0);
    assert_eq!(
        sim.stats()["orbstack"],
        "running",
        "the test's next call started it again"
    );
    assert_next_run_reaps(&sim);
}

#[test]
fn orbstack_restarting_mid_tier_is_waited_out_by_retries() {
    const BASE: &str = "time_scale = 0.01\n[latency]\ncreate = \"10s\"\n";
    // Enough attempts, backing off, to outlast a restart that the harness ends below.
    let machines = "retry = { attempts = 8, delay = \"50ms\", backoff = \"exponential\" }";
    let sim = Sim::new(&config(PAUSE, machines, 1), Some(BASE));
    let mut run = sim.spawn("run", main_run(&sim, &[]));
    paused(&sim);
    // OrbStack restarts: from now on daemon calls fail with `machine manager is stopping`
    // (orbsim reads its scenario on every call).
    let now = sim.stats()["simulated_now_s"].as_f64().expect("now");
    let scenario = sim.path().join("scenario.toml");
    let window = |to: f64| {
        format!(
            "{BASE}[[windows]]\nkind = \"restarting\"\nfrom = \"{}ms\"\nto = \"{}ms\"\n",
            (now * 1000.0) as u64,
            (to * 1000.0) as u64
        )
    };
    std::fs::write(&scenario, window(now + 3_600_000.0)).expect("scenario");
    assert_eq!(sim.stats()["orbstack"], "restarting");
    go(&sim);
    wait_until("a call of the test to meet the restart", || {
        journals(&sim).contains("daemon stopping")
    });
    // The restart ends.
    let now = sim.stats()["simulated_now_s"].as_f64().expect("now");
    std::fs::write(&scenario, window(now)).expect("scenario");
    let status = run.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "{}", sim.output_of("run"));
    let summary = assert_honest(&sim, 0, &sim.output_of("run"), 0);
    assert!(summary["machines"]["retried"].as_u64().unwrap() >= 1, "{summary}");
    assert_next_run_reaps(&sim);
}

#[test]
fn a_machine_deleted_by_someone_else_fails_its_test_and_nothing_breaks() {
    let sim = Sim::new(
        &config("binary(faults) & test(=pauses_with_a_machine)", "", 1),
        Some("time_scale = 0.01\n"),
    );
    let mut run = sim.spawn("run", main_run(&sim, &[]));
    let (_, machine) = paused(&sim);
    let machine = machine.as_str();
    let out = sim.orbctl(&["delete", "-f", machine]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    go(&sim);
    let status = run.wait().expect("wait");
    assert_eq!(status.code(), Some(1), "{}", sim.output_of("run"));
    let summary = sim.summary();
    assert_eq!(summary["tiers"][0]["tests"]["failed"], 1, "{summary}");
    assert_eq!(summary["exit_code"], 1);
    assert!(passed_markers(&sim).is_empty());
    let log = sim.output_of("run");
    // The second machine the test made before it failed: postflight's to delete.
    assert!(log.contains("postflight: deleted 1 machine"), "{log}");
    assert_next_run_reaps(&sim);
    assert_eq!(code(&sim.orbctl(&["info", machine])), 1, "still gone");
}

#[test]
fn a_machine_someone_else_recreates_under_a_tests_name_is_never_deleted() {
    // The test's machine is deleted by someone else, who then creates their own under the same
    // name. The run's claim names the machine it created (its id), so postflight keeps theirs.
    let sim = Sim::new(
        &config("binary(faults) & test(=pauses_then_leaves_its_machine)", "", 1),
        Some("time_scale = 0.01\n"),
    );
    let mut run = sim.spawn("run", main_run(&sim, &[]));
    let (_, machine) = paused(&sim);
    let machine = machine.as_str();
    let id_of = |sim: &Sim| {
        let out = sim.orbctl(&["info", machine, "-f", "json"]);
        let info: serde_json::Value = serde_json::from_slice(&out.stdout).expect("info JSON");
        info["record"]["id"].as_str().expect("id").to_string()
    };
    let ours = id_of(&sim);
    assert!(sim.orbctl(&["delete", "-f", machine]).status.success());
    assert!(sim.orbctl(&["create", "ubuntu:22.04", machine]).status.success());
    let theirs = id_of(&sim);
    assert_ne!(ours, theirs);
    go(&sim);
    let status = run.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "{}", sim.output_of("run"));
    assert!(
        sim.output_of("run").contains("postflight: deleted 0 machines"),
        "{}",
        sim.output_of("run")
    );
    assert_eq!(id_of(&sim), theirs, "their machine is still there");
}
