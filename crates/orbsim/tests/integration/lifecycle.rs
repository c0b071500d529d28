//! Machine behaviour a user of orbctl would notice: states, defaults, idempotence, files.

use crate::support::{Sim, id_of};

fn state(sim: &Sim, name: &str) -> String {
    let out = sim.orbctl(&["info", name, "-f", "json"]);
    out.ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    v["record"]["state"].as_str().unwrap().to_string()
}

#[test]
fn create_passes_through_creating_and_provisioning_and_returns_running() {
    // creating for 150 s, provisioning for 150 s; at 1/100 that is 1.5 s + 1.5 s of real time.
    let sim = Sim::with_scenario("time_scale = 0.01\n[latency]\ncreate = \"150s\"\nprovisioning = \"150s\"\n");
    let mut create = sim.command("orbctl").args(["create", "ubuntu", "web"]).spawn().unwrap();
    sim.wait_for("the create to be accepted", |s| s.creates_started == 1);
    let seen_first = state(&sim, "web");
    assert!(
        matches!(seen_first.as_str(), "creating" | "provisioning"),
        "{seen_first}"
    );
    let status = create.wait().unwrap();
    assert!(status.success());
    // When create returns, the machine runs.
    assert_eq!(state(&sim, "web"), "running");
    let s = sim.stats();
    assert_eq!((s.creates_started, s.creates_finished), (1, 1));
}

#[test]
fn default_name_version_alias_and_image_mapping() {
    let sim = Sim::new();
    sim.orbctl(&["create", "ubuntu:22.04"]).ok();
    sim.orbctl(&["create", "alma"]).ok();
    sim.orbctl(&["create", "gentoo", "g1"]).ok();
    let list = orbctl::parse_list(sim.orbctl(&["list", "-f", "json"]).stdout.as_bytes()).unwrap();
    let by = |n: &str| list.iter().find(|r| r.name == n).unwrap().clone();
    assert_eq!(by("ubuntu").image.version, "jammy");
    assert_eq!(by("alma").image.distro, "almalinux");
    assert_eq!(by("alma").image.version, "9");
    assert_eq!(by("g1").image.variant, "openrc");
}

#[test]
fn the_first_machine_becomes_the_default() {
    let sim = Sim::new();
    sim.orbctl(&["create", "ubuntu", "zeta"]).ok();
    sim.orbctl(&["create", "ubuntu", "alpha"]).ok();
    assert_eq!(sim.orbctl(&["default"]).stdout, "zeta\n");
    sim.orbctl(&["default", "alpha"]).ok();
    assert_eq!(sim.orbctl(&["get-default"]).stdout, "alpha\n");
    // `orb CMD` runs in the default machine.
    assert_eq!(sim.orb(&["sh", "-c", "echo $ORBSIM_MACHINE"]).stdout, "alpha\n");
}

#[test]
fn clone_is_stopped_and_keeps_files() {
    let sim = Sim::new();
    sim.orbctl(&["create", "ubuntu", "base"]).ok();
    sim.orbctl(&["run", "-m", "base", "sh", "-c", "echo provisioned > marker"])
        .ok();
    sim.orbctl(&["clone", "base", "copy"]).ok();
    assert_eq!(state(&sim, "copy"), "stopped");
    assert_ne!(id_of(&sim, "copy"), id_of(&sim, "base"));
    // run auto-starts the stopped clone.
    let out = sim.orbctl(&["run", "-m", "copy", "cat", "marker"]);
    assert_eq!(out.stdout, "provisioned\n");
    assert_eq!(state(&sim, "copy"), "running");
    assert_eq!(sim.stats().clones_finished, 1);
}

#[test]
fn start_and_stop_are_idempotent_delete_is_not() {
    let sim = Sim::new();
    sim.orbctl(&["create", "ubuntu", "box"]).ok();
    sim.orbctl(&["start", "box"]).ok();
    sim.orbctl(&["stop", "box"]).ok();
    sim.orbctl(&["stop", "-f", "box"]).ok();
    sim.orbctl(&["shutdown", "box"]).ok();
    assert_eq!(state(&sim, "box"), "stopped");
    sim.orbctl(&["restart", "box"]).ok();
    assert_eq!(state(&sim, "box"), "running");
    sim.orbctl(&["delete", "box", "-f"]).ok();
    let again = sim.orbctl(&["delete", "box"]);
    assert_eq!(again.code, 1);
    assert_eq!(again.stderr, "[-32098] machine not found: 'box'\n");
}

#[test]
fn delete_resolves_every_name_first() {
    let sim = Sim::new();
    sim.orbctl(&["create", "ubuntu", "keep"]).ok();
    let out = sim.orbctl(&["delete", "keep", "ghost"]);
    assert_eq!(out.code, 1);
    assert_eq!(sim.names(), ["keep"]);
    sim.orbctl(&["create", "ubuntu", "other"]).ok();
    sim.orbctl(&["delete", "--all"]).ok();
    assert!(sim.names().is_empty());
    assert_eq!(sim.stats().deletes, 2);
}

#[test]
fn rename_keeps_the_id() {
    let sim = Sim::new();
    sim.orbctl(&["create", "ubuntu", "old"]).ok();
    let id = id_of(&sim, "old");
    sim.orbctl(&["rename", "old", "new"]).ok();
    sim.orbctl(&["rename", "new", "new"]).ok();
    assert_eq!(id_of(&sim, "new"), id);
    assert_eq!(sim.names(), ["new"]);
}

#[test]
fn export_then_import_brings_the_files_back() {
    let sim = Sim::new();
    sim.orbctl(&["create", "debian", "src", "-u", "dev"]).ok();
    sim.orbctl(&["run", "-m", "src", "sh", "-c", "mkdir -p data && echo 42 > data/answer"])
        .ok();
    sim.orbctl(&["export", "src", "src.tar.zst"]).ok();
    assert!(sim.path("src.tar.zst").is_file());
    sim.orbctl(&["import", "-n", "dst", "src.tar.zst"]).ok();
    assert_eq!(state(&sim, "dst"), "stopped");
    let out = sim.orbctl(&["run", "-m", "dst", "cat", "data/answer"]);
    assert_eq!(out.stdout, "42\n");
    // Without -n the archive's own name is used, which is taken here.
    let out = sim.orbctl(&["import", "src.tar.zst"]);
    assert_eq!(out.stderr, "[-32098] machine already exists: 'src'\n");
    let s = sim.stats();
    assert_eq!((s.exports, s.imports_finished), (1, 1));
}

#[test]
fn import_rejects_a_file_that_is_not_an_export() {
    let sim = Sim::new();
    let junk = sim.path("junk.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&junk).unwrap());
    let mut h = tar::Header::new_gnu();
    h.set_size(2);
    h.set_cksum();
    b.append_data(&mut h, "hello.txt", &b"hi"[..]).unwrap();
    b.finish().unwrap();
    let out = sim.orbctl(&["import", "-n", "x1", junk.to_str().unwrap()]);
    assert_eq!(
        out.stderr,
        "[-32098] can't find '_orbstack/config.v1.json' in archive. is this a valid OrbStack machine export?\n"
    );
    assert!(sim.names().is_empty());
}

#[test]
fn run_exit_codes_home_user_and_workdir() {
    let sim = Sim::new();
    sim.orbctl(&["create", "ubuntu", "box", "--user", "dev"]).ok();
    let out = sim.orbctl(&["run", "-m", "box", "sh", "-c", "exit 7"]);
    assert_eq!(out.code, 7);
    let id = id_of(&sim, "box");
    let home = sim.state.join("machines").join(&id).join("home/dev");
    let out = sim.orbctl(&["run", "-m", "box", "sh", "-c", "echo $HOME; pwd; echo $USER"]);
    assert_eq!(out.stdout, format!("{0}\n{0}\ndev\n", home.display()));
    let out = sim.orbctl(&["run", "-m", "box", "-u", "root", "sh", "-c", "echo $HOME"]);
    assert!(out.stdout.trim_end().ends_with("/root"), "{out:?}");
    sim.orbctl(&["run", "-m", "box", "mkdir", "sub"]).ok();
    let out = sim.orbctl(&["run", "-m", "box", "-w", "sub", "pwd"]);
    assert_eq!(out.stdout, format!("{}/sub\n", home.display()));
    // Flags after the command word belong to the command.
    let out = sim.orbctl(&["exec", "-m", "box", "echo", "-m", "x"]);
    assert_eq!(out.stdout, "-m x\n");
    // -s joins the words into one shell script.
    let out = sim.orbctl(&["run", "-s", "-m", "box", "echo", "a", "&&", "echo", "b"]);
    assert_eq!(out.stdout, "a\nb\n");
    // A missing program fails like a remote shell would.
    assert_eq!(sim.orbctl(&["run", "-m", "box", "no-such-program-xyz"]).code, 127);
}

#[test]
fn run_in_an_unknown_machine_exits_1_quietly() {
    let sim = Sim::new();
    sim.orbctl(&["create", "ubuntu", "box"]).ok();
    let out = sim.orbctl(&["run", "-m", "ghost", "true"]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stderr, "");
}

#[test]
fn push_and_pull_copy_files() {
    let sim = Sim::new();
    sim.orbctl(&["create", "ubuntu", "box"]).ok();
    std::fs::write(sim.path("host.txt"), "from host\n").unwrap();
    sim.orbctl(&["push", "-m", "box", "host.txt", "inside.txt"]).ok();
    let out = sim.orbctl(&["run", "-m", "box", "cat", "inside.txt"]);
    assert_eq!(out.stdout, "from host\n");
    sim.orbctl(&["pull", "-m", "box", "inside.txt", "back.txt"]).ok();
    assert_eq!(std::fs::read_to_string(sim.path("back.txt")).unwrap(), "from host\n");
    // `pull ubuntu:22.04` is a file copy of a file that does not exist, not an image pull.
    let out = sim.orbctl(&["pull", "ubuntu:22.04"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("ubuntu:22.04"), "{out:?}");
}

#[test]
fn config_show_get_set() {
    let sim = Sim::new();
    sim.orbctl(&["create", "ubuntu", "box"]).ok();
    sim.orbctl(&["create", "ubuntu", "a.b"]).ok();
    let show = sim.orbctl(&["config", "show"]);
    show.ok();
    let lines: Vec<&str> = show.stdout.lines().collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
    assert!(lines.contains(&"machine.box.username: tester"));
    assert!(lines.contains(&"machine.\"a.b\".username: tester"));
    assert!(lines.contains(&"network.subnet4: 192.168.138.0/23"));
    // get ignores its key and prints the same listing.
    assert_eq!(sim.orbctl(&["config", "get", "cpu"]).stdout, show.stdout);
    let out = sim.orbctl(&["config", "set", "memory_mib", "4096"]);
    assert_eq!(out.stdout, "Restart OrbStack with \"orbctl stop\" to apply changes.\n");
    assert!(sim.orbctl(&["config", "show"]).stdout.contains("memory_mib: 4096\n"));
    sim.orbctl(&["config", "set", "app.start_at_login", "true"]).ok();
    sim.orbctl(&["config", "set", "machine.box.username", "ops"]).ok();
    assert!(
        sim.orbctl(&["config", "show"])
            .stdout
            .contains("machine.box.username: ops\n")
    );
    let out = sim.orbctl(&["config", "set", "rosetta", "maybe"]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stderr, "strconv.ParseBool: parsing \"maybe\": invalid syntax\n");
}

#[test]
fn version_logs_and_help() {
    let sim = Sim::new();
    let v = sim.orbctl(&["version"]);
    assert!(v.stdout.starts_with("Version: "), "{v:?}");
    assert!(v.stdout.contains("\nCommit: "));
    sim.orbctl(&["create", "ubuntu", "box"]).ok();
    let logs = sim.orbctl(&["logs", "box", "--all"]);
    assert!(logs.stdout.starts_with("Runtime:\n"));
    assert!(logs.stdout.contains("\nConsole:\n"));
    let help = sim.orbctl(&["create", "--help"]);
    assert_eq!(help.code, 0);
    assert!(
        help.stdout
            .contains("Usage:\n  orbctl create [flags] DISTRO[:VERSION] [MACHINE_NAME]\n")
    );
    let orb_help = sim.orb(&["help"]);
    assert_eq!(orb_help.code, 0);
    assert!(orb_help.stdout.contains("orb"));
}

#[test]
fn orb_flavour_reads_subcommands_and_bare_commands() {
    let sim = Sim::new();
    sim.orb(&["create", "ubuntu", "box"]).ok();
    assert_eq!(sim.orb(&["list", "-q"]).stdout, "box\n");
    assert_eq!(sim.orb(&["-m", "box", "echo", "hi"]).stdout, "hi\n");
    let out = sim.orb(&["info"]);
    assert!(out.stderr.contains("\n  orb info [ID/NAME] [flags]\n"), "{out:?}");
}

#[test]
fn stopping_a_provisioning_machine_cancels_its_creation() {
    // creating is instant; provisioning lasts 6000 simulated seconds (60 s real).
    let sim = Sim::with_scenario("time_scale = 0.01\n[latency]\nprovisioning = \"6000s\"\n");
    let create = sim
        .command("orbctl")
        .args(["create", "ubuntu", "box"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    sim.wait_for("the create to be accepted", |s| s.creates_started == 1);
    assert_eq!(state(&sim, "box"), "provisioning");
    sim.orbctl(&["stop", "box"]).ok();
    // The create's client learns about it and fails; the machine is gone.
    let out = create.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "[-32098] create 'box': setup: do initial setup: canceled by machine shutdown\n"
    );
    assert!(sim.names().is_empty());
    assert_eq!(sim.stats().creates_failed, 1);
}
