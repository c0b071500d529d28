//! The unchanged seed client (issue #18): a pytest suite shaped like the seed project's (the
//! `seedclient` fixture: subprocess timeouts of 30 and 60 s, retries decided by words in stderr,
//! names from timestamps) on 8 xdist workers, against the seed's host in orbsim, time-scaled
//! with the client's timeouts scaled the same way. Run directly, then as a machine tier of
//! cargo orbtest: orbtest fails no more tests than the direct run, and none because of the shim.
//!
//! CI runs 16 machine tests; `SEEDCLIENT_TESTS=85` runs the seed's size.

use std::path::Path;
use std::process::Command;

use crate::support::pysuite::{Scenario, code, python_or_skip, stderr};

/// Real seconds per simulated second: the client's 30 s timeout is 3 s, its 10 s `list` 1 s.
/// At 0.05 a loaded 2-core host (load average 15 to 20) made `list` through the shim and the
/// broker outlast the client's 0.5 s now and then: a time-scale artifact, not the promise.
const SCALE: f64 = 0.1;
const WORKERS: u32 = 8;

/// The seed bench's host (`benches/scenarios/seed.toml`) at [`SCALE`].
fn seed_host() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/scenarios/seed.toml");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| {
            if l.starts_with("time_scale =") {
                format!("time_scale = {SCALE}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn tests() -> String {
    std::env::var("SEEDCLIENT_TESTS").unwrap_or_else(|_| "16".into())
}

/// `(tests run, failed)` from a pytest JUnit file (errors count as failures).
fn junit_counts(path: &Path) -> (u64, u64) {
    let xml = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let attr = |name: &str| -> u64 {
        xml.split(&format!(" {name}=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (attr("tests"), attr("failures") + attr("errors"))
}

#[test]
fn the_seed_client_fails_no_more_under_orbtest_and_never_because_of_the_shim() {
    let Some(python) = python_or_skip("the_seed_client_fails_no_more_under_orbtest_and_never_because_of_the_shim")
    else {
        return;
    };
    let ms = |secs: f64| format!("\"{}ms\"", (secs * SCALE * 1000.0).round() as u64);
    // orbtest's defaults, in simulated time like everything else here; no baseline and no cap.
    let config = format!(
        r#"
[machines]
provider = "sim"
prefixes = ["pytest-test-"]
timeouts = {{ create = {create}, lifecycle = {lifecycle}, query = {query} }}
retry = {{ attempts = 4, delay = {delay}, backoff = "exponential" }}

[machines.sim]
scenario = "{{scenario}}"

[pressure]
max_wait = {max_wait}

[tiers.seed]
command = ["{{python}}", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "{{threads}}", "--junitxml={{junit}}"]
threads = {WORKERS}
machines = true
timeout = "10m"
"#,
        create = ms(180.0),
        lifecycle = ms(60.0),
        query = ms(30.0),
        delay = ms(2.0),
        max_wait = ms(600.0),
    );
    let s = Scenario::of("seedclient", &config, Some(&python), Some(&seed_host()));

    // Directly: orbsim as `orbctl` first on PATH (through a one-line script, as a link to the
    // embedded simulator must be named `orbsim-orbctl`).
    let bin = s.path().join("direct-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let sim_orbctl = crate::support::sim_links(&s.path().join("links")).orbctl;
    let script = bin.join("orbctl");
    std::fs::write(&script, format!("#!/bin/sh\nexec '{}' \"$@\"\n", sim_orbctl.display())).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin.clone()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let direct_junit = s.path().join("direct.xml");
    let direct = Command::new(&python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            &WORKERS.to_string(),
        ])
        .arg(format!("--junitxml={}", direct_junit.display()))
        .current_dir(s.path())
        .env("PATH", path)
        .env("ORBSIM_STATE", s.path().join("direct-sim"))
        .env("ORBSIM_SCENARIO", s.path().join("scenario.toml"))
        .env("SEEDCLIENT_TIME_SCALE", SCALE.to_string())
        .env("SEEDCLIENT_TESTS", tests())
        .env_remove("ORBTEST_RUN_DIR")
        .output()
        .expect("run pytest");
    let (direct_run, direct_failed) = junit_counts(&direct_junit);
    assert!(
        direct_run > 0,
        "the direct run ran nothing: {}",
        String::from_utf8_lossy(&direct.stdout)
    );

    // Under cargo orbtest, the same suite.
    let out = s
        .command(&[])
        .env("SEEDCLIENT_TIME_SCALE", SCALE.to_string())
        .env("SEEDCLIENT_TESTS", tests())
        .output()
        .expect("run cargo-orbtest");
    let summary = s.summary();
    let tier = s.tier("seed");
    let ran = tier["tests"]["passed"].as_u64().unwrap() + tier["tests"]["failed"].as_u64().unwrap();
    let failed = tier["tests"]["failed"].as_u64().unwrap() + tier["tests"]["timed_out"].as_u64().unwrap();
    let journal = std::fs::read_to_string(s.path().join(".orbtest/latest/journal.jsonl")).unwrap_or_default();
    let events = |event: &str| journal.matches(&format!("\"event\":\"{event}\"")).count();
    eprintln!(
        "seed client, {WORKERS} workers, {} machine tests: directly {direct_failed} of {direct_run} failed; under cargo \
         orbtest {failed} of {ran} (exit {}); calls given up by their callers {}, joined by a retry {}",
        tests(),
        code(&out),
        events("caller-gone"),
        events("joined"),
    );
    assert_eq!(ran, direct_run, "both runs ran the same suite: {}", stderr(&out));
    assert!(
        failed <= direct_failed,
        "cargo orbtest failed {failed} tests, the direct run {direct_failed}: {summary}"
    );
    // Nothing failed because of the shim: no failure is the shim's own error, or a call left
    // waiting in orbtest's queue until its caller gave up.
    for failure in tier["failures"].as_array().into_iter().flatten() {
        let text = failure.to_string();
        assert!(
            !text.contains("cargo orbtest shim"),
            "a failure of the shim's: {failure}"
        );
        assert!(!text.contains("create queue"), "a failure of the queue's: {failure}");
    }
    assert_eq!(summary["machines"]["leftover"], 0, "{summary}");
    assert!(
        s.machines().iter().all(|m| !m.starts_with("pytest-test-")),
        "{:?}",
        s.machines()
    );
}
