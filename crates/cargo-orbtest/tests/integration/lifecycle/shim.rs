//! The orbctl shim and the run's broker under real test processes: the create cap across
//! processes, recovery of creates that hung after succeeding, create→clone, a create whose
//! caller was killed going on, a retry joining it, and what orbctl refuses answered at once.

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

/// A test's own timeout kills its `orbctl import` while the import holds the only create
/// slot: the import goes on (the daemon would finish it anyway), its machine is made and
/// cleaned up, the departure is journaled, and the next create gets the slot when it ends.
#[test]
fn a_create_whose_caller_is_killed_goes_on_and_then_frees_its_slot() {
    let sim = Sim::new(
        &config(
            "max_concurrent_creates = 1",
            "[tiers.slots]\nfilter = \"binary(slot_holder) - test(at_once) - test(hog)\"\nthreads = 2\nmachines = true\n",
        ),
        // The holder's import takes 5 simulated minutes (3 s): it is still in flight when the
        // holder is killed, and goes on in the broker until it is done.
        Some("time_scale = 0.01\n[latency]\ncreate = \"2s\"\nimport = \"300s\"\n"),
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
    let stats = sim.stats();
    assert_eq!(
        stats["imports_finished"], 1,
        "the killed caller's import was finished: {stats}"
    );
    assert!(
        sim.machines().iter().all(|m| !m.starts_with("test-")),
        "postflight deleted it: {:?}",
        sim.machines()
    );
    let journal = std::fs::read_to_string(sim.reports().join("journal.jsonl")).unwrap();
    let gone: Vec<serde_json::Value> = journal
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["event"] == "caller-gone")
        .collect();
    assert_eq!(gone.len(), 1, "{journal}");
    assert_eq!(gone[0]["op"], "import");
    assert_eq!(gone[0]["phase"], "running");
    assert!(
        gone[0]["test"].as_str().unwrap().ends_with("holder_is_killed"),
        "{}",
        gone[0]
    );
}

/// orbctl refuses some creates at once (a bad name, distro, arch or flag; a taken name): the
/// shim must answer those at once too, in orbctl's exact bytes, even while every create has to
/// wait (here: the host is over its swap limit). Queued, they would outlive a test's timeout.
#[test]
fn creates_orbctl_refuses_are_answered_at_once_while_creates_wait() {
    let sim = Sim::new(
        &config(
            "",
            "[pressure]\nswap_limit_percent = 40\nmax_wait = \"10m\"\n\
             [tiers.slots]\nfilter = \"binary(slot_holder) & (test(at_once) | test(hog))\"\nthreads = 2\nmachines = true\n",
        ),
        // One machine takes swap from 0 to 50%, over the 40% limit.
        Some(
            "time_scale = 0.01\n[latency]\ncreate = \"2s\"\n[host]\nmemory_mib = 1000\nbase_mib = 1000\nmachine_mib = 500\n\
             swap_mib = 1000\n",
        ),
    );
    sim.precreate(&["mine"]);
    // Stopped, it takes no memory: the host starts under its limit.
    assert!(sim.orbctl(&["stop", "mine"]).status.success());
    let slot_dir = sim.path().join("slots");
    std::fs::write(slot_dir.join("taken"), "mine").unwrap();
    let mut cmd = sim.reporting(&[]);
    cmd.env("FIXTURE_SLOT_DIR", &slot_dir).env("FIXTURE_AT_ONCE", "1");
    let mut run = sim.spawn("run", cmd);
    let results = slot_dir.join("at-once.json");
    let answered = crate::support::lifecycle::wait_for(std::time::Duration::from_secs(60), || results.exists());
    // Let creates in again, whatever happened, so the run ends.
    std::fs::write(slot_dir.join("holder.release"), "").unwrap();
    let status = run.wait().unwrap();
    assert!(
        answered,
        "the refused creates waited with the others: {}",
        sim.output_of("run")
    );
    assert_eq!(status.code(), Some(0), "{}", sim.output_of("run"));
    let results: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert_eq!(results["waited"], true, "creates did not have to wait: {results}");
    let calls = results["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 6, "{results}");
    for r in calls {
        assert_eq!(r["same"], true, "not orbctl's answer: {r}");
        assert_eq!(r["code"], 1, "{r}");
        assert!(r["seconds"].as_f64().unwrap() < 5.0, "not answered at once: {r}");
    }
    assert!(
        sim.machines().contains(&"mine".to_string()),
        "someone else's machine stays"
    );
}

/// A client that gives up on a create (its own timeout) and tries again gets the machine its
/// first attempt started: the retry joins it instead of meeting `machine already exists`.
#[test]
fn a_retry_of_a_create_its_caller_gave_up_on_joins_it() {
    let sim = Sim::new(
        &config(
            "",
            "[tiers.retries]\nfilter = \"binary(retries)\"\nthreads = 1\nmachines = true\n",
        ),
        Some("time_scale = 0.01\n[latency]\ncreate = \"100s\"\n"),
    );
    let mut cmd = sim.reporting(&[]);
    cmd.env("FIXTURE_JOIN", "1");
    let out = cmd.output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(sim.stats()["creates_started"], 1, "one create, not two");
    let journal = std::fs::read_to_string(sim.reports().join("journal.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = journal
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .collect();
    let of = |event: &str| events.iter().filter(|r| r["event"] == event).count();
    assert_eq!(of("caller-gone"), 1, "{journal}");
    assert_eq!(of("joined"), 1, "{journal}");
    let joined = events.iter().find(|r| r["event"] == "joined").unwrap();
    // Recovered when the broker saw the machine finished before orbctl returned.
    assert!(
        matches!(joined["outcome"].as_str(), Some("succeeded" | "recovered")),
        "{joined}"
    );
}

/// A test's `orbctl delete` never deletes a protected machine or a baseline: by name it is
/// refused in orbctl's manner (nothing deleted, exit 1), `delete -a` deletes everything else;
/// the journal says why.
#[test]
fn the_shim_never_deletes_protected_machines_or_baselines() {
    let sim = Sim::new(
        &config(
            "protect = [\"fixture-*\"]\n[[machines.baseline]]\nname = \"orbtest-base\"\nimage = \"ubuntu:jammy\"\n",
            "[tiers.protect]\nfilter = \"binary(protect)\"\nmachines = true\n",
        ),
        Some("time_scale = 0.01\n[latency]\ncreate = \"2s\"\n"),
    );
    sim.precreate(&["fixture-db", "bystander"]);
    let slot_dir = sim.path().join("slots");
    let mut cmd = sim.reporting(&[]);
    cmd.env("FIXTURE_SLOT_DIR", &slot_dir)
        .env("FIXTURE_PROTECT", "fixture-db,orbtest-base");
    let out = cmd.output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let machines = sim.machines();
    assert!(machines.contains(&"fixture-db".to_string()), "{machines:?}");
    assert!(machines.contains(&"orbtest-base".to_string()), "{machines:?}");
    assert!(
        !machines.contains(&"bystander".to_string()),
        "delete -a deleted the rest: {machines:?}"
    );
    let answers: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(slot_dir.join("protect.json")).unwrap()).unwrap();
    let answers = answers.as_array().unwrap();
    assert_eq!(answers[0]["code"], 1, "{}", answers[0]);
    assert_eq!(
        answers[0]["stderr"],
        "[-32098] cannot delete 'fixture-db': it is protected by `fixture-*` in orchestrator.toml\n"
    );
    assert_eq!(answers[1]["code"], 1, "{}", answers[1]);
    assert_eq!(
        answers[1]["stderr"],
        "[-32098] cannot delete 'orbtest-base': it is a baseline of cargo orbtest\n"
    );
    assert_eq!(
        answers[2]["code"], 0,
        "delete -a succeeds on what it may delete: {}",
        answers[2]
    );
    assert_eq!(answers[2]["stderr"], "");
    let journal = std::fs::read_to_string(sim.reports().join("journal.jsonl")).unwrap();
    let refused: Vec<String> = journal
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["event"] == "refused")
        .map(|r| r["machine"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        refused,
        ["fixture-db", "orbtest-base", "fixture-db", "orbtest-base"],
        "{journal}"
    );
}

/// The failed attempts of `test` in the tier, from summary.json.
fn attempts_of(summary: &serde_json::Value, test: &str) -> Vec<serde_json::Value> {
    summary["tiers"][0]["failures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["name"].as_str().is_some_and(|n| n.ends_with(test)))
        .flat_map(|t| t["attempts"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// Two tests that build the same machine name at once: the second is answered `machine
/// already exists` at once, and its failure is put on the machine layer, naming the other test,
/// in summary.json and report.html.
#[test]
fn a_name_two_tests_make_at_once_is_a_machine_layer_failure_naming_both() {
    let sim = Sim::new(
        &config(
            "",
            "[tiers.impatient]\nfilter = \"binary(impatient) & test(collide)\"\nthreads = 2\nmachines = true\n",
        ),
        Some("time_scale = 0.01\n[latency]\ncreate = \"300s\"\n"),
    );
    let mut cmd = sim.reporting(&[]);
    cmd.env("FIXTURE_IMPATIENT", "collide")
        .env("FIXTURE_STAMP", "1700000000");
    let out = cmd.output().unwrap();
    assert_eq!(code(&out), 1, "one of the two fails: {}", stderr(&out));
    let summary = sim.summary();
    let blamed: Vec<serde_json::Value> = ["collide_a", "collide_b"]
        .iter()
        .flat_map(|t| attempts_of(&summary, t))
        .collect();
    assert_eq!(blamed.len(), 1, "{summary}");
    let why = blamed[0]["blame"]["machines"].as_str().unwrap_or_default();
    assert!(
        why.contains("collided") && why.contains("test-shared-1700000000"),
        "{}",
        blamed[0]
    );
    assert!(why.contains("impatient::collide_"), "names the other test: {why}");
    assert!(
        why.contains("making the same name"),
        "answered by the broker at once: {why}"
    );
    let html = std::fs::read_to_string(sim.reports().join("report.html")).unwrap();
    assert!(
        html.contains("machine layer</strong>: `orbctl create test-shared-1700000000` collided"),
        "report.html"
    );
}

/// A create that waits in the queue (one slot, held) until its caller gives up fails its test:
/// that failure is put on the machine layer with the wait and the settings to change.
#[test]
fn a_create_given_up_on_in_the_queue_is_a_machine_layer_failure_with_the_wait() {
    let sim = Sim::new(
        &config(
            "max_concurrent_creates = 1",
            "[tiers.impatient]\nfilter = \"binary(impatient) & test(queue)\"\nthreads = 2\nmachines = true\n",
        ),
        Some("time_scale = 0.01\n[latency]\ncreate = \"200s\"\n"),
    );
    let mut cmd = sim.reporting(&[]);
    cmd.env("FIXTURE_IMPATIENT", "queue");
    let out = cmd.output().unwrap();
    assert_eq!(code(&out), 1, "the impatient test fails: {}", stderr(&out));
    let summary = sim.summary();
    let attempts = attempts_of(&summary, "queue_gives_up");
    assert_eq!(attempts.len(), 1, "{summary}");
    let why = attempts[0]["blame"]["machines"].as_str().unwrap_or_default();
    assert!(
        why.contains("in orbtest's create queue and its caller gave up"),
        "{why}"
    );
    assert!(why.contains("max_concurrent_creates"), "{why}");
    assert!(attempts_of(&summary, "queue_holder").is_empty(), "the holder passed");
}

/// An image the tests created again and again gets an automatic baseline in the next run's
/// preflight, and their creates become clones of it; it never becomes the user's default
/// machine; `auto_baselines = false` turns it off.
#[test]
fn an_image_created_again_and_again_gets_an_automatic_baseline() {
    let tier = "[tiers.many]\nfilter = \"binary(many_creates)\"\nthreads = 4\nmachines = true\n";
    let scenario = "time_scale = 0.01\n[latency]\ncreate = \"20s\"\nclone = \"3s\"\n";
    let sim = Sim::new(&config("", tier), Some(scenario));
    // The user's machines: with the first one deleted, none is the default by choice, so
    // OrbStack would make the next machine created the default.
    sim.precreate(&["aaa-dev", "zzz-box"]);
    assert!(sim.orbctl(&["delete", "-f", "aaa-dev"]).status.success());
    let default = || {
        String::from_utf8_lossy(&sim.orbctl(&["default"]).stdout)
            .trim()
            .to_string()
    };
    assert_eq!(default(), "zzz-box");

    let out = sim.run(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let first = sim.stats();
    assert_eq!(first["clones_started"], 0, "no history yet: {first}");

    let out = sim.run(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let second = sim.stats();
    assert_eq!(
        second["creates_started"].as_u64().unwrap() - first["creates_started"].as_u64().unwrap(),
        1,
        "only the automatic baseline was created: {second}"
    );
    assert_eq!(second["clones_started"], 8, "{second}");
    assert!(
        sim.machines().contains(&"orbtest-auto-ubuntu-jammy".to_string()),
        "{:?}",
        sim.machines()
    );
    assert_eq!(default(), "zzz-box", "the baseline did not become the default machine");
    assert!(
        stderr(&out).contains("orbtest-auto-ubuntu-jammy"),
        "preflight says so: {}",
        stderr(&out)
    );

    let opted_out = config("auto_baselines = false", tier)
        .replace("{scenario}", &sim.path().join("scenario.toml").display().to_string());
    std::fs::write(sim.path().join("orchestrator.toml"), opted_out).unwrap();
    let out = sim.run(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let third = sim.stats();
    assert_eq!(third["clones_started"], 8, "opted out: creates stay creates: {third}");
}
