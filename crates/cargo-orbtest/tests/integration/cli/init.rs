//! `cargo orbtest init` as a new user meets it: in a fresh crate, a workspace with and without
//! integration tests, and a pytest project. Each config it writes is listed and then run, from
//! the project's own directory, and the run must pass.

use std::path::PathBuf;

use crate::support::cli::{code, stderr};
use crate::support::project::{Project, cargo_new, workspace};

fn tiers(summary: &serde_json::Value) -> Vec<(String, String, u64)> {
    summary["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["outcome"].as_str().unwrap().to_string(),
                t["tests"]["passed"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn init_in_a_fresh_crate_writes_a_fast_tier_that_runs_green() {
    let p = Project::new();
    cargo_new(p.path(), "calc", "--lib");
    // `cargo new` made `calc/`; work in it as the user would.
    let calc = p.path().join("calc");
    let out = p.orbtest_in(&calc, &["init"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let config = std::fs::read_to_string(calc.join("orchestrator.toml")).unwrap();
    assert!(config.contains("[tiers.fast]"), "{config}");
    assert!(
        !config.contains("[tiers.integration]"),
        "nothing under tests/: {config}"
    );
    assert!(!config.contains("[tiers.e2e]"), "{config}");
    let listed = p.orbtest_in(&calc, &["list"]).output().unwrap();
    assert_eq!(code(&listed), 0, "{}", stderr(&listed));
    assert!(String::from_utf8_lossy(&listed.stdout).contains("it_works"));
    let reports = p.path().join("reports");
    let run = p
        .orbtest_in(&calc, &["--report-dir", reports.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&run), 0, "{}\n{config}", stderr(&run));
    let summary = p.summary(&reports);
    assert_eq!(tiers(&summary), [("fast".to_string(), "passed".to_string(), 1)]);
    // Running init again does not overwrite what the user may have edited.
    let again = p.orbtest_in(&calc, &["init"]).output().unwrap();
    assert_eq!(code(&again), 64);
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
}

#[test]
fn init_in_a_workspace_with_integration_and_e2e_tests_derives_three_tiers() {
    let p = Project::new();
    cargo_new(p.path(), "calc", "--lib");
    cargo_new(p.path(), "app", "--bin");
    workspace(&p, &["calc", "app"]);
    p.write(
        "calc/tests/api.rs",
        "#[test] fn adds() { assert_eq!(calc::add(1, 2), 3); }\n",
    );
    p.write(
        "app/tests/e2e_flow.rs",
        "#[test] fn runs() {}\n#[test] #[ignore] fn needs_a_server() {}\n",
    );
    let (config, listed, summary) = p.init_list_run();
    assert!(config.contains("filter = \"kind(test) & !binary(/e2e/)\""), "{config}");
    assert!(config.contains("needs = [\"integration\"]"), "{config}");
    assert_eq!(
        tiers(&summary),
        [
            ("fast".to_string(), "passed".to_string(), 1),
            ("integration".to_string(), "passed".to_string(), 1),
            ("e2e".to_string(), "passed".to_string(), 1),
        ]
    );
    assert!(listed.contains("adds"), "{listed}");
    assert!(
        !listed.contains("selected by no tier"),
        "every test has a tier: {listed}"
    );
}

#[test]
fn init_in_a_workspace_without_integration_tests_writes_only_fast() {
    let p = Project::new();
    cargo_new(p.path(), "calc", "--lib");
    // A binary without tests adds no tier and no test.
    cargo_new(p.path(), "tool", "--bin");
    workspace(&p, &["calc", "tool"]);
    let (config, _, summary) = p.init_list_run();
    assert!(!config.contains("[tiers.integration]"), "{config}");
    assert!(!config.contains("binary("), "{config}");
    assert_eq!(tiers(&summary), [("fast".to_string(), "passed".to_string(), 1)]);
}

#[test]
fn init_in_a_workspace_with_no_tests_yet_passes_with_a_note() {
    let p = Project::new();
    cargo_new(p.path(), "tool", "--bin");
    let tool = p.path().join("tool");
    let out = p.orbtest_in(&tool, &["init"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let run = p.orbtest_in(&tool, &[]).output().unwrap();
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    assert!(stderr(&run).contains("selects no test"), "{}", stderr(&run));
}

#[test]
fn init_in_a_pytest_project_writes_a_command_tier_that_runs_green() {
    let Some(python) = crate::support::pysuite::python_or_skip("init_in_a_pytest_project") else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true: pytest must be installable here");
        }
        return;
    };
    let p = Project::new();
    p.write("pytest.ini", "[pytest]\n");
    p.write(
        "tests/test_calc.py",
        "def test_adds():\n    assert 1 + 2 == 3\n\ndef test_strings():\n    assert 'a' * 2 == 'aa'\n",
    );
    // pytest is on PATH through the virtualenv, as an activated venv puts it.
    let bin: PathBuf = python.parent().unwrap().to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let run = |args: &[&str]| {
        p.orbtest_in(p.path(), args)
            .env("PATH", &path)
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .unwrap()
    };
    let out = run(&["init"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let config = p.config();
    assert!(config.contains("[tiers.pytest]"), "{config}");
    assert!(config.contains("\"--junitxml={junit}\""), "{config}");
    assert!(config.contains("\"--lf\""), "retries rerun the failed tests: {config}");
    let listed = run(&["list"]);
    assert_eq!(code(&listed), 0, "{}", stderr(&listed));
    let out = run(&[]);
    assert_eq!(code(&out), 0, "{}\n{config}", stderr(&out));
    let summary = p.summary(&p.path().join(".orbtest/latest"));
    assert_eq!(tiers(&summary), [("pytest".to_string(), "passed".to_string(), 2)]);
}

#[test]
fn init_outside_any_project_says_what_it_looked_for() {
    let p = Project::new();
    let out = p.orbtest(&["init"]);
    assert_eq!(code(&out), 64, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("no test runner was found"), "{err}");
    assert!(
        err.contains("pytest") && err.contains("go.mod") && err.contains("package.json"),
        "{err}"
    );
    assert!(!p.path().join("orchestrator.toml").exists());
}
