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
        sim.output_of("run").contains("postflight: deleted 1 machines"),
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
        stderr(&out).contains("deleted 1 leftover machines (1 from earlier runs"),
        "{}",
        stderr(&out)
    );
    assert_eq!(scratch(&sim), ["scratch-foreign", "scratch-later"]);
}
