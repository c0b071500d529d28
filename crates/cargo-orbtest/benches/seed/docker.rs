//! The seed-shaped suite on real machines (`SEED_BENCH_PROVIDER=docker`): the same generated
//! suite, with its client policy in real seconds (time scale 1), against orbdock on a Docker
//! engine. One run each:
//!
//! * naive: `cargo nextest run` with 8 test threads, orbdock as `orbctl` on PATH (each test
//!   creates its machine from the machine image, as on a Mac without orbtest);
//! * orbtest: `cargo orbtest` with the suite's tiers and `provider = "docker"` (baseline built
//!   in this run: cold).
//!
//! Each runner has a project of its own on the engine; both start from nothing (the machine
//! image is built first, untimed, and shared) and everything they leave is counted, then
//! removed. Figures are real seconds.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use super::fixture::Suite;

/// The machine image the suite's tests create from (`ubuntu:22.04`), as CI builds it.
const RECIPE: &str =
    "[machines.docker.images.\"ubuntu:22.04\"]\ndebootstrap = \"bookworm\"\npackages = [\"iputils-ping\"]\n";

pub(crate) fn main(scratch: &Path, suite: &Suite) {
    let started = Instant::now();
    let suite_dir = scratch.join("suite");
    let target = scratch.join("target");
    suite
        .write(&suite_dir, 1.0)
        .unwrap_or_else(|e| panic!("cannot write the suite into {}: {e}", suite_dir.display()));
    let config = scratch.join("orchestrator.docker.toml");
    let text = super::orchestrator_toml(1.0).replace("provider = \"sim\"", "provider = \"docker\"") + "\n" + RECIPE;
    std::fs::write(&config, text).expect("write orchestrator.docker.toml");
    let links = scratch.join("docker-bin");
    let [orbdock, _] = orbtest::lifecycle::docker::link_engine_names(
        Path::new(env!("CARGO_BIN_EXE_cargo-orbtest")),
        &links.join("engine"),
    )
    .expect("link orbdock");
    // The naive runner's `orbctl`: orbdock, by that name.
    std::fs::create_dir_all(&links).expect("mkdir");
    let wrapper = links.join("orbctl");
    std::fs::write(&wrapper, format!("#!/bin/sh\nexec '{}' \"$@\"\n", orbdock.display())).expect("write orbctl");
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod orbctl");

    println!(
        "seed bench on Docker: {} tests, real seconds, one run each; naive with {} threads",
        suite.total_tests(),
        super::NAIVE_THREADS
    );
    let build = Instant::now();
    let mut cmd = super::cargo(&target);
    cmd.args(["nextest", "list", "--manifest-path"])
        .arg(suite_dir.join("Cargo.toml"));
    run_ok(cmd.stdout(Stdio::null()), "building the seed suite");
    let images = Instant::now();
    let mut cmd = orbtest(&config, &suite_dir, &target, scratch, "seed-orbtest");
    cmd.arg("images");
    run_ok(cmd.stdout(Stdio::null()), "building the machine image");
    println!(
        "built the suite in {:.1}s, the machine image in {:.1}s (cached by recipe: 0 when it was there)",
        images.duration_since(build).as_secs_f64(),
        images.elapsed().as_secs_f64()
    );

    for project in ["seed-naive", "seed-orbtest"] {
        remove_project(project);
    }
    let runs = scratch.join("docker-runs");
    let _ = std::fs::remove_dir_all(&runs);
    std::fs::create_dir_all(&runs).expect("mkdir");

    // naive
    let _ = std::fs::remove_file(super::naive_junit(&suite_dir));
    let mut cmd = super::cargo(&target);
    cmd.args(["nextest", "run", "--no-fail-fast", "--color", "never", "--test-threads"])
        .arg(super::NAIVE_THREADS.to_string())
        .arg("--manifest-path")
        .arg(suite_dir.join("Cargo.toml"));
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![links.clone()];
    dirs.extend(std::env::split_paths(&path));
    cmd.env("PATH", std::env::join_paths(dirs).expect("PATH"))
        .env("ORBDOCK_PROJECT", "seed-naive")
        .env_remove("ORBTEST_DOCKER_IMAGES");
    let naive = timed(cmd, &runs.join("naive.log"));
    let naive_passed = super::naive_passed(&super::naive_junit(&suite_dir));
    let naive_left = remove_project("seed-naive");

    // orbtest
    let report = runs.join("orbtest-report");
    let mut cmd = orbtest(&config, &suite_dir, &target, scratch, "seed-orbtest");
    cmd.arg("--report-dir").arg(&report);
    let ours = timed(cmd, &runs.join("orbtest.log"));
    let (orbtest_passed, _) = super::orbtest_passed(&report);
    let ours_left = remove_project("seed-orbtest");

    let total = suite.total_tests();
    let line = |name: &str, wall: f64, passed: usize, left: usize| {
        println!(
            "{name:<8} failures {:>3}  wall {wall:>6.1}s  containers left {left}",
            total.saturating_sub(passed)
        );
    };
    line("naive", naive, naive_passed, naive_left);
    line("orbtest", ours, orbtest_passed, ours_left);
    println!(
        "ratio: orbtest/naive={:.2} failures: naive={} orbtest={} (orbtest leaves its baseline by design: {} \
         container(s) left includes it); took {:.0}s; logs in {}",
        ours / naive,
        total.saturating_sub(naive_passed),
        total.saturating_sub(orbtest_passed),
        ours_left,
        started.elapsed().as_secs_f64(),
        runs.display()
    );
}

fn orbtest(config: &Path, suite_dir: &Path, target: &Path, scratch: &Path, project: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-orbtest"));
    super::scrub(&mut cmd);
    cmd.arg("orbtest")
        .arg("--manifest-path")
        .arg(suite_dir.join("Cargo.toml"))
        .arg("--config")
        .arg(config)
        .env("CARGO_TARGET_DIR", target)
        .env("ORBTEST_HOME", scratch.join("docker-home"))
        .env("ORBDOCK_PROJECT", project)
        .env("NO_COLOR", "1");
    cmd
}

/// Runs `cmd` with the suite's client policy in real seconds; its wall time in seconds.
fn timed(mut cmd: Command, log: &Path) -> f64 {
    let out = std::fs::File::create(log).expect("create the log");
    cmd.env("SEED_TIME_SCALE", "1")
        .env("SEED_CLIENT_POLICY", "real")
        .stdout(out.try_clone().expect("log"))
        .stderr(out);
    let clock = Instant::now();
    cmd.status().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    clock.elapsed().as_secs_f64()
}

/// Removes every container of `project` (machines and sentinels); how many there were.
fn remove_project(project: &str) -> usize {
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter"])
        .arg(format!("label=dev.orbtest.project={project}"))
        .output()
        .expect("docker ps");
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if !ids.is_empty() {
        let _ = Command::new("docker").args(["rm", "-f"]).args(&ids).output();
    }
    ids.len()
}

fn run_ok(cmd: &mut Command, what: &str) {
    super::run_ok(cmd, what)
}
