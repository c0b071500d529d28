//! Never call a run passed that did not pass: failures come from the final attempt and every
//! attempt is kept, a tier that selects nothing fails, a skipped tier's tests are not dropped
//! from the totals, forwarded nextest flags do not collide with orbtest's own.

use serde_json::Value;

use crate::support::cli::{Scenario, code, stderr};

fn attempts(entry: &Value) -> Vec<(u64, String, String)> {
    entry["attempts"]
        .as_array()
        .unwrap_or_else(|| panic!("no attempts in {entry}"))
        .iter()
        .map(|a| {
            (
                a["n"].as_u64().unwrap(),
                a["status"].as_str().unwrap().to_string(),
                a["output_tail"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn entry<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"].as_str().is_some_and(|n| n.ends_with(name)))
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

/// nextest writes a failed test's *first* attempt as its `<failure>` and the retries after it;
/// the report used to show the first attempt's output as the failure.
#[test]
fn failures_come_from_the_final_attempt_and_every_attempt_is_kept() {
    let s = Scenario::new(
        "basic",
        "[tiers.unit]\n\
         filter = \"test(=tests::fails_each_attempt_on_request) | test(=tests::hangs_on_request) | test(=tests::flaky_unlisted)\"\n\
         timeout = \"1s\"\n\
         grace_period = \"100ms\"\n\
         retries = 2\n",
    );
    let mut cmd = s.command(["--report-dir".as_ref(), s.reports().as_os_str()]);
    let out = cmd
        .env("FIXTURE_FAIL_EACH", "1")
        .env("FIXTURE_HANG", "1")
        .output()
        .expect("run");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let tier = s.tier("unit");

    let failed = entry(&tier["failures"], "tests::fails_each_attempt_on_request");
    let tail = failed["output_tail"].as_str().unwrap();
    assert!(
        tail.contains("failed on attempt 3") && !tail.contains("attempt 1"),
        "the final attempt's output: {tail}"
    );
    let a = attempts(failed);
    assert_eq!(
        a.iter().map(|(n, s, _)| (*n, s.as_str())).collect::<Vec<_>>(),
        [(1, "failed"), (2, "failed"), (3, "failed")]
    );
    for (n, _, output) in &a {
        assert!(
            output.contains(&format!("failed on attempt {n}")),
            "attempt {n} keeps its own output: {output}"
        );
    }
    assert!(
        failed["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["blame"] == "test" && a["duration_ms"].as_u64().is_some())
    );

    let hung = entry(&tier["failures"], "tests::hangs_on_request");
    assert_eq!(hung["status"], "timed-out");
    assert_eq!(hung["message"], "timed out after 1s");
    let hung_attempts = hung["attempts"].as_array().unwrap();
    assert_eq!(hung_attempts.len(), 3);
    assert!(
        hung_attempts
            .iter()
            .all(|a| a["status"] == "timed-out" && a["message"] == "timed out after 1s"),
        "{hung}"
    );

    let flaky = entry(&tier["flaky"], "tests::flaky_unlisted");
    assert_eq!(
        attempts(flaky)
            .iter()
            .map(|(n, s, _)| (*n, s.clone()))
            .collect::<Vec<_>>(),
        [(1, "failed".to_string()), (2, "passed".to_string())]
    );
    assert!(attempts(flaky)[0].2.contains("failing on the first attempt"));

    // The terminal shows the final attempt too.
    let err = stderr(&out);
    assert!(err.contains("failed on attempt 3"), "{err}");
}

/// A command tier's attempts are its command's retries: each one's JUnit adds an attempt.
#[test]
fn a_command_tiers_retries_are_its_tests_attempts() {
    let config = r#"
[tiers.cmd]
command = ["sh", "-c", 'if [ "$ORBTEST_ATTEMPT" -lt 3 ]; then echo "$FAILING" | sed "s/NUMBER/$ORBTEST_ATTEMPT/g" > "$J"; exit 1; else echo "$PASSING" > "$J"; fi']
retries = 2
env = { J = "{junit}", FAILING = '<testsuite name="s"><testcase classname="s" name="t" time="0.5"><failure message="boom NUMBER">trace of NUMBER</failure></testcase><testcase classname="s" name="ok"/></testsuite>', PASSING = '<testsuite name="s"><testcase classname="s" name="t" time="0.5"/><testcase classname="s" name="ok"/></testsuite>' }
"#;
    let s = Scenario::new("basic", config);
    let out = s.run(Vec::<String>::new());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let tier = s.tier("cmd");
    let flaky = entry(&tier["flaky"], "s::t");
    let a = flaky["attempts"].as_array().unwrap();
    let seen: Vec<(u64, &str, &str)> = a
        .iter()
        .map(|a| {
            (
                a["n"].as_u64().unwrap(),
                a["status"].as_str().unwrap(),
                a["message"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [(1, "failed", "boom 1"), (2, "failed", "boom 2"), (3, "passed", "")]
    );
    assert!(a[1]["output_tail"].as_str().unwrap().contains("trace of 2"));
}

#[test]
fn a_tier_whose_filter_selects_nothing_fails_with_exit_4() {
    let config = "[tiers.unit]\nfilter = \"test(=tests::passes)\"\n\n[tiers.empty]\nfilter = \"test(=no_such_test)\"\n";
    let s = Scenario::new("basic", config);
    let out = s.run(Vec::<String>::new());
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let empty = s.tier("empty");
    assert_eq!(empty["outcome"], "failed");
    assert_eq!(empty["nothing_selected"], true);
    assert!(empty["reason"].as_str().unwrap().contains("selects no test"), "{empty}");
    assert_eq!(s.summary()["exit_code"], 4);
    assert_eq!(s.summary()["outcome"], "failed");

    // A real failure as well: exit 1, the stronger verdict.
    let config_fail = "[tiers.unit]\nfilter = \"test(=tests::fails_on_request)\"\n\n[tiers.empty]\nfilter = \"test(=no_such_test)\"\n";
    std::fs::write(s.path().join("orchestrator.toml"), config_fail).unwrap();
    let mut cmd = s.command(["--report-dir".as_ref(), s.reports().as_os_str()]);
    let failed = cmd.env("FIXTURE_FAIL", "1").arg("--no-fail-fast").output().unwrap();
    assert_eq!(code(&failed), 1, "{}", stderr(&failed));
}

#[test]
fn no_tests_warn_and_pass_let_an_empty_tier_pass_and_a_forwarded_no_tests_wins() {
    for (setting, forwarded, expected) in [
        ("warn", None, 0),
        ("pass", None, 0),
        ("fail", Some("pass"), 0),
        ("pass", Some("fail"), 4),
    ] {
        let s = Scenario::new(
            "basic",
            &format!(
                "[tiers.unit]\nfilter = \"test(=tests::passes)\"\n\n[tiers.empty]\nfilter = \"test(=no_such_test)\"\nno_tests = \"{setting}\"\n"
            ),
        );
        let mut args: Vec<String> = Vec::new();
        if let Some(f) = forwarded {
            args.extend(["--".into(), "--no-tests".into(), f.into()]);
        }
        let out = s.run(args);
        assert_eq!(
            code(&out),
            expected,
            "no_tests = {setting}, forwarded {forwarded:?}: {}",
            stderr(&out)
        );
        assert_eq!(s.tier("empty")["nothing_selected"], true);
    }
}

#[test]
fn forwarded_profile_and_no_tests_do_not_collide_with_orbtests_flags() {
    let s = Scenario::new("basic", "[tiers.unit]\nfilter = \"test(=tests::passes)\"\n");
    // nextest's own default profile: the tier's profile inherits from it.
    let out = s.run(["--", "--profile", "default", "--no-tests", "warn"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s.tier("unit")["tests"]["passed"], 1);
    let bad = s.run(["--", "--no-tests", "sometimes"]);
    assert_eq!(code(&bad), 64, "{}", stderr(&bad));
    assert!(stderr(&bad).contains("fail"), "{}", stderr(&bad));
}

#[test]
fn tiers_a_narrowed_run_leaves_empty_are_nothing_selected_unless_all_are() {
    let config = "[tiers.unit]\nfilter = \"test(=tests::passes)\"\n\n[tiers.other]\nfilter = \"test(=tests::slow)\"\n";
    let s = Scenario::new("basic", config);
    let out = s.run(["--", "-E", "test(=tests::passes)"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let other = s.tier("other");
    assert_eq!(other["outcome"], "passed");
    assert_eq!(other["nothing_selected"], true);
    assert!(other["reason"].as_str().unwrap().contains("nothing selected"));

    let out = s.run(["--", "-E", "test(=no_such_test)"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
}

#[test]
fn a_skipped_tiers_tests_count_as_not_run() {
    let config = "[tiers.unit]\nfilter = \"test(=tests::fails_on_request)\"\n\n\
                  [tiers.later]\nfilter = \"test(=tests::passes) | test(=tests::slow)\"\nneeds = [\"unit\"]\n";
    let s = Scenario::new("basic", config);
    let mut cmd = s.command(["--report-dir".as_ref(), s.reports().as_os_str()]);
    let out = cmd.env("FIXTURE_FAIL", "1").output().expect("run");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let later = s.tier("later");
    assert_eq!(later["outcome"], "skipped");
    assert_eq!(later["tests"]["not_run"], 2, "{later}");
    assert_eq!(later["tests"]["skipped"], 0, "not run is not skipped by design");
    let err = stderr(&out);
    assert!(err.contains("2 not run"), "{err}");
}

/// A command tier's JUnit that exists but cannot be read may hide failures: the tier fails
/// and says why, whatever the command's exit code.
#[test]
fn an_unreadable_junit_fails_the_command_tier_with_the_reason() {
    for (what, body) in [
        (
            "truncated",
            "<testsuite name=\"s\"><testcase classname=\"s\" name=\"t\"><failure",
        ),
        ("not XML", "PASSED 12 tests"),
        (
            "namespaced",
            "<j:testsuite xmlns:j=\"urn:x\"><j:testcase classname=\"s\" name=\"t\"/></j:testsuite>",
        ),
    ] {
        let config = format!(
            "[tiers.cmd]\ncommand = [\"sh\", \"-c\", 'printf \"%s\" \"$BODY\" > \"$ORBTEST_JUNIT\"']\nenv = {{ BODY = {body:?} }}\n"
        );
        let s = Scenario::new("basic", &config);
        let out = s.run(Vec::<String>::new());
        assert_eq!(code(&out), 1, "{what}: {}", stderr(&out));
        let tier = s.tier("cmd");
        assert_eq!(tier["outcome"], "failed", "{what}: {tier}");
        let reason = tier["reason"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no reason in {tier}"));
        assert!(reason.contains("JUnit report could not be read"), "{what}: {reason}");
    }
}

/// A test named with a newline, a carriage return and a right-to-left override (a command
/// tier's JUnit can name tests anything) cannot forge a line of the summary or reverse what
/// the terminal shows: those characters are shown as escapes.
#[test]
fn test_names_are_escaped_on_the_terminal() {
    let junit = r#"<testsuite name="s"><testcase classname="s" name="evil&#10; PASSED: 99 passed of 99 tests&#13;&#x202E;gnp.exe"><failure message="no">out&#x2066;put</failure></testcase></testsuite>"#;
    let config = format!(
        "[tiers.cmd]\ncommand = [\"sh\", \"-c\", 'printf \"%s\" \"$BODY\" > \"$ORBTEST_JUNIT\"; exit 1']\nenv = {{ BODY = {junit:?} }}\n"
    );
    let s = Scenario::new("basic", &config);
    let out = s.run(Vec::<String>::new());
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "{err}");
    assert!(
        !err.lines().any(|l| l.trim_start().starts_with("PASSED:")),
        "a forged verdict line: {err}"
    );
    assert!(
        !err.contains('\u{202e}') && !err.contains('\r') && !err.contains('\u{2066}'),
        "{err:?}"
    );
    assert!(
        err.contains("s evil\\n PASSED: 99 passed of 99 tests\\r\\u{202e}gnp.exe"),
        "{err}"
    );
    // summary.json keeps the name as it is (JSON escapes it).
    assert!(
        s.summary()["tiers"][0]["failed_tests"][0]
            .as_str()
            .unwrap()
            .contains('\u{202e}')
    );
}
