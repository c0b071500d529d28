//! The orchestrator stopped mid-tier: Ctrl-C still cleans up; SIGKILL leaves orphans that the
//! next run reaps — exactly those, whatever their names.

use crate::support::lifecycle::{Sim, code, signal, stderr, waiting_test_pid};

/// No cleanup prefix: only the journal can tell the run's machines from anyone else's.
const CONFIG: &str =
    "[machines]\nprovider = \"sim\"\n[tiers.machines]\nfilter = \"test(=creates_then_waits)\"\nmachines = true\n";

fn scratch(sim: &Sim) -> Vec<String> {
    sim.machines()
        .into_iter()
        .filter(|m| m.starts_with("scratch-"))
        .collect()
}

#[test]
fn sigint_mid_tier_runs_postflight_and_exits_130() {
    let sim = Sim::new(CONFIG, None);
    sim.precreate(&["scratch-foreign"]);
    let mut cmd = sim.waiting(sim.reporting(&[]));
    cmd.env("FIXTURE_PREFIX", "scratch-");
    let mut run = sim.spawn("run", cmd);
    waiting_test_pid(&sim, "creates_then_waits");
    assert_eq!(scratch(&sim).len(), 2, "the test's machine exists");
    signal(run.id(), libc::SIGINT);
    assert_eq!(run.wait().unwrap().code(), Some(130), "{}", sim.output_of("run"));
    assert_eq!(
        scratch(&sim),
        ["scratch-foreign"],
        "postflight deleted the test's machine only"
    );
    let summary = sim.summary();
    assert_eq!(summary["interrupted"], "SIGINT");
    assert!(
        sim.output_of("run").contains("postflight: deleted 1 machine"),
        "{}",
        sim.output_of("run")
    );
}

#[test]
fn sigkill_mid_tier_then_the_next_run_reaps_exactly_its_orphans() {
    let sim = Sim::new(CONFIG, None);
    sim.precreate(&["scratch-foreign"]);
    let mut cmd = sim.waiting(sim.reporting(&[]));
    cmd.env("FIXTURE_PREFIX", "scratch-");
    let mut run = sim.spawn("killed", cmd);
    let test_pid = waiting_test_pid(&sim, "creates_then_waits");
    signal(run.id(), libc::SIGKILL);
    assert_eq!(run.wait().unwrap().code(), None, "killed by SIGKILL");
    let orphan = format!("scratch-waiting-{test_pid}");
    crate::support::lifecycle::wait_until("nextest and the test to die with the orchestrator", || {
        // SAFETY: signal 0 only probes.
        unsafe { libc::kill(test_pid, 0) != 0 }
    });
    assert!(
        scratch(&sim).contains(&orphan),
        "the orphan survives the kill: {:?}",
        sim.machines()
    );

    // Someone else's machine with the same kind of name appears meanwhile.
    sim.precreate(&["scratch-later"]);
    let out = sim.command(&["clean", "--dry-run"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("would delete {orphan}: left behind by run")),
        "{text}"
    );

    let out = sim.reporting(&[]).env("FIXTURE_PREFIX", "scratch-").output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("deleted 1 leftover machine (1 from earlier runs"),
        "{}",
        stderr(&out)
    );
    assert_eq!(scratch(&sim), ["scratch-foreign", "scratch-later"]);
}

#[test]
fn sigint_during_a_provision_step_stops_it_at_once() {
    // A provision step that would hold the run for ten minutes; its shell's pid tells whether
    // it is gone.
    let sim = Sim::new("", None);
    let pid_file = sim.path().join("provision.pid");
    let baseline = format!(
        "[[machines.baseline]]\nname = \"orbtest-base\"\nimage = \"ubuntu:22.04\"\n\
         provision = [\"echo $$ > '{}'; exec sleep 600\"]\nprovision_timeout = \"15m\"\n",
        pid_file.display()
    );
    let config = CONFIG.replace("[tiers.", &format!("{baseline}[tiers."));
    std::fs::write(sim.path().join("orchestrator.toml"), config).unwrap();
    let mut run = sim.spawn("run", sim.reporting(&[]));
    let provision = || {
        std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
    };
    crate::support::lifecycle::wait_until("the provision step to start", || {
        let ended = run.try_wait().unwrap();
        assert!(ended.is_none(), "the run ended first: {}", sim.output_of("run"));
        provision().is_some()
    });
    let step = provision().unwrap();
    let sent = std::time::Instant::now();
    signal(run.id(), libc::SIGINT);
    let status = run.wait().unwrap();
    let took = sent.elapsed();
    // The promise is a second; the margin is for a loaded machine.
    assert!(
        took < std::time::Duration::from_secs(5),
        "the run took {took:?} to stop: {}",
        sim.output_of("run")
    );
    assert_eq!(status.code(), Some(130), "{}", sim.output_of("run"));
    // SAFETY: signal 0 only probes.
    assert!(
        unsafe { libc::kill(step, 0) } != 0,
        "the provision step outlived the run"
    );
    assert_eq!(sim.summary()["interrupted"], "SIGINT");
    assert!(
        !sim.machines().contains(&"orbtest-base".to_string()),
        "the half-built baseline is gone: {:?}",
        sim.machines()
    );
}
