//! The orbctl shim under real test processes: create slots across processes, recovery of
//! creates that hung after succeeding, create→clone, a slot freed by a killed process, and
//! output identical to orbctl's for what it passes through.

use crate::support::lifecycle::{Sim, code, stderr, wait_until};

fn config(extra: &str, tier: &str) -> String {
    format!(
        "[machines]\nprovider = \"sim\"\nprefixes = [\"test-\"]\n{extra}\n[machines.sim]\nscenario = \"{{scenario}}\"\n{tier}"
    )
}

#[test]
fn slots_cap_concurrent_creates_across_test_processes() {
    let sim = Sim::new(
        &config(
            "max_concurrent_creates = 2",
            "[tiers.many]\nfilter = \"binary(many_creates)\"\nthreads = 8\nmachines = true\n",
        ),
        Some("time_scale = 0.02\n[latency]\ncreate = \"5s\"\n"),
    );
    let out = sim.run(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let stats = sim.stats();
    assert_eq!(stats["creates_started"], 8);
    assert!(stats["peak_concurrent_creates"].as_u64().unwrap() <= 2, "{stats}");
    let summary = sim.summary();
    assert_eq!(summary["tiers"][0]["tests"]["passed"], 8);
    assert!(
        summary["machines"]["peak_concurrent_creates"].as_u64().unwrap() <= 2,
        "{summary}"
    );
}

#[test]
fn creates_that_hang_after_succeeding_are_recovered() {
    // One test thread in file order keeps orbsim's call order, and so which create hangs,
    // fixed for the seed.
    let scenario = "seed = 2\ntime_scale = 0.01\n[latency]\ncreate = \"5s\"\n[faults.hang]\nprobability = 0.05\nmin = \"60s\"\nmax = \"90s\"\n";
    let sim = Sim::new(
        &config(
            "timeouts = { create = \"300ms\" }",
            "[tiers.many]\nfilter = \"binary(many_creates)\"\nthreads = 1\nslowest_first = false\nmachines = true\n",
        ),
        Some(scenario),
    );
    let out = sim.run(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        sim.stats()["hangs_injected"].as_u64().unwrap() >= 1,
        "the scenario no longer injects a hang for this seed"
    );
    let summary = sim.summary();
    assert_eq!(summary["tiers"][0]["tests"]["passed"], 8);
    assert!(summary["machines"]["recovered"].as_u64().unwrap() >= 1, "{summary}");
    assert_eq!(
        sim.stats()["creates_started"],
        8,
        "recovered creates are not created twice"
    );
}

#[test]
fn creates_become_clones_of_a_matching_baseline() {
    let sim = Sim::new(
        &config(
            "[[machines.baseline]]\nname = \"orbtest-base\"\nimage = \"ubuntu:jammy\"\n",
            "[tiers.many]\nfilter = \"binary(many_creates)\"\nthreads = 4\nmachines = true\n",
        ),
        Some("time_scale = 0.01\n[latency]\ncreate = \"20s\"\nclone = \"3s\"\n"),
    );
    let out = sim.run(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let stats = sim.stats();
    assert_eq!(stats["creates_started"], 1, "only the baseline was created: {stats}");
    assert_eq!(stats["clones_started"], 8, "{stats}");
    assert_eq!(sim.summary()["machines"]["cloned"], 8);
}

#[test]
fn a_test_killed_while_holding_a_slot_does_not_block_the_others() {
    let sim = Sim::new(
        &config(
            "max_concurrent_creates = 1",
            "[tiers.slots]\nfilter = \"binary(slot_holder) - test(answered_at_once)\"\nthreads = 2\nmachines = true\n",
        ),
        // The holder's import would take 100 simulated hours if nobody killed it.
        Some("time_scale = 0.01\n[latency]\ncreate = \"2s\"\nimport = \"100h\"\n"),
    );
    let slot_dir = sim.path().join("slots");
    let mut cmd = sim.reporting(&[]);
    cmd.env("FIXTURE_SLOT_DIR", &slot_dir);
    let mut run = sim.spawn("run", cmd);
    let pid_file = slot_dir.join("holder.pid");
    wait_until("the holder to start its import", || pid_file.exists());
    wait_until("the holder's import to reach orbsim", || {
        sim.stats()["creates_in_flight"] == 1
    });
    let pid: u32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    crate::support::lifecycle::signal(pid, libc::SIGKILL);
    std::fs::write(slot_dir.join("holder.killed"), "").unwrap();
    let status = run.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", sim.output_of("run"));
    assert_eq!(sim.summary()["tiers"][0]["tests"]["passed"], 2);
}

/// orbctl refuses some creates at once (a bad name, distro, arch or flag; a taken name): the
/// shim must answer those at once too, in orbctl's exact bytes, even while the only create slot
/// is held for as long as anyone cares to wait. Queued, they would outlive a test's timeout.
#[test]
fn creates_orbctl_refuses_are_answered_at_once_while_the_queue_is_full() {
    let sim = Sim::new(
        &config(
            "max_concurrent_creates = 1",
            "[tiers.slots]\nfilter = \"binary(slot_holder)\"\nthreads = 3\nmachines = true\n",
        ),
        Some("time_scale = 0.01\n[latency]\ncreate = \"2s\"\nimport = \"100h\"\n"),
    );
    let slot_dir = sim.path().join("slots");
    let mut cmd = sim.reporting(&[]);
    cmd.env("FIXTURE_SLOT_DIR", &slot_dir).env("FIXTURE_AT_ONCE", "1");
    let mut run = sim.spawn("run", cmd);
    let pid_file = slot_dir.join("holder.pid");
    wait_until("the holder to start its import", || pid_file.exists());
    wait_until("the holder's import to reach orbsim", || {
        sim.stats()["creates_in_flight"] == 1
    });
    std::fs::write(slot_dir.join("holder.holding"), "").unwrap();
    let results = slot_dir.join("at-once.json");
    let answered = crate::support::lifecycle::wait_for(std::time::Duration::from_secs(60), || results.exists());
    // Free the slot whatever happened, so the run ends.
    let pid: u32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    crate::support::lifecycle::signal(pid, libc::SIGKILL);
    std::fs::write(slot_dir.join("holder.killed"), "").unwrap();
    let status = run.wait().unwrap();
    assert!(answered, "the refused creates were queued behind the held slot");
    assert_eq!(status.code(), Some(0), "{}", sim.output_of("run"));
    let results: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert_eq!(results.as_array().unwrap().len(), 5, "{results}");
    for r in results.as_array().unwrap() {
        assert_eq!(r["same"], true, "not orbctl's answer: {r}");
        assert_eq!(r["code"], 1, "{r}");
        assert!(r["seconds"].as_f64().unwrap() < 5.0, "not answered at once: {r}");
    }
}
