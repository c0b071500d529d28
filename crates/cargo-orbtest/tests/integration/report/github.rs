//! GitHub Actions: a log group per tier, an `::error` annotation at the failing assertion, and
//! the job summary appended to $GITHUB_STEP_SUMMARY.

use crate::support::cli::{Scenario, code, fixture, stderr};

#[test]
fn groups_annotations_and_step_summary() {
    let config = r#"
[tiers.unit]
filter = "test(=tests::passes) | test(=tests::fails_on_request)"
[tiers.integration]
filter = "binary(integration_api)"
"#;
    let s = Scenario::new("basic", config);
    let step_summary = s.path().join("step-summary.md");
    std::fs::write(&step_summary, "earlier step\n").unwrap();
    let mut cmd = s.command([
        "--report-dir".as_ref(),
        s.reports().as_os_str(),
        "--no-fail-fast".as_ref(),
    ]);
    let out = cmd
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &step_summary)
        .env_remove("GITHUB_WORKSPACE")
        .env("FIXTURE_FAIL", "1")
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));

    let log = stderr(&out);
    let groups: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("::group::") || l.starts_with("::endgroup::"))
        .collect();
    assert_eq!(
        groups,
        [
            "::group::tier unit",
            "::endgroup::",
            "::group::tier integration",
            "::endgroup::"
        ],
        "{log}"
    );
    let unit_group = log
        .split("::group::tier unit")
        .nth(1)
        .unwrap()
        .split("::endgroup::")
        .next()
        .unwrap();
    assert!(
        unit_group.contains("tier unit: FAILED"),
        "the tier's lines are inside its group: {log}"
    );

    // The assertion that fails in the fixture, to check the annotation points at it.
    let source = std::fs::read_to_string(fixture("basic").join("src/lib.rs")).unwrap();
    let line = source.lines().position(|l| l.contains("FIXTURE_FAIL is set")).unwrap() + 1;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let errors: Vec<&str> = stdout.lines().filter(|l| l.starts_with("::error ")).collect();
    assert_eq!(errors.len(), 1, "{stdout}");
    assert!(
        errors[0].starts_with(&format!(
            "::error file=src/lib.rs,line={line},title=fixture-basic tests%3A%3Afails_on_request failed (tier unit)::"
        )),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].contains("FIXTURE_FAIL is set%0A"),
        "the message is escaped: {}",
        errors[0]
    );

    let md = std::fs::read_to_string(&step_summary).unwrap();
    assert!(
        md.starts_with("earlier step\n## cargo orbtest: :x: failed"),
        "appended, not replaced:\n{md}"
    );
    assert!(md.contains("| unit | failed | 2 | 1 | 1 | 0 | 0 | 0 |"), "{md}");
    assert!(md.contains("| integration | passed | 2 | 2 | 0 | 0 | 0 | 0 |"), "{md}");
    assert!(
        md.contains("<code>fixture-basic tests::fails_on_request</code>"),
        "{md}"
    );
    assert!(md.contains("FIXTURE_FAIL is set"), "{md}");
}

#[test]
fn no_github_output_outside_actions() {
    let s = Scenario::new("basic", "[tiers.unit]\nfilter = \"test(=tests::fails_on_request)\"\n");
    let mut cmd = s.command(["--report-dir".as_ref(), s.reports().as_os_str()]);
    let out = cmd
        .env_remove("GITHUB_ACTIONS")
        .env("FIXTURE_FAIL", "1")
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(!stderr(&out).contains("::group::"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("::error"));
}
