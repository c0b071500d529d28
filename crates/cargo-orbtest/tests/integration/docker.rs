//! The lifecycle on a real Docker engine (`provider = "docker"`): reaping, baselines and
//! postflight; Ctrl-C mid-tier; `clean` never touching a container orbtest did not make; and an
//! unreachable engine. Small on purpose (CI has 2 cores): one machine image per engine, built by
//! the first scenario and cached by its recipe.

use std::process::Command;

use crate::support::docker::{Docker, available, docker_names};
use crate::support::lifecycle::{code, signal, stderr, wait_until};

const TIDY_AND_MESSY: &str =
    "[tiers.machines]\nfilter = \"test(=creates_uses_and_deletes) | test(=creates_and_forgets)\"\nmachines = true\n";
const WAITS: &str = "[tiers.machines]\nfilter = \"test(=creates_then_waits)\"\nmachines = true\n";

#[test]
fn reap_baselines_and_postflight() {
    if available().is_none() {
        return;
    }
    let docker = Docker::new(
        "prefixes = [\"scratch-\"]\n[[machines.baseline]]\nname = \"dk-base\"\nimage = \"ubuntu:22.04\"\n\
         provision = [\"sudo touch /etc/provisioned-by-orbtest\"]\n",
        TIDY_AND_MESSY,
    );
    // A leftover of an earlier run, matching the cleanup prefix.
    let made = docker.orbctl(&["create", "ubuntu:22.04", "scratch-old"]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));

    let out = docker.run(&[]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(err.contains("reap: deleted 1 leftover machine"), "{err}");
    assert!(err.contains("baselines: built dk-base"), "{err}");
    assert!(
        err.contains("postflight: deleted 1 machine"),
        "the forgotten machine: {err}"
    );
    assert_eq!(docker.machines(), ["dk-base"], "only the baseline stays");
    let provisioned = docker.orbctl(&["run", "-m", "dk-base", "test", "-f", "/etc/provisioned-by-orbtest"]);
    assert!(provisioned.status.success(), "the baseline was provisioned");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(docker.reports().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["machines"]["leftover"], 0, "{summary}");

    // The next run reuses the baseline and the image.
    let again = docker.run(&[]);
    let err = stderr(&again);
    assert_eq!(code(&again), 0, "{err}");
    assert!(err.contains("baselines: reused dk-base"), "{err}");
    assert!(err.contains("reused ubuntu:22.04"), "the image is cached: {err}");
}

#[test]
fn sigint_mid_tier_leaves_no_container() {
    if available().is_none() {
        return;
    }
    let docker = Docker::new("", WAITS);
    let mut cmd = docker.reporting(&[]);
    cmd.env("FIXTURE_WAIT_DIR", docker.path().join("wait"));
    let mut run = docker.spawn("run", cmd);
    let pid_file = docker.path().join("wait").join("creates_then_waits.pid");
    wait_until("the test to create its machine and wait", || {
        assert!(
            run.try_wait().unwrap().is_none(),
            "the run ended first: {}",
            docker.output_of("run")
        );
        pid_file.exists()
    });
    assert_eq!(docker.machines().len(), 1, "the test's machine exists");
    signal(run.id(), libc::SIGINT);
    assert_eq!(run.wait().unwrap().code(), Some(130), "{}", docker.output_of("run"));
    assert_eq!(
        docker.containers(),
        Vec::<String>::new(),
        "no container of the project is left, machine or sentinel: {}",
        docker.output_of("run")
    );
}

#[test]
fn clean_leaves_a_container_orbtest_did_not_make() {
    if available().is_none() {
        return;
    }
    let docker = Docker::new("prefixes = [\"scratch-\"]\n", WAITS);
    let made = docker.orbctl(&["create", "ubuntu:22.04", "scratch-ours"]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    // Somebody else's container, named like a test machine and even carrying the project's
    // label (but not made by orbdock): invisible to orbtest.
    let image = Command::new("docker")
        .args([
            "inspect",
            "--format",
            "{{.Image}}",
            &format!("orbtest_{}_scratch-ours", docker.project()),
        ])
        .output()
        .unwrap();
    let image = String::from_utf8_lossy(&image.stdout).trim().to_string();
    let foreign = format!("scratch-foreign-{}", std::process::id());
    let created = Command::new("docker")
        .args(["create", "--name", &foreign, "--label"])
        .arg(format!("dev.orbtest.project={}", docker.project()))
        .args([&image, "true"])
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));

    let out = docker.command(&["clean"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("deleted scratch-ours"), "{said}");
    assert!(!said.contains("foreign"), "not even a candidate: {said}");
    assert_eq!(docker.machines(), Vec::<String>::new());
    assert_eq!(
        docker_names(&format!("name={foreign}")),
        std::slice::from_ref(&foreign),
        "the foreign container survives"
    );
    let _ = Command::new("docker").args(["rm", "-f", &foreign]).output();
}

#[test]
fn an_unreachable_engine_is_exit_3_saying_where_it_looked() {
    // Needs no engine: it points at one that is not there.
    let docker = Docker::new("", WAITS);
    let out = docker
        .reporting(&[])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{err}");
    assert!(
        err.contains("DOCKER_HOST=unix:///nonexistent/docker.sock"),
        "says where it looked: {err}"
    );
    assert!(err.contains("dockerd"), "says how to start one: {err}");
}

#[test]
fn a_sigkilled_run_frees_its_lock_and_the_next_run_reaps_its_machine() {
    if available().is_none() {
        return;
    }
    let docker = Docker::new("", WAITS);
    let mut cmd = docker.reporting(&[]);
    cmd.env("FIXTURE_WAIT_DIR", docker.path().join("wait"));
    let mut run = docker.spawn("killed", cmd);
    let pid_file = docker.path().join("wait").join("creates_then_waits.pid");
    wait_until("the test to create its machine and wait", || {
        assert!(
            run.try_wait().unwrap().is_none(),
            "the run ended first: {}",
            docker.output_of("killed")
        );
        pid_file.exists()
    });
    let sentinels = || {
        docker_names(&format!("label=dev.orbtest.project={}", docker.project()))
            .into_iter()
            .filter(|n| n.starts_with("orbtest-lock-") || n.starts_with("orbtest-run-"))
            .count()
    };
    assert_eq!(sentinels(), 2, "the run holds its lock and its liveness on the engine");
    signal(run.id(), libc::SIGKILL);
    run.wait().unwrap();
    // The engine notices the closed connections: the sentinels go by themselves.
    wait_until("the killed run's sentinels to go", || sentinels() == 0);
    let orphan = docker.machines();
    assert_eq!(orphan.len(), 1, "the killed run's machine is left: {orphan:?}");

    let out = docker.run(&["--no-wait", "--tier", "machines"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "the lock is free: {err}");
    assert!(
        err.contains("reap: deleted 1 leftover machine (1 from earlier runs"),
        "{err}"
    );
    assert_eq!(docker.containers(), Vec::<String>::new(), "{err}");
}
