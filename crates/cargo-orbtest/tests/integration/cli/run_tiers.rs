//! Tier order, needs, retries, timeouts, build failures and what summary.json/junit.xml say.

use crate::support::cli::{Scenario, code, counts, stderr};

const TIERS: &str = r#"
[tiers.fast]
filter = "kind(lib) & (test(=tests::passes) | test(=tests::slow) | test(=tests::ignored))"

[tiers.integration]
filter = "binary(integration_api)"
needs = ["fast"]

[tiers.e2e]
filter = "binary(e2e_flow)"
needs = ["integration"]
"#;

fn names(s: &Scenario) -> Vec<(String, String)> {
    s.summary()["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn all_tiers_pass_in_file_order_with_reports() {
    let s = Scenario::new("basic", TIERS);
    let out = s.run(Vec::<String>::new());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        names(&s),
        [
            ("fast".into(), "passed".into()),
            ("integration".into(), "passed".into()),
            ("e2e".into(), "passed".into())
        ]
    );
    let summary = s.summary();
    assert_eq!(summary["schema"], 1);
    assert_eq!(summary["outcome"], "passed");
    assert_eq!(summary["exit_code"], 0);
    assert!(summary["run_id"].as_str().is_some_and(|id| !id.is_empty()));
    // passes + slow ran; the #[ignore]d test is selected but not run: skipped, as nextest
    // counts it.
    assert_eq!(counts(&s.tier("fast")), (2, 0, 0, 0, 1));
    assert_eq!(counts(&s.tier("integration")), (2, 0, 0, 0, 0));
    assert_eq!(counts(&s.tier("e2e")), (1, 0, 0, 0, 0));

    let junit = std::fs::read_to_string(s.reports().join("junit.xml")).unwrap();
    assert!(junit.contains(r#"<testsuite name="fast/fixture-basic""#), "{junit}");
    assert!(
        junit.contains(r#"<testsuite name="integration/fixture-basic::integration_api""#),
        "{junit}"
    );
    assert!(junit.contains(r#"name="tests::slow""#));
    assert!(junit.contains(r#"name="end_to_end""#));
    // The run's own directory keeps the same files.
    let run_dir = crate::support::cli::fixture_target()
        .join("orbtest/runs")
        .join(summary["run_id"].as_str().unwrap());
    assert!(run_dir.join("summary.json").exists());
    assert!(run_dir.join("tiers/fast/nextest.log").exists());
}

#[test]
fn tiers_whose_needs_are_not_selected_are_skipped_unless_ignored() {
    let s = Scenario::new("basic", TIERS);
    let out = s.run(["--tier", "e2e,fast"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let tiers = names(&s);
    assert_eq!(
        tiers,
        [("fast".into(), "passed".into()), ("e2e".into(), "skipped".into())]
    );
    let reason = s.tier("e2e")["reason"].as_str().unwrap().to_string();
    assert!(
        reason.contains("needs `integration`, which is not part of this run"),
        "{reason}"
    );

    let out = s.run(["--tier", "e2e", "--ignore-needs"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(names(&s), [("e2e".into(), "passed".into())]);
}

#[test]
fn a_failed_tier_stops_later_tiers_unless_no_fail_fast() {
    let config = r#"
[tiers.unit]
filter = "test(=tests::fails_on_request)"
[tiers.integration]
filter = "binary(integration_api)"
needs = ["unit"]
[tiers.e2e]
filter = "binary(e2e_flow)"
"#;
    let s = Scenario::new("basic", config);
    let mut cmd = s.command(["--report-dir".as_ref(), s.reports().as_os_str()]);
    let out = cmd.env("FIXTURE_FAIL", "1").output().unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(
        names(&s),
        [
            ("unit".into(), "failed".into()),
            ("integration".into(), "skipped".into()),
            ("e2e".into(), "skipped".into())
        ]
    );
    let unit = s.tier("unit");
    assert_eq!(unit["failed_tests"][0], "fixture-basic::tests::fails_on_request");
    let failure = &unit["failures"][0];
    assert!(failure["output_tail"].as_str().unwrap().contains("FIXTURE_FAIL is set"));
    assert!(
        failure["rerun"]
            .as_str()
            .unwrap()
            .starts_with("cargo orbtest --tier unit")
    );
    assert!(
        stderr(&out).contains("FIXTURE_FAIL is set"),
        "the summary shows the failure's output"
    );

    let mut cmd = s.command([
        "--report-dir".as_ref(),
        s.reports().as_os_str(),
        "--no-fail-fast".as_ref(),
    ]);
    let out = cmd.env("FIXTURE_FAIL", "1").output().unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(
        names(&s),
        [
            ("unit".into(), "failed".into()),
            ("integration".into(), "skipped".into()),
            ("e2e".into(), "passed".into())
        ]
    );
    assert_eq!(s.tier("integration")["reason"], "needs `unit`, which failed");
}

#[test]
fn only_listed_flaky_tests_get_extra_retries() {
    let config = r#"
[tiers.fast]
filter = "test(/flaky_/)"
flaky = ["test(=tests::flaky_listed)"]
flaky_retries = 2
"#;
    let s = Scenario::new("basic", config);
    let out = s.run(Vec::<String>::new());
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let fast = s.tier("fast");
    // flaky_listed failed once and passed on a retry; flaky_unlisted had no retries.
    assert_eq!(counts(&fast), (1, 1, 1, 0, 0));
    assert_eq!(fast["flaky_tests"][0], "fixture-basic::tests::flaky_listed");
    assert_eq!(fast["failed_tests"][0], "fixture-basic::tests::flaky_unlisted");
    assert!(stderr(&out).contains("passed on attempt 2"), "{}", stderr(&out));
}

#[test]
fn tier_retries_turn_fail_once_tests_into_flaky_passes() {
    let config = r#"
[tiers.fast]
filter = "test(/flaky_/)"
retries = { count = 1, delay = "10ms", backoff = "exponential" }
"#;
    let s = Scenario::new("basic", config);
    let out = s.run(Vec::<String>::new());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(counts(&s.tier("fast")), (2, 0, 2, 0, 0));
}

#[test]
fn inherited_nextest_variables_do_not_leak_into_tiers() {
    // NEXTEST_RETRIES would disable per-test overrides (the flaky list) if it reached nextest.
    let config = r#"
[tiers.fast]
filter = "test(=tests::flaky_listed)"
flaky = ["test(=tests::flaky_listed)"]
"#;
    let s = Scenario::new("basic", config);
    let mut cmd = s.command(["--report-dir".as_ref(), s.reports().as_os_str()]);
    let out = cmd
        .env("NEXTEST_RETRIES", "0")
        .env("NEXTEST_PROFILE", "default")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(counts(&s.tier("fast")), (1, 0, 1, 0, 0));
}

#[test]
fn a_hanging_test_is_killed_at_the_tier_timeout() {
    let config = r#"
[tiers.slowpoke]
filter = "test(=tests::hangs_on_request) | test(=tests::passes)"
timeout = "1s"
grace_period = "100ms"
"#;
    let s = Scenario::new("basic", config);
    let mut cmd = s.command(["--report-dir".as_ref(), s.reports().as_os_str()]);
    let out = cmd.env("FIXTURE_HANG", "1").output().unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let tier = s.tier("slowpoke");
    assert_eq!(counts(&tier), (1, 0, 0, 1, 0));
    assert_eq!(tier["failures"][0]["status"], "timed-out");
    assert_eq!(tier["failed_tests"][0], "fixture-basic::tests::hangs_on_request");
}

#[test]
fn forwarded_arguments_reach_nextest() {
    let s = Scenario::new("basic", TIERS);
    let out = s.run(["--tier", "fast", "--", "-E", "test(=tests::passes)"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let (passed, ..) = counts(&s.tier("fast"));
    assert_eq!(passed, 1, "the forwarded filterset narrowed the tier");
}

#[test]
fn a_build_failure_is_an_infrastructure_error_not_failed_tests() {
    let s = Scenario::new("broken", "[tiers.fast]\n[tiers.integration]\n");
    let out = s.run(Vec::<String>::new());
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("build failed"), "{err}");
    assert!(
        err.contains("mismatched types"),
        "the compiler's message is shown: {err}"
    );
    let summary = s.summary();
    assert_eq!(summary["outcome"], "error");
    assert_eq!(summary["exit_code"], 3);
    for tier in summary["tiers"].as_array().unwrap() {
        assert_eq!(tier["outcome"], "skipped");
        assert_eq!(tier["reason"], "the build failed");
        assert_eq!(tier["tests"]["failed"], 0);
    }
}

#[test]
fn the_users_nextest_config_overrides_tier_settings() {
    let work = tempfile::tempdir().unwrap();
    copy_dir(&crate::support::cli::fixture("basic"), work.path());
    std::fs::create_dir_all(work.path().join(".config")).unwrap();
    std::fs::write(
        work.path().join(".config/nextest.toml"),
        "[profile.orbtest-fast]\nretries = 1\n",
    )
    .unwrap();
    let mut s = Scenario::new("basic", "[tiers.fast]\nfilter = \"test(=tests::flaky_unlisted)\"\n");
    s.fixture = work.path().to_path_buf();
    let out = s.run(Vec::<String>::new());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(counts(&s.tier("fast")), (1, 0, 1, 0, 0));
}

/// `--profile NAME` without `--`: each tier's profile inherits the user's `[profile.NAME]` from
/// .config/nextest.toml (nextest would call it unknown from orbtest's tool config unless orbtest
/// names it there too); a profile the user's config does not define is a usage error.
#[test]
fn a_profile_of_the_users_nextest_config_is_inherited_and_an_unknown_one_refused() {
    let work = tempfile::tempdir().unwrap();
    copy_dir(&crate::support::cli::fixture("basic"), work.path());
    std::fs::create_dir_all(work.path().join(".config")).unwrap();
    std::fs::write(
        work.path().join(".config/nextest.toml"),
        "[profile.ci]\nsuccess-output = \"final\"\n",
    )
    .unwrap();
    let mut s = Scenario::new("basic", "[tiers.fast]\nfilter = \"test(=tests::passes)\"\n");
    s.fixture = work.path().to_path_buf();
    let out = s.run(["--profile", "ci"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(counts(&s.tier("fast")), (1, 0, 0, 0, 0));
    let out = s.run(["--profile", "nightly"]);
    assert_eq!(code(&out), 64, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--profile nightly: ") && stderr(&out).contains("has no [profile.nightly]"),
        "{}",
        stderr(&out)
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || name == "Cargo.lock" {
            continue;
        }
        let dst = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_dir(&entry.path(), &dst);
        } else {
            std::fs::copy(entry.path(), dst).unwrap();
        }
    }
}

/// The order nextest ran the tier's tests in (one thread: the order they started).
fn run_order(s: &Scenario, tier: &str) -> Vec<String> {
    let run_id = s.summary()["run_id"].as_str().unwrap().to_string();
    let path = crate::support::cli::fixture_target()
        .join("orbtest/runs")
        .join(run_id)
        .join(format!("tiers/{tier}/nextest.log"));
    let log = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    log.lines()
        .filter(|l| l.trim_start().starts_with("PASS ["))
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .collect()
}

#[test]
fn tests_that_were_slowest_last_time_start_first() {
    // Tiers named for this test process: the shared fixture's history has no entries for them.
    let id = std::process::id();
    let config = |slowest_first: bool| {
        format!(
            "[tiers.ordering_{slowest_first}_{id}]\nfilter = \"test(=tests::passes) | test(=tests::slow)\"\nthreads = 1\nslowest_first = {slowest_first}\n"
        )
    };
    let s = Scenario::new("basic", &config(true));
    let first = s.run(Vec::<String>::new());
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let tier = &format!("ordering_true_{id}");
    assert_eq!(
        run_order(&s, tier),
        ["tests::passes", "tests::slow"],
        "nextest's own order, no history yet"
    );
    let second = s.run(Vec::<String>::new());
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    assert_eq!(
        run_order(&s, tier),
        ["tests::slow", "tests::passes"],
        "the slow test now starts first"
    );

    let s = Scenario::new("basic", &config(false));
    s.run(Vec::<String>::new());
    s.run(Vec::<String>::new());
    assert_eq!(
        run_order(&s, &format!("ordering_false_{id}")),
        ["tests::passes", "tests::slow"],
        "ordering switched off"
    );
}
