//! Many processes at once, and clients killed mid-call.

use std::collections::BTreeSet;
use std::process::{Child, Stdio};

use crate::support::Sim;

fn spawn(sim: &Sim, args: &[&str]) -> Child {
    sim.command("orbctl")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn records(sim: &Sim) -> Vec<orbctl::MachineRecord> {
    let out = sim.orbctl(&["list", "-f", "json"]);
    out.ok();
    orbctl::parse_list(out.stdout.as_bytes()).unwrap()
}

#[test]
fn twenty_processes_creating_and_deleting_at_once() {
    // A little latency so that the creates overlap in simulated time too.
    let sim = Sim::with_scenario("time_scale = 0.01\n[latency]\ncreate = \"5s\"\n");

    // 20 creates over 10 names: exactly one per name wins.
    let children: Vec<(String, Child)> = (0..20)
        .map(|i| {
            let name = format!("m{}", i % 10);
            let c = spawn(&sim, &["create", "ubuntu", &name]);
            (name, c)
        })
        .collect();
    let mut winners = BTreeSet::new();
    for (name, c) in children {
        let out = c.wait_with_output().unwrap();
        match out.status.code() {
            Some(0) => assert!(winners.insert(name.clone()), "{name} created twice"),
            Some(1) => assert_eq!(
                String::from_utf8_lossy(&out.stderr),
                format!("[-32098] create '{name}': machine already exists: '{name}'\n")
            ),
            other => panic!("unexpected exit {other:?}: {out:?}"),
        }
    }
    assert_eq!(winners.len(), 10);
    let list = records(&sim);
    let names: BTreeSet<_> = list.iter().map(|r| r.name.clone()).collect();
    let ids: BTreeSet<_> = list.iter().map(|r| r.id.clone()).collect();
    assert_eq!((list.len(), names.len(), ids.len()), (10, 10, 10));
    assert!(list.iter().all(|r| r.state == "running"));

    // 10 deletes and 10 new creates at the same time.
    let mut children: Vec<Child> = (0..10)
        .map(|i| spawn(&sim, &["delete", "-f", &format!("m{i}")]))
        .collect();
    children.extend((0..10).map(|i| spawn(&sim, &["create", "debian", &format!("n{i}")])));
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let names: Vec<String> = records(&sim).into_iter().map(|r| r.name).collect();
    let expected: Vec<String> = (0..10).map(|i| format!("n{i}")).collect();
    assert_eq!(names, expected);
    let s = sim.stats();
    assert_eq!((s.creates_started, s.creates_finished, s.deletes), (20, 20, 10));
    assert!(s.peak_concurrent_creates >= 2, "{s:?}");
}

#[test]
fn a_killed_create_still_completes_and_blocks_duplicates_meanwhile() {
    // 300 simulated seconds at 1/100: three real seconds of `creating`.
    let sim = Sim::with_scenario("time_scale = 0.01\n[latency]\ncreate = \"300s\"\n");
    let mut client = spawn(&sim, &["create", "ubuntu:22.04", "box"]);
    sim.wait_for("the create to be accepted", |s| s.creates_in_flight == 1);
    client.kill().unwrap();
    client.wait().unwrap();

    let dup = sim.orbctl(&["create", "ubuntu:22.04", "box"]);
    assert_eq!(dup.code, 1);
    assert_eq!(dup.stderr, "[-32098] create 'box': machine already exists: 'box'\n");

    // Nobody waits for it, yet the machine appears at its completion time.
    sim.wait_for("the orphaned create to finish", |s| s.creates_finished == 1);
    let list = records(&sim);
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].name.as_str(), list[0].state.as_str()), ("box", "running"));
    assert_eq!(sim.stats().creates_started, 1);
}

#[test]
fn clients_killed_at_any_moment_never_corrupt_the_state() {
    let sim = Sim::new();
    for round in 0..3u64 {
        let children: Vec<Child> = (0..15)
            .map(|i| spawn(&sim, &["create", "alpine", &format!("k{round}-{i}")]))
            .collect();
        for (i, mut c) in children.into_iter().enumerate() {
            // Stagger the kills so they land at different points of the calls.
            std::thread::sleep(std::time::Duration::from_micros(300 * i as u64));
            let _ = c.kill();
            let _ = c.wait();
        }
        // The state still reads, and every machine in it is whole.
        let list = records(&sim);
        let ids: BTreeSet<_> = list.iter().map(|r| r.id.clone()).collect();
        assert_eq!(ids.len(), list.len());
        assert!(list.iter().all(|r| r.image.distro == "alpine"));
    }
    sim.orbctl(&["create", "ubuntu", "after"]).ok();
    sim.orbctl(&["delete", "-a"]).ok();
    assert!(sim.names().is_empty());
}

#[test]
fn peak_concurrent_creates_counts_overlap_exactly() {
    let sim = Sim::with_scenario("time_scale = 0.01\n[latency]\ncreate = \"1000s\"\n");
    sim.orbctl(&["clone", "nothing", "x"]); // not found: no interval
    let mut kids: Vec<Child> = (0..5)
        .map(|i| spawn(&sim, &["create", "ubuntu", &format!("p{i}")]))
        .collect();
    let s = sim.wait_for("five creates under way", |s| s.creates_started == 5);
    assert_eq!(s.peak_concurrent_creates, 5);
    assert_eq!(s.creates_in_flight, 5);
    for k in &mut kids {
        k.kill().unwrap();
        k.wait().unwrap();
    }

    let quick = Sim::new();
    for i in 0..3 {
        quick.orbctl(&["create", "ubuntu", &format!("q{i}")]).ok();
    }
    assert_eq!(quick.stats().peak_concurrent_creates, 1);
}
