//! The Rust API for tests: machines that delete themselves.

use orbtest_machines::{Machine, Policy};

use crate::support::sim::Sim;

#[test]
fn a_created_machine_runs_commands_and_is_deleted_on_drop() {
    let sim = Sim::new();
    let client = sim.client(Policy::default());
    {
        let vm = Machine::create(&client, "ubuntu:22.04", "test-api").unwrap();
        assert_eq!(vm.name(), "test-api");
        assert!(vm.info().unwrap().is_ready());
        let out = vm.run(&["sh", "-c", "echo hello; exit 4"]).unwrap();
        assert_eq!(out.stdout_text(), "hello\n");
        assert_eq!(out.exit_code, Some(4));
        assert_eq!(sim.names(), ["test-api"]);
    }
    assert!(sim.names().is_empty());
    assert_eq!(sim.stats().deletes, 1);
}

#[test]
fn clones_start_stopped_and_keep_leaves_them() {
    let sim = Sim::new();
    let client = sim.client(Policy::default());
    let base = Machine::create(&client, "debian", "base").unwrap();
    let copy = Machine::clone_from(&client, "base", "copy").unwrap();
    assert_eq!(copy.info().unwrap().record.state, "stopped");
    copy.start().unwrap();
    assert_eq!(copy.info().unwrap().record.state, "running");
    let kept = copy.keep();
    base.delete().unwrap();
    assert_eq!(sim.names(), [kept]);
}

#[test]
fn a_failed_create_returns_an_error_and_leaves_nothing() {
    let sim = Sim::new();
    let client = sim.client(Policy::default());
    let e = Machine::create(&client, "ubuntu", "bad_name").unwrap_err();
    assert!(e.to_string().contains("invalid machine name 'bad_name'"), "{e}");
    assert!(e.result().is_some_and(|r| r.attempts == 1));
    assert!(sim.names().is_empty());
}

#[test]
fn an_import_without_a_name_is_refused_before_running_anything() {
    let sim = Sim::new();
    let client = sim.client(Policy::default());
    let op = orbtest_machines::Op::Import {
        name: None,
        path: "x.tar".into(),
    };
    let e = Machine::create_with(&client, op).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`orbctl import x.tar` does not name the machine it makes; give it a name (import needs -n)"
    );
}
