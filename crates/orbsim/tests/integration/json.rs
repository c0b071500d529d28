//! Golden tests for the JSON orbctl prints: exact bytes, key order, indent, trailing newline.

use crate::support::{Sim, id_of};

fn record(id: &str, name: &str, state: &str) -> String {
    format!(
        r#"{{
    "id": "{id}",
    "name": "{name}",
    "image": {{
      "distro": "ubuntu",
      "version": "jammy",
      "arch": "arm64",
      "variant": "default"
    }},
    "config": {{
      "isolated": false,
      "default_username": "tester"
    }},
    "builtin": false,
    "state": "{state}"
  }}"#
    )
}

#[test]
fn empty_list_is_brackets_not_null() {
    let sim = Sim::new();
    let out = sim.orbctl(&["list", "-f", "json"]);
    out.ok();
    assert_eq!(out.stdout, "[]\n");
    assert_eq!(sim.orbctl(&["list", "--format", "json", "--running"]).stdout, "[]\n");
}

#[test]
fn list_json_exact_bytes() {
    let sim = Sim::new();
    sim.orbctl(&["create", "ubuntu:22.04", "web"]).ok();
    sim.orbctl(&["clone", "web", "copy"]).ok();
    let (web, copy) = (id_of(&sim, "web"), id_of(&sim, "copy"));
    let out = sim.orbctl(&["list", "-f", "json"]);
    out.ok();
    // Sorted by name; 2-space indent; trailing newline.
    let expected = format!(
        "[\n  {},\n  {}\n]\n",
        record(&copy, "copy", "stopped"),
        record(&web, "web", "running")
    );
    assert_eq!(out.stdout, expected);
    let running = sim.orbctl(&["list", "-r", "-f", "json"]);
    assert_eq!(running.stdout, format!("[\n  {}\n]\n", record(&web, "web", "running")));
}

#[test]
fn ids_are_ulids() {
    let sim = Sim::new();
    sim.orbctl(&["create", "ubuntu", "web"]).ok();
    let id = id_of(&sim, "web");
    assert_eq!(id.len(), 26);
    assert!(id.parse::<ulid::Ulid>().is_ok(), "{id}");
    // Addressable by id as well as by name.
    sim.orbctl(&["info", &id]).ok();
}

#[test]
fn info_json_running_has_addresses() {
    let sim = Sim::new();
    sim.orbctl(&["create", "ubuntu:22.04", "web"]).ok();
    let id = id_of(&sim, "web");
    let out = sim.orbctl(&["info", "web", "--format", "json"]);
    out.ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["record", "disk_size", "ip4", "ip6"]);
    assert!(v["disk_size"].is_u64());
    let ip4 = v["ip4"].as_str().unwrap();
    assert!(ip4.starts_with("192.168.13"), "{ip4}");
    assert!(v["ip6"].as_str().unwrap().starts_with("fd07:b51a:cc66:0:"));
    let record_text = record(&id, "web", "running");
    assert!(
        out.stdout
            .starts_with(&format!("{{\n  \"record\": {record_text},\n  \"disk_size\": ")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.ends_with("\"\n}\n"));
}

#[test]
fn info_json_stopped_omits_addresses() {
    let sim = Sim::new();
    sim.orbctl(&["create", "ubuntu", "web"]).ok();
    sim.orbctl(&["stop", "web"]).ok();
    let out = sim.orbctl(&["info", "web", "-f", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["record", "disk_size"]);
    assert_eq!(v["record"]["state"], "stopped");
}

#[test]
fn the_machines_layer_parses_what_orbsim_prints() {
    let sim = Sim::new();
    sim.orbctl(&["create", "debian:12", "db", "-u", "dba"]).ok();
    let list = orbctl::parse_list(sim.orbctl(&["list", "-f", "json"]).stdout.as_bytes()).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].image.version, "bookworm");
    assert_eq!(list[0].config.default_username, "dba");
    let info = orbctl::parse_info(sim.orbctl(&["info", "db", "-f", "json"]).stdout.as_bytes()).unwrap();
    assert!(info.is_ready());
}

#[test]
fn quiet_list_prints_names_and_wins_over_format() {
    let sim = Sim::new();
    sim.orbctl(&["create", "ubuntu", "b2"]).ok();
    sim.orbctl(&["create", "ubuntu", "a1"]).ok();
    sim.orbctl(&["stop", "b2"]).ok();
    assert_eq!(sim.orbctl(&["list", "-q", "-f", "json"]).stdout, "a1\nb2\n");
    assert_eq!(sim.orbctl(&["list", "-q", "-r"]).stdout, "a1\n");
}

#[test]
fn text_list_and_bad_format() {
    let sim = Sim::new();
    sim.orbctl(&["create", "ubuntu", "web"]).ok();
    let out = sim.orbctl(&["list"]);
    // No header when stdout is not a terminal; columns padded by two spaces.
    assert!(
        out.stdout.starts_with("web  running  ubuntu  plucky  arm64  "),
        "{:?}",
        out.stdout
    );
    let out = sim.orbctl(&["list", "-f", "yaml"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.starts_with("Error: invalid format: yaml\nUsage:\n"));
}
