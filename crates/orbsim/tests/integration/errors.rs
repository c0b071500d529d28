//! Golden tests: one per row of the spec's error catalogue (§5), against orbsim.

use crate::support::{Out, Sim};

fn assert_daemon_error(out: &Out, text: &str) {
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stderr, format!("{text}\n"));
    assert_eq!(out.stdout, "");
}

/// cobra's shape: `Error: <msg>`, the usage (starting with the command's use line), a blank line.
fn assert_usage_error(out: &Out, msg: &str, use_line: &str) {
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "");
    let expected_start = format!("Error: {msg}\nUsage:\n  {use_line}\n");
    assert!(
        out.stderr.starts_with(&expected_start),
        "stderr should start with {expected_start:?}, got {:?}",
        out.stderr
    );
    assert!(out.stderr.contains("\nFlags:\n"), "{}", out.stderr);
    assert!(out.stderr.ends_with("\n\n"), "{:?}", out.stderr);
}

const CREATE_USE: &str = "orbctl create [flags] DISTRO[:VERSION] [MACHINE_NAME]";

#[test]
fn create_name_taken() {
    let sim = Sim::new();
    sim.orbctl(&["create", "ubuntu:22.04", "web"]).ok();
    let out = sim.orbctl(&["create", "debian", "web"]);
    assert_daemon_error(&out, "[-32098] create 'web': machine already exists: 'web'");
}

#[test]
fn create_name_taken_while_the_first_is_still_creating() {
    // 600 simulated seconds at 1/100: the first create stays in `creating` for 6 real seconds.
    let sim = Sim::with_scenario("time_scale = 0.01\n[latency]\ncreate = \"600s\"\n");
    let mut first = sim
        .command("orbctl")
        .args(["create", "ubuntu", "slow"])
        .spawn()
        .unwrap();
    sim.wait_for("the first create to be accepted", |s| s.creates_in_flight == 1);
    let out = sim.orbctl(&["create", "ubuntu", "slow"]);
    assert_daemon_error(&out, "[-32098] create 'slow': machine already exists: 'slow'");
    // The duplicate answered while the first was still being created.
    let info = sim.orbctl(&["info", "slow", "-f", "json"]);
    assert!(info.stdout.contains("\"state\": \"creating\""), "{info:?}");
    first.kill().unwrap();
    first.wait().unwrap();
}

#[test]
fn create_bad_names() {
    let sim = Sim::new();
    for name in ["", "a_b", "x", "docker", "default", "-lead"] {
        let out = if name.starts_with('-') {
            sim.orbctl(&["create", "ubuntu", "--", name])
        } else {
            sim.orbctl(&["create", "ubuntu", name])
        };
        assert_daemon_error(
            &out,
            &format!("[-32098] create '{name}': invalid machine name '{name}'"),
        );
    }
    assert!(sim.names().is_empty());
}

#[test]
fn create_bad_distro() {
    let sim = Sim::new();
    let out = sim.orbctl(&["create", "invalid:image:tag", "test-invalid-vm"]);
    assert_usage_error(&out, "invalid distro: invalid", CREATE_USE);
}

#[test]
fn create_bad_arch() {
    let sim = Sim::new();
    let out = sim.orbctl(&["create", "ubuntu:22.04", "x1", "--arch", "invalid-arch"]);
    assert_usage_error(&out, "invalid architecture: invalid-arch", CREATE_USE);
    // The simulated Mac is arm64 by default: amd64 is allowed, i386 is not.
    sim.orbctl(&["create", "-a", "amd64", "ubuntu", "x2"]).ok();
    let out = sim.orbctl(&["create", "-a", "i386", "ubuntu", "x3"]);
    assert_usage_error(&out, "invalid architecture: i386", CREATE_USE);
}

#[test]
fn create_cloud_init_unsupported() {
    let sim = Sim::new();
    let data = sim.path("user-data.yaml");
    std::fs::write(&data, "#cloud-config\n").unwrap();
    let out = sim.orbctl(&["create", "-c", data.to_str().unwrap(), "arch", "box"]);
    assert_daemon_error(&out, "[-32098] create 'box': cloud-init not supported for 'archlinux'");
    // Supported images take it and are recorded as the cloud variant.
    sim.orbctl(&["create", "-c", data.to_str().unwrap(), "ubuntu", "cloudy"])
        .ok();
    let info = sim.orbctl(&["info", "cloudy", "-f", "json"]);
    assert!(info.stdout.contains("\"variant\": \"cloud\""), "{info:?}");
}

#[test]
fn create_user_data_unreadable() {
    let sim = Sim::new();
    let out = sim.orbctl(&["create", "--user-data", "/nonexistent/ud.yaml", "ubuntu", "u1"]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stderr, "open /nonexistent/ud.yaml: no such file or directory\n");
}

#[test]
fn create_download_failure() {
    let sim = Sim::with_scenario("[faults.transient]\nrate = 1.0\n");
    let out = sim.orbctl(&["create", "ubuntu"]);
    assert_daemon_error(
        &out,
        "[-32098] create 'ubuntu': make rootfs: download rootfs: stream to file: unexpected EOF",
    );
    // A failed create deletes the half-created machine.
    assert!(sim.names().is_empty());
    assert_eq!(sim.stats().transient_failures_injected, 1);
}

#[test]
fn unknown_machine_for_each_command() {
    let sim = Sim::new();
    let cases: &[&[&str]] = &[
        &["info", "ghost"],
        &["start", "ghost"],
        &["stop", "ghost"],
        &["restart", "ghost"],
        &["delete", "ghost"],
        &["rename", "ghost", "other"],
        &["clone", "ghost", "other"],
        &["export", "ghost", "out.tar"],
        &["default", "ghost"],
    ];
    for args in cases {
        let out = sim.orbctl(args);
        assert_daemon_error(&out, "[-32098] machine not found: 'ghost'");
    }
}

#[test]
fn logs_unknown_goes_to_stdout_with_exit_0() {
    let sim = Sim::new();
    let out = sim.orbctl(&["logs", "ghost"]);
    assert_eq!(out.code, 0);
    assert_eq!(out.stdout, "[-32098] machine not found: 'ghost'\n");
    assert_eq!(out.stderr, "");
}

#[test]
fn clone_to_a_taken_name() {
    let sim = Sim::new();
    sim.orbctl(&["create", "ubuntu", "a1"]).ok();
    sim.orbctl(&["create", "ubuntu", "b1"]).ok();
    let out = sim.orbctl(&["clone", "a1", "b1"]);
    assert_daemon_error(&out, "[-32098] machine already exists: 'b1'");
    let out = sim.orbctl(&["clone", "a1", "b_1"]);
    assert_daemon_error(&out, "[-32098] invalid machine name 'b_1'");
}

#[test]
fn rename_to_a_taken_name() {
    let sim = Sim::new();
    sim.orbctl(&["create", "ubuntu", "a1"]).ok();
    sim.orbctl(&["create", "ubuntu", "b1"]).ok();
    let out = sim.orbctl(&["rename", "a1", "b1"]);
    assert_daemon_error(&out, "[-32098] machine '\"b1\"' already exists");
}

#[test]
fn delete_and_restart_without_names() {
    let sim = Sim::new();
    let out = sim.orbctl(&["delete"]);
    assert_usage_error(&out, "no machines specified", "orbctl delete [flags] [ID/NAME]...");
    let out = sim.orbctl(&["restart"]);
    assert_usage_error(&out, "no machines specified", "orbctl restart [flags] [ID/NAME]..");
}

#[test]
fn wrong_argument_counts() {
    let sim = Sim::new();
    let out = sim.orbctl(&["info"]);
    assert_usage_error(&out, "accepts 1 arg(s), received 0", "orbctl info [ID/NAME] [flags]");
    let out = sim.orbctl(&["clone", "a"]);
    assert_usage_error(
        &out,
        "accepts 2 arg(s), received 1",
        "orbctl clone [OLD_NAME] [NEW_NAME] [flags]",
    );
    let out = sim.orbctl(&["list", "-", "json"]);
    assert_usage_error(&out, "unknown command \"-\" for \"orbctl list\"", "orbctl list [flags]");
}

#[test]
fn unknown_subcommand() {
    let sim = Sim::new();
    let out = sim.orbctl(&["snapshot", "web"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "Error: unknown command \"snapshot\" for \"orbctl\"\nRun 'orbctl --help' for usage.\n"
    );
}

#[test]
fn run_rejects_double_dash() {
    let sim = Sim::new();
    sim.orbctl(&["create", "ubuntu", "box"]).ok();
    let out = sim.orbctl(&["run", "-m", "box", "--", "uname", "-a"]);
    assert_usage_error(&out, "unknown flag --", "orbctl run [flags] -- [COMMAND] [ARGS]...");
    let out = sim.orb(&["-m", "box", "--", "true"]);
    assert_usage_error(&out, "unknown flag --", "orb run [flags] -- [COMMAND] [ARGS]...");
}

#[test]
fn run_push_pull_without_machines() {
    let sim = Sim::new();
    let out = sim.orbctl(&["run", "true"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.starts_with("To use Docker:\n"), "{out:?}");
    assert!(out.stderr.contains("\n    orb create ubuntu\n"), "{out:?}");
    assert_daemon_error(&sim.orbctl(&["push", "x"]), "[-32098] no machines found");
    assert_daemon_error(&sim.orbctl(&["pull", "ubuntu:22.04"]), "[-32098] no machines found");
}

#[test]
fn stop_and_restart_while_orbstack_is_stopped() {
    let sim = Sim::new();
    sim.orbctl(&["create", "ubuntu", "box"]).ok();
    sim.orbctl(&["stop"]).ok();
    for args in [&["stop", "box"][..], &["restart", "box"], &["stop", "ghost"]] {
        let out = sim.orbctl(args);
        assert_eq!(out.code, 0, "{out:?}");
        assert_eq!(out.stderr, "OrbStack is not running\n");
    }
}

#[test]
fn start_without_names_while_running() {
    let sim = Sim::new();
    let out = sim.orbctl(&["start"]);
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stderr,
        "OrbStack is already running. Docker engine is ready to use.\nUse --all to start all machines.\n"
    );
}

#[test]
fn status_exit_codes() {
    let sim = Sim::new();
    let out = sim.orbctl(&["status"]);
    assert_eq!((out.stdout.as_str(), out.code), ("Running\n", 0));

    let stopped = Sim::with_scenario("[[windows]]\nkind = \"stopped\"\nfrom = \"0s\"\nto = \"1000h\"\n");
    let out = stopped.orbctl(&["status"]);
    assert_eq!((out.stdout.as_str(), out.code), ("Stopped\n", 1));

    let restarting = Sim::with_scenario("[[windows]]\nkind = \"restarting\"\nfrom = \"0s\"\nto = \"1000h\"\n");
    let out = restarting.orbctl(&["status"]);
    assert_eq!((out.stdout.as_str(), out.code), ("Starting\n", 2));
}

#[test]
fn status_is_starting_while_an_auto_start_is_under_way() {
    // OrbStack is stopped; `list` starts it, which takes 1000 simulated seconds (10 s real).
    let sim = Sim::with_scenario(
        "time_scale = 0.01\n[latency]\nstartup = \"1000s\"\n\
         [[windows]]\nkind = \"stopped\"\nfrom = \"0s\"\nto = \"1000h\"\n",
    );
    let mut list = sim.command("orbctl").arg("list").spawn().unwrap();
    sim.wait_for("the auto-start", |s| s.orbstack == "starting");
    let out = sim.orbctl(&["status"]);
    assert_eq!((out.stdout.as_str(), out.code), ("Starting\n", 2));
    list.kill().unwrap();
    list.wait().unwrap();
}

#[test]
fn a_stopped_window_ends_on_time() {
    // 10 simulated seconds of outage last 1 ms of real time.
    let sim = Sim::with_scenario("time_scale = 0.0001\n[[windows]]\nkind = \"stopped\"\nfrom = \"0s\"\nto = \"10s\"\n");
    sim.wait_for("the window to pass", |s| s.simulated_now_s > 10.0);
    let out = sim.orbctl(&["status"]);
    assert_eq!((out.stdout.as_str(), out.code), ("Running\n", 0));
}

#[test]
fn status_stopped_after_stop_and_running_after_auto_start() {
    let sim = Sim::new();
    sim.orbctl(&["stop"]).ok();
    let out = sim.orbctl(&["status"]);
    assert_eq!((out.stdout.as_str(), out.code), ("Stopped\n", 1));
    // list auto-starts OrbStack.
    sim.orbctl(&["list"]).ok();
    let out = sim.orbctl(&["status"]);
    assert_eq!((out.stdout.as_str(), out.code), ("Running\n", 0));
}

#[test]
fn config_set_unknown_key() {
    let sim = Sim::new();
    let out = sim.orbctl(&["config", "set", "nope", "1"]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stderr, "Unknown configuration key: nope\n");
}

#[test]
fn daemon_stopping_during_a_restart_window() {
    let sim =
        Sim::with_scenario("time_scale = 0.01\n[[windows]]\nkind = \"restarting\"\nfrom = \"0s\"\nto = \"1000s\"\n");
    assert_daemon_error(
        &sim.orbctl(&["create", "ubuntu", "box"]),
        "[-32098] create 'box': machine manager is stopping",
    );
    assert_daemon_error(&sim.orbctl(&["list"]), "[-32098] machine manager is stopping");
}
