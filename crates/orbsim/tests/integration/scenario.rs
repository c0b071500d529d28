//! Scenario effects: seeded randomness, time scale, faults, memory pressure.

use crate::support::Sim;

/// Outcome of each of `n` sequential creates, plus the fault counters.
fn run_creates(scenario: &str, n: usize) -> (Vec<i32>, u64, u64) {
    let sim = Sim::with_scenario(scenario);
    let codes = (0..n)
        .map(|i| sim.orbctl(&["create", "ubuntu", &format!("d{i}")]).code)
        .collect();
    let s = sim.stats();
    (codes, s.transient_failures_injected, s.hangs_injected)
}

const FLAKY: &str = "time_scale = 0.0001
[latency]
create = { dist = \"uniform\", min = \"1s\", max = \"20s\" }
[faults.transient]
rate = 0.3
[faults.hang]
probability = 0.3
max = \"1s\"
";

#[test]
fn same_seed_and_call_order_same_behaviour() {
    let seven = format!("seed = 7\n{FLAKY}");
    let a = run_creates(&seven, 20);
    let b = run_creates(&seven, 20);
    assert_eq!(a, b);
    assert!(a.1 > 0 && a.2 > 0, "the scenario should inject both faults: {a:?}");
    let eight = run_creates(&format!("seed = 8\n{FLAKY}"), 20);
    assert_ne!(a, eight, "another seed gives another run");
}

#[test]
fn time_scale_runs_simulated_time() {
    // 100 simulated seconds run in 10 ms.
    let sim = Sim::with_scenario("time_scale = 0.0001\n[latency]\ncreate = \"100s\"\n");
    let before = sim.stats().simulated_now_s;
    sim.orbctl(&["create", "ubuntu", "box"]).ok();
    let after = sim.stats().simulated_now_s;
    assert!(
        after - before >= 100.0,
        "create returned before its latency: {before} -> {after}"
    );
}

#[test]
fn hang_after_success_keeps_the_client_but_the_machine_is_there() {
    let sim =
        Sim::with_scenario("time_scale = 0.01\n[faults.hang]\nprobability = 1.0\nmin = \"1000s\"\nmax = \"1000s\"\n");
    let mut client = sim.command("orbctl").args(["create", "ubuntu", "box"]).spawn().unwrap();
    let s = sim.wait_for("the machine", |s| s.creates_finished == 1);
    assert_eq!(s.hangs_injected, 1);
    assert_eq!(s.running_machines, 1);
    assert!(client.try_wait().unwrap().is_none(), "the client should still hang");
    client.kill().unwrap();
    client.wait().unwrap();
}

#[test]
fn transient_failures_come_in_bursts_up_to_a_limit() {
    let sim = Sim::with_scenario("[faults.transient]\nrate = 1.0\nburst = 3\nlimit = 3\n");
    let codes: Vec<i32> = (0..5).map(|_| sim.orbctl(&["create", "ubuntu", "box"]).code).collect();
    // Three failures, then success, then the name is taken.
    assert_eq!(codes, [1, 1, 1, 0, 1]);
    let s = sim.stats();
    assert_eq!(
        (s.transient_failures_injected, s.creates_failed, s.creates_finished),
        (3, 3, 1)
    );
}

#[test]
fn clone_faults_use_the_clone_wording() {
    let sim =
        Sim::with_scenario("[faults.transient]\nrate = 1.0\nops = [\"clone\"]\nerror = \"clone: copy: i/o timeout\"\n");
    sim.orbctl(&["create", "ubuntu", "base"]).ok();
    let out = sim.orbctl(&["clone", "base", "copy"]);
    assert_eq!(out.stderr, "[-32098] clone: copy: i/o timeout\n");
    assert_eq!(sim.names(), ["base"]);
}

#[test]
fn an_unknown_version_fails_during_download() {
    let sim = Sim::new();
    let out = sim.orbctl(&["create", "ubuntu:99.99", "box"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "[-32098] create 'box': make rootfs: download metadata: GET download status: 404 Not Found\n"
    );
    assert!(sim.names().is_empty());
}

const TIGHT_HOST: &str = "time_scale = 0.0001
[latency]
create = \"30s\"
[host]
memory_mib = 4096
base_mib = 1024
machine_mib = 1024
swap_mib = 4096
slowdown_above_swap_percent = 25
max_slowdown = 3.0
";

#[test]
fn memory_turns_into_swap_and_slows_operations_down() {
    let sim = Sim::with_scenario(TIGHT_HOST);
    for i in 0..3 {
        sim.orbctl(&["create", "ubuntu", &format!("m{i}")]).ok();
    }
    let s = sim.stats();
    assert_eq!((s.memory_percent, s.swap_percent, s.slowdown), (100.0, 0.0, 1.0));
    sim.orbctl(&["create", "ubuntu", "m3"]).ok();
    sim.orbctl(&["create", "ubuntu", "m4"]).ok();
    // 1024 + 5 × 1024 = 6144 MiB on a 4096 MiB host: 2048 MiB of 4096 MiB swap.
    let s = sim.stats();
    assert_eq!((s.memory_percent, s.swap_percent), (100.0, 50.0));
    // 1 + (3 - 1) × (50 - 25) / (100 - 25)
    assert_eq!(s.slowdown, 1.67);

    // A create now takes its 30 s times the slowdown.
    let before = s.simulated_now_s;
    sim.orbctl(&["create", "ubuntu", "slow"]).ok();
    let after = sim.stats();
    assert!(after.simulated_now_s - before >= 30.0 * 1.66, "{before} -> {after:?}");

    sim.orbctl(&["stop", "m0", "m1", "m2", "m3"]).ok();
    let s = sim.stats();
    assert_eq!(s.swap_percent, 0.0);
    assert!(s.peak_swap_percent >= 75.0, "{s:?}");
}
