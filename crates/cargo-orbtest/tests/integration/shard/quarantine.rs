//! `[[quarantine]]`: a quarantined test runs, its failure does not fail the tier or the gate
//! (reported apart, bounded by `max_quarantined`); an expired entry warns and counts again.

use crate::support::cli::{Scenario, code, stderr};

fn config(expires: &str) -> String {
    format!(
        r#"[tiers.unit]
filter = "kind(lib) & !test(=tests::waits_on_request) & !test(=tests::hangs_on_request) & !test(=tests::stubborn_on_request) & !test(/flaky/)"

[[quarantine]]
test = "test(=tests::fails_on_request)"
reason = "fails when asked"
owner = "ci-team"
expires = "{expires}"
"#
    )
}

fn run(s: &Scenario, extra: &[&str]) -> std::process::Output {
    s.command(["--report-dir".as_ref(), s.reports().as_os_str()])
        .args(extra)
        .env("FIXTURE_FAIL", "1")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap()
}

#[test]
fn a_quarantined_failure_passes_its_tier_and_is_reported_apart() {
    let s = Scenario::new("basic", &config("2099-12-31"));
    let out = run(&s, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("passed (1 quarantined failed)"),
        "{}",
        stderr(&out)
    );
    let tier = s.tier("unit");
    assert_eq!(tier["outcome"], "passed");
    assert_eq!(tier["tests"]["failed"], 0);
    assert_eq!(tier["tests"]["quarantined"], 1);
    let q = &tier["quarantined_tests"][0];
    assert_eq!(q["name"], "fixture-basic::tests::fails_on_request");
    assert_eq!(q["owner"], "ci-team");
    assert_eq!(q["reason"], "fails when asked");
    assert!(!q["attempts"].as_array().unwrap().is_empty(), "{q}");
    // The gate bounds how many failures quarantine may excuse.
    let gated = Scenario::new(
        "basic",
        &format!("{}\n[gate]\nmax_quarantined = 0\n", config("2099-12-31")),
    );
    let out = run(&gated, &["--gate"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        gated.summary()["gate"]["violations"][0]
            .as_str()
            .unwrap()
            .contains("excused by quarantine (max 0)"),
        "{}",
        gated.summary()
    );
}

#[test]
fn an_expired_quarantine_warns_and_the_test_counts_again() {
    let s = Scenario::new("basic", &config("2020-01-31"));
    let out = run(&s, &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("expired on 2020-01-31"), "{err}");
    assert!(err.contains("orchestrator.toml:4:1"), "points at the entry: {err}");
    let tier = s.tier("unit");
    assert_eq!(tier["outcome"], "failed");
    assert_eq!(tier["tests"]["failed"], 1);
    assert!(tier["quarantined_tests"].is_null(), "{tier}");
}

#[test]
fn a_command_tiers_test_is_quarantined_by_its_node_id() {
    use crate::support::pysuite;
    let Some(python) = pysuite::python_or_skip("a_command_tiers_test_is_quarantined_by_its_node_id") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "pytest is required in CI");
        return;
    };
    let config = r#"
[tiers.py]
command = ["{python}", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml={junit}", "tests/test_basic.py"]

[[quarantine]]
test = "test(=tests/test_basic.py::test_fails_when_asked)"
reason = "fails when asked"
owner = "py-team"
expires = "2099-01-01"
"#;
    let s = pysuite::Scenario::new(config, Some(&python), None);
    let out = s.command(&[]).env("PYSUITE_FAIL", "1").output().unwrap();
    assert_eq!(pysuite::code(&out), 0, "{}", pysuite::stderr(&out));
    let tier = s.tier("py");
    assert_eq!(tier["outcome"], "passed", "{tier}");
    assert_eq!(tier["tests"]["quarantined"], 1);
    assert_eq!(
        tier["quarantined_tests"][0]["name"],
        "tests.test_basic::test_fails_when_asked"
    );
    assert_eq!(tier["quarantined_tests"][0]["owner"], "py-team");
}
