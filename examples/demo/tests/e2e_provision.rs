//! End-to-end: create a machine, provision it, run the "application" in it.

use orbtest_demo::Vm;

fn provisioned(label: &str) -> Vm {
    let vm = Vm::create(label);
    vm.sh("mkdir -p app && printf '#!/bin/sh\\necho \"app says $1\"\\n' > app/run && chmod +x app/run");
    vm
}

#[test]
fn provisioned_app_answers() {
    let vm = provisioned("app");
    assert_eq!(vm.sh("app/run hi").trim(), "app says hi");
}

#[test]
fn provisioned_app_survives_a_restart() {
    let vm = provisioned("durable");
    orbtest_demo::orbctl(&["restart".into(), vm.name.clone()]);
    assert_eq!(vm.sh("app/run again").trim(), "app says again");
}

#[test]
fn two_machines_talk_through_files() {
    let a = provisioned("sender");
    let b = provisioned("receiver");
    let message = a.sh("app/run ping");
    b.sh(&format!("echo '{}' > inbox", message.trim()));
    assert_eq!(b.sh("cat inbox").trim(), "app says ping");
}
