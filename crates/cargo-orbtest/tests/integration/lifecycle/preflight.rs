//! Preflight and postflight against orbsim: reaping, cleaning, baselines, host pressure, a
//! stopped OrbStack, the run lock.

use crate::support::lifecycle::{Sim, code, signal, stderr, wait_until, waiting_test_pid};

fn config(extra: &str, tiers: &str) -> String {
    format!("[machines]\nprovider = \"sim\"\nprefixes = [\"test-\"]\nprotect = [\"work-*\"]\n{extra}\n{tiers}")
}

const TIDY: &str = "[tiers.machines]\nfilter = \"test(=creates_uses_and_deletes)\"\nmachines = true\n";

#[test]
fn leftovers_are_reaped_and_foreign_machines_stay() {
    let sim = Sim::new(&config("", TIDY), None);
    sim.precreate(&["test-old-1", "test-old-2", "dev-box", "work-1"]);
    let out = sim.run(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("reap: deleted 2 leftover machines"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sim.machines(), ["dev-box", "work-1"]);
    let summary = sim.summary();
    assert_eq!(summary["machines"]["leftover"], 0);
    assert!(summary["machines"]["created"].as_u64().unwrap() >= 1, "{summary}");
}

#[test]
fn clean_dry_run_only_tells_and_clean_deletes() {
    let sim = Sim::new(&config("", TIDY), None);
    sim.precreate(&["test-old", "dev-box", "work-keep"]);
    let out = sim.command(&["clean", "--dry-run"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("would delete test-old: matches test prefix `test-`"),
        "{text}"
    );
    assert!(
        !text.contains("dev-box"),
        "a foreign machine is not even a candidate: {text}"
    );
    assert_eq!(sim.machines(), ["dev-box", "test-old", "work-keep"]);

    let out = sim.command(&["clean"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("deleted test-old"));
    assert_eq!(sim.machines(), ["dev-box", "work-keep"]);
}

#[test]
fn machines_tests_leave_behind_are_deleted_whatever_their_names() {
    // No prefix covers `scratch-`: only the journal knows the machine is the run's.
    let sim = Sim::new(
        "[machines]\nprovider = \"sim\"\n[tiers.machines]\nfilter = \"test(=creates_and_forgets)\"\nmachines = true\n",
        None,
    );
    sim.precreate(&["scratch-foreign"]);
    let out = sim
        .command(&["--report-dir", sim.reports().to_str().unwrap()])
        .env("FIXTURE_PREFIX", "scratch-")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        sim.machines(),
        ["scratch-foreign"],
        "the test's machine is gone, the foreign one stays"
    );
    assert!(
        stderr(&out).contains("postflight: deleted 1 machine"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn baselines_are_reused_until_their_recipe_changes() {
    let baseline = |step: &str| {
        config(
            &format!(
                "[[machines.baseline]]\nname = \"orbtest-base\"\nimage = \"ubuntu:22.04\"\nprovision = [\"{step}\"]\n"
            ),
            TIDY,
        )
    };
    let sim = Sim::new(&baseline("echo one > marker"), None);
    let out = sim.run(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("baselines: built orbtest-base"),
        "{}",
        stderr(&out)
    );

    let out = sim.run(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("baselines: reused orbtest-base"),
        "{}",
        stderr(&out)
    );

    std::fs::write(sim.path().join("orchestrator.toml"), baseline("echo two > marker")).unwrap();
    let out = sim.run(&[]);
    assert!(
        stderr(&out).contains("baselines: built orbtest-base"),
        "a changed step rebuilds: {}",
        stderr(&out)
    );

    let out = sim.run(&["--rebuild-baselines"]);
    assert!(
        stderr(&out).contains("baselines: built orbtest-base"),
        "{}",
        stderr(&out)
    );
    assert!(
        sim.machines().contains(&"orbtest-base".to_string()),
        "the baseline survives postflight and reaping"
    );
    // The provisioning output is kept with the run.
    let log = std::fs::read_to_string(crate::support::cli::fixture_target().join(format!(
        "orbtest/runs/{}/baselines/orbtest-base/provision-1.log",
        sim.summary()["run_id"].as_str().unwrap()
    )))
    .unwrap();
    assert!(log.starts_with("$ echo two > marker"), "{log}");
}

#[test]
fn a_machine_that_merely_has_a_baselines_name_is_never_rebuilt() {
    let sim = Sim::new(
        &config(
            "[[machines.baseline]]\nname = \"my-box\"\nimage = \"ubuntu:22.04\"\n",
            TIDY,
        ),
        None,
    );
    sim.precreate(&["my-box"]);
    let out = sim.run(&[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("a machine named `my-box` exists (id ")
            && stderr(&out).contains("but is not the baseline cargo orbtest built"),
        "{}",
        stderr(&out)
    );
    assert!(sim.machines().contains(&"my-box".to_string()));
}

/// 4 GiB of memory, 2 GiB used by OrbStack itself and 1 GiB per machine: four foreign machines
/// fill the swap completely, two leave it empty.
const TIGHT: &str = "[host]\nmemory_mib = 4096\nbase_mib = 2048\nmachine_mib = 1024\nswap_mib = 2048\n";

fn pressured(on_pressure: &str) -> Sim {
    let tiers = format!(
        "[pressure]\non_pressure = \"{on_pressure}\"\nmax_wait = \"10m\"\n[tiers.unit]\nfilter = \"test(=tests::names_use_the_prefix)\"\n{TIDY}"
    );
    let sim = Sim::new(
        &config("[machines.sim]\nscenario = \"{scenario}\"\n", &tiers),
        Some(TIGHT),
    );
    sim.precreate(&["dev-1", "dev-2", "dev-3", "dev-4"]);
    assert_eq!(sim.stats()["swap_percent"], 100.0);
    sim
}

#[test]
fn pressure_fail_exits_3() {
    let sim = pressured("fail");
    let out = sim.run(&[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("swap at 100% is over the 80% limit"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sim.summary()["tiers"][1]["outcome"], "skipped");
}

#[test]
fn pressure_skip_skips_machine_tiers_with_the_reason() {
    let sim = pressured("skip");
    let out = sim.run(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let summary = sim.summary();
    assert_eq!(summary["tiers"][0]["outcome"], "passed");
    assert_eq!(summary["tiers"][1]["outcome"], "skipped");
    let reason = summary["tiers"][1]["reason"].as_str().unwrap();
    assert!(reason.contains("host under pressure: swap at 100%"), "{reason}");
}

#[test]
fn pressure_wait_waits_and_proceeds_when_it_drops() {
    let sim = pressured("wait");
    let mut run = sim.spawn("run", sim.reporting(&[]));
    wait_until("the run to report it is waiting", || {
        sim.output_of("run").contains("waiting for it to drop")
    });
    for name in ["dev-1", "dev-2"] {
        assert!(sim.orbctl(&["delete", "-f", name]).status.success());
    }
    let status = run.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", sim.output_of("run"));
    assert_eq!(sim.summary()["tiers"][1]["outcome"], "passed");
}

#[test]
fn a_stopped_orbstack_is_explained_and_can_be_started() {
    let scenario = "[[windows]]\nkind = \"stopped\"\nfrom = \"0s\"\nto = \"100h\"\n";
    let sim = Sim::new(
        &config("[machines.sim]\nscenario = \"{scenario}\"\n", TIDY),
        Some(scenario),
    );
    let out = sim.run(&[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "OrbStack is stopped: start it (`orbctl start` or open the OrbStack app), or pass --start-orbstack"
        ),
        "{}",
        stderr(&out)
    );
    let out = sim.run(&["--start-orbstack"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("started"), "{}", stderr(&out));
}

#[test]
fn a_second_run_on_the_same_provider_waits_or_fails_fast() {
    let tiers = "[tiers.machines]\nfilter = \"test(=creates_then_waits)\"\nmachines = true\n";
    let sim = Sim::new(&config("", tiers), None);
    let mut first = sim.spawn("first", sim.waiting(sim.reporting(&[])));
    let test_pid = waiting_test_pid(&sim, "creates_then_waits");

    let second = sim
        .command(&["--no-wait", "--report-dir", sim.path().join("second").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&second), 3, "{}", stderr(&second));
    assert!(
        stderr(&second).contains("another cargo orbtest run is using orbsim"),
        "{}",
        stderr(&second)
    );

    let queued = sim.command(&["--report-dir", sim.path().join("queued").to_str().unwrap()]);
    let mut queued = sim.spawn("queued", queued);
    wait_until("the second run to queue", || {
        sim.output_of("queued").contains("waiting for run")
    });
    signal(first.id(), libc::SIGINT);
    assert_eq!(first.wait().unwrap().code(), Some(130));
    let _ = test_pid;
    assert_eq!(queued.wait().unwrap().code(), Some(0), "{}", sim.output_of("queued"));
}
