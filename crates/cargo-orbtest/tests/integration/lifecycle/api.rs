//! The Rust helper API inside a run behaves as the shim does: ownership journaled, creates
//! carried out as clones of a matching baseline, the machine deleted on drop.

use orbtest_machines::settings::BaselineRef;
use orbtest_machines::{JournalView, Machine, Machines};

#[test]
fn machines_from_the_run_environment_follow_the_runs_rules() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let real = crate::support::sim_links(&root.join("real")).orbctl;
    let state = root.join("sim");
    let run_dir = root.join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let base = std::process::Command::new(&real)
        .args(["create", "ubuntu:jammy", "base"])
        .env("ORBSIM_STATE", &state)
        .env_remove("ORBSIM_SCENARIO")
        .status()
        .unwrap();
    assert!(base.success());
    let _broker = crate::support::served(&run_dir, "api", &real, &state, |s| {
        s.clone_from = vec![BaselineRef {
            name: "base".into(),
            image: "ubuntu:22.04".into(),
            user: None,
        }];
        s.sim_binary = None;
    });

    // SAFETY: this test runs in its own process (nextest), nothing else reads the environment.
    unsafe {
        std::env::set_var("ORBTEST_RUN_DIR", &run_dir);
        std::env::set_var("NEXTEST_TEST_NAME", "api::test");
    }
    let machines = Machines::from_env().unwrap();
    assert!(
        matches!(machines, Machines::Run(_)),
        "inside a run, the API goes through the run"
    );
    let vm = Machine::create(&machines, "ubuntu:22.04", "test-api").unwrap();
    assert_eq!(
        vm.info().unwrap().record.state,
        "running",
        "a clone is started, as create would leave it"
    );
    assert_eq!(vm.run(&["echo", "hi"]).unwrap().stdout_text().trim(), "hi");

    let view = JournalView::read(&run_dir.join("journal.jsonl")).unwrap();
    assert!(view.owned.contains_key("test-api"), "the run owns what the API created");
    assert!(
        view.ops
            .iter()
            .any(|o| o.op == "clone" && o.machine.as_deref() == Some("test-api")),
        "{view:?}"
    );
    assert!(!view.ops.iter().any(|o| o.op == "create"), "no create reached OrbStack");

    drop(vm);
    let view = JournalView::read(&run_dir.join("journal.jsonl")).unwrap();
    assert!(!view.owned.contains_key("test-api"), "deleted on drop, and released");
}
