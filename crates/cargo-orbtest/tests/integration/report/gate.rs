//! The release gate over real runs: evaluated only with --gate or `enforce`, exit 2 only when
//! the tests passed and the gate did not.

use crate::support::cli::{Scenario, code, stderr};

const FLAKY: &str = r#"
[tiers.unit]
filter = "test(=tests::flaky_listed) | test(=tests::passes)"
flaky = ["test(=tests::flaky_listed)"]
"#;

/// Runs with fresh markers, so `flaky_listed` fails once and passes on its retry.
fn run(s: &Scenario, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let markers = s.path().join("markers");
    let _ = std::fs::remove_dir_all(&markers);
    std::fs::create_dir(&markers).unwrap();
    let mut cmd = s.command(["--report-dir".as_ref(), s.reports().as_os_str()]);
    cmd.args(args).env_remove("GITHUB_ACTIONS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn a_gate_failure_on_passing_tests_exits_2_only_when_the_gate_is_checked() {
    let s = Scenario::new("basic", &format!("{FLAKY}\n[gate]\nmax_flaky = 0\n"));

    let out = run(&s, &[], &[]);
    assert_eq!(
        code(&out),
        0,
        "without --gate the gate is not checked: {}",
        stderr(&out)
    );
    assert_eq!(s.summary()["gate"]["evaluated"], false);
    assert_eq!(s.tier("unit")["tests"]["flaky"], 1);

    let out = run(&s, &["--gate"], &[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let summary = s.summary();
    assert_eq!(summary["outcome"], "gate-failed");
    assert_eq!(summary["exit_code"], 2);
    assert_eq!(summary["gate"]["evaluated"], true);
    assert_eq!(summary["gate"]["passed"], false);
    assert_eq!(summary["gate"]["violations"][0], "1 flaky test (max 0)");
    let text = stderr(&out);
    assert!(text.contains("Gate failed\n   - 1 flaky test (max 0)"), "{text}");
    assert!(text.contains("GATE FAILED"), "{text}");
    let html = std::fs::read_to_string(s.reports().join("report.html")).unwrap();
    assert!(
        html.contains("<li>1 flaky test (max 0)</li>"),
        "violations are in report.html"
    );
}

#[test]
fn an_enforced_gate_that_passes_exits_0() {
    let s = Scenario::new(
        "basic",
        &format!(
            "{FLAKY}\n[gate]\nenforce = true\nmax_flaky = 1\nmax_duration = \"10m\"\nmax_peak_swap_percent = 100\n"
        ),
    );
    let out = run(&s, &[], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let gate = &s.summary()["gate"];
    assert_eq!(gate["evaluated"], true, "enforce = true checks the gate without --gate");
    assert_eq!(gate["passed"], true);
    assert_eq!(gate["violations"].as_array().unwrap().len(), 0);
    assert!(stderr(&out).contains("Gate passed"), "{}", stderr(&out));
}

#[test]
fn failed_tests_exit_1_even_when_the_gate_also_fails() {
    let s = Scenario::new("basic", "[tiers.unit]\nfilter = \"test(=tests::fails_on_request)\"\n");
    let out = run(&s, &["--gate"], &[("FIXTURE_FAIL", "1")]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let summary = s.summary();
    assert_eq!(summary["outcome"], "failed");
    assert_eq!(summary["gate"]["passed"], false);
    assert_eq!(summary["gate"]["violations"][0], "1 test failed (max 0)");
}
