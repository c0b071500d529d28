//! A pytest suite as a command tier: its results, a test that passes on the rerun reported as
//! flaky, the timeout killing the whole command, the shim's create slots holding back its
//! parallel workers, the exit code deciding without JUnit, and a command that does not exist.

use crate::support::pysuite::{Scenario, alive, code, counts, python_or_skip, stderr, wait_until};

const BASIC: &str = r#"
[tiers.py]
command = ["{python}", "-m", "pytest", "-q", "tests/test_basic.py", "--junitxml={junit}"]
"#;

#[test]
fn a_pytest_suites_results_are_the_tiers_results() {
    let Some(python) = python_or_skip("a_pytest_suites_results_are_the_tiers_results") else {
        return;
    };
    let s = Scenario::new(BASIC, Some(&python), None);
    let out = s.command(&[]).env("PYSUITE_FAIL", "1").output().unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("tier py: running "), "{err}");
    assert!(err.contains("tier py: FAILED"), "{err}");

    let tier = s.tier("py");
    assert_eq!(counts(&tier), (3, 1, 0, 0, 1), "{tier}");
    assert_eq!(tier["failed_tests"][0], "tests.test_basic::test_fails_when_asked");
    let failure = &tier["failures"][0];
    assert!(
        failure["message"].as_str().unwrap().contains("asked to fail"),
        "{failure}"
    );
    assert!(
        failure["output_tail"].as_str().unwrap().contains("PYSUITE_FAIL"),
        "{failure}"
    );
    assert_eq!(failure["rerun"], "cargo orbtest --tier py --ignore-needs");
    assert!(
        tier["command"].as_str().unwrap().contains("--junitxml={junit}"),
        "{tier}"
    );
    assert_eq!(s.summary()["nextest_version"], "not used");

    // Reports: the merged JUnit (suites by tier), report.html, the command's own log.
    let latest = s.path().join(".orbtest/latest");
    let junit = std::fs::read_to_string(latest.join("junit.xml")).unwrap();
    assert!(junit.contains("name=\"py/tests.test_basic\""), "{junit}");
    let html = std::fs::read_to_string(latest.join("report.html")).unwrap();
    assert!(html.contains("test_fails_when_asked"));
    let run_id = s.summary()["run_id"].as_str().unwrap().to_string();
    let log = std::fs::read_to_string(s.path().join(format!(".orbtest/runs/{run_id}/tiers/py/command.log"))).unwrap();
    assert!(log.contains("1 failed"), "{log}");

    let out = s.run(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(counts(&s.tier("py")), (4, 0, 0, 0, 1));
}

#[test]
fn a_test_that_passes_on_the_rerun_is_flaky() {
    let Some(python) = python_or_skip("a_test_that_passes_on_the_rerun_is_flaky") else {
        return;
    };
    let config = r#"
[tiers.py]
command = ["{python}", "-m", "pytest", "-q", "tests/test_basic.py", "tests/test_flaky.py", "--junitxml={junit}"]
rerun = ["{python}", "-m", "pytest", "-q", "--lf", "tests/test_basic.py", "tests/test_flaky.py", "--junitxml={junit}"]
retries = 1

[gate]
max_flaky = 0
"#;
    let s = Scenario::new(config, Some(&python), None);
    let out = s.run(&["--gate"]);
    assert_eq!(code(&out), 2, "tests passed, the gate did not: {}", stderr(&out));
    assert!(stderr(&out).contains("retrying (attempt 2)"), "{}", stderr(&out));
    let tier = s.tier("py");
    assert_eq!(tier["outcome"], "passed");
    assert_eq!(counts(&tier), (5, 0, 1, 0, 1), "{tier}");
    assert_eq!(tier["flaky_tests"][0], "tests.test_flaky::test_fails_the_first_time");
    let violations = s.summary()["gate"]["violations"].to_string();
    assert!(violations.contains("flaky"), "{violations}");
    // The rerun was pytest's --lf: its JUnit has only the test that had failed.
    let run_id = s.summary()["run_id"].as_str().unwrap().to_string();
    let second =
        std::fs::read_to_string(s.path().join(format!(".orbtest/runs/{run_id}/tiers/py/attempt-2.xml"))).unwrap();
    assert_eq!(second.matches("<testcase").count(), 1, "{second}");
}

#[test]
fn the_timeout_kills_the_whole_command() {
    let Some(python) = python_or_skip("the_timeout_kills_the_whole_command") else {
        return;
    };
    // Long enough for pytest to start on a loaded machine; the test itself never ends.
    let config = r#"
[tiers.hang]
command = ["{python}", "-m", "pytest", "-q", "tests/test_hang.py", "--junitxml={junit}"]
timeout = "10s"
grace_period = "1s"
retries = 2
"#;
    let s = Scenario::new(config, Some(&python), None);
    let out = s.run(&[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let tier = s.tier("hang");
    assert_eq!(tier["outcome"], "failed");
    assert_eq!(counts(&tier), (0, 0, 0, 1, 0), "{tier}");
    assert_eq!(tier["failed_tests"][0], "hang::python");
    let message = tier["failures"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("timeout (10s)") && message.contains("process group was killed"),
        "{message}"
    );
    assert!(!stderr(&out).contains("retrying"), "a timed-out tier is not retried");
    // pytest and the process its test started are gone.
    let pid = |name: &str| -> i32 {
        let path = s.state().join(name);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (pytest never reached the test?)", path.display()))
            .trim()
            .parse()
            .unwrap()
    };
    for name in ["pytest.pid", "grandchild.pid"] {
        let pid = pid(name);
        wait_until(&format!("{name} ({pid}) to be gone"), || !alive(pid));
    }
}

#[test]
fn the_shims_create_slots_apply_to_the_commands_workers() {
    let Some(python) = python_or_skip("the_shims_create_slots_apply_to_the_commands_workers") else {
        return;
    };
    let config = r#"
[machines]
provider = "sim"
prefixes = ["test-"]
max_concurrent_creates = 1

[machines.sim]
scenario = "{scenario}"

[tiers.machines]
command = ["{python}", "-m", "pytest", "-q", "-n", "{threads}", "tests/test_machines.py", "--junitxml={junit}"]
threads = 4
machines = true
"#;
    let s = Scenario::new(
        config,
        Some(&python),
        Some("time_scale = 0.02\n[latency]\ncreate = \"10s\"\n"),
    );
    let out = s.run(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(counts(&s.tier("machines")), (4, 0, 0, 0, 0));
    let stats = s.stats();
    assert_eq!(stats["creates_started"], 4, "{stats}");
    assert_eq!(
        stats["peak_concurrent_creates"], 1,
        "one create slot across pytest's workers: {stats}"
    );
    let summary = s.summary();
    assert_eq!(summary["machines"]["created"], 4, "{summary}");
    assert_eq!(summary["machines"]["leftover"], 0);
    assert!(s.machines().is_empty(), "{:?}", s.machines());
    // Each create is journaled with the pytest test that asked for it.
    let journal = std::fs::read_to_string(s.path().join(".orbtest/latest/journal.jsonl")).unwrap();
    assert!(
        journal.contains("\"test\":\"tests.test_machines::test_create_use_delete["),
        "{journal}"
    );
}

#[test]
fn without_junit_the_exit_code_decides() {
    let config = r#"
[tiers.lint]
command = ["sh", "-c", "echo checking; exit 3"]

[tiers.settle]
command = ["sh", "-c", "if [ -e settled ]; then exit 0; fi; touch settled; echo not yet; exit 1"]
retries = 1
"#;
    let s = Scenario::new(config, None, None);
    let out = s.run(&["--no-fail-fast"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let lint = s.tier("lint");
    assert_eq!(counts(&lint), (0, 1, 0, 0, 0), "{lint}");
    assert_eq!(lint["failed_tests"][0], "lint::sh");
    let failure = &lint["failures"][0];
    assert!(
        failure["message"].as_str().unwrap().contains("exited with 3"),
        "{failure}"
    );
    assert!(
        failure["output_tail"].as_str().unwrap().contains("checking"),
        "{failure}"
    );
    // The command failed, then passed on its retry: one flaky pseudo-test.
    let settle = s.tier("settle");
    assert_eq!(settle["outcome"], "passed");
    assert_eq!(counts(&settle), (1, 0, 1, 0, 0), "{settle}");
    assert_eq!(settle["flaky_tests"][0], "settle::sh");
}

#[test]
fn a_command_that_is_not_found_is_a_clear_error() {
    let s = Scenario::new("[tiers.py]\ncommand = [\"pytst-not-installed\", \"-q\"]\n", None, None);
    let out = s.run(&[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("tier `py`: command `pytst-not-installed` not found (looked in PATH)"),
        "{err}"
    );
    assert!(err.contains("orchestrator.toml:2:12"), "points at the command: {err}");
    assert!(err.contains("help: install it"), "{err}");

    let s = Scenario::new(
        "[tiers.py]\ncommand = [\"./run-tests.sh\"]\nworkdir = \"tests\"\n",
        None,
        None,
    );
    let out = s.run(&[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`./run-tests.sh` not found (looked in"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_nextest_tier_outside_a_cargo_workspace_says_why() {
    let s = Scenario::new(
        "[tiers.unit]\nfilter = \"kind(lib)\"\n[tiers.py]\ncommand = [\"true\"]\n",
        None,
        None,
    );
    let out = s.run(&[]);
    assert_eq!(code(&out), 64, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("not a cargo workspace"), "{err}");
    assert!(err.contains("tiers unit of"), "{err}");
}
