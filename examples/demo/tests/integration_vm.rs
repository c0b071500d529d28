//! Each test creates its own machine, as the real suite's integration tests do.

use orbtest_demo::{Vm, orbctl, unique_name};

#[test]
fn machine_runs_commands() {
    let vm = Vm::create("cmd");
    assert_eq!(vm.sh("echo hello").trim(), "hello");
}

#[test]
fn machine_keeps_files_between_commands() {
    let vm = Vm::create("files");
    vm.sh("echo kept > note.txt");
    assert_eq!(vm.sh("cat note.txt").trim(), "kept");
}

#[test]
fn machine_stops_and_starts() {
    let vm = Vm::create("restart");
    orbctl(&["stop".into(), vm.name.clone()]);
    let info = orbctl(&["info".into(), vm.name.clone(), "-f".into(), "json".into()]);
    assert!(String::from_utf8_lossy(&info.stdout).contains("\"state\": \"stopped\""));
    orbctl(&["start".into(), vm.name.clone()]);
    assert_eq!(vm.sh("echo back").trim(), "back");
}

#[test]
fn machine_can_be_cloned() {
    let vm = Vm::create("original");
    vm.sh("echo original > origin.txt");
    let copy = unique_name("copy");
    orbctl(&["clone".into(), vm.name.clone(), copy.clone()]);
    let out = orbctl(&[
        "run".into(),
        "-m".into(),
        copy.clone(),
        "cat".into(),
        "origin.txt".into(),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "original");
    orbctl(&["delete".into(), "-f".into(), copy]);
}

#[test]
fn listing_shows_the_machine() {
    let vm = Vm::create("listed");
    let out = orbctl(&["list".into(), "-f".into(), "json".into()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("\"name\": \"{}\"", vm.name)));
}

#[test]
fn a_test_that_forgets_to_delete_its_machine() {
    // Postflight deletes it: the shim journaled it as this run's.
    let name = unique_name("forgotten");
    orbctl(&orbtest_demo::create_command("ubuntu:22.04", &name, None, None));
}
