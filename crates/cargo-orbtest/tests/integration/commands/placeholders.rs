//! `{tier}`, `{threads}`, `{run_dir}` and `{junit}` in a command and its environment, `{{`
//! for a literal brace, `workdir` relative to the config file, and the JUnit the command
//! writes at `{junit}` read as the tier's results.

use crate::support::pysuite::{Scenario, code, counts, stderr};

#[test]
fn placeholders_are_filled_in_where_the_command_reads_them() {
    // The script records its arguments, environment and directory, and writes a JUnit report.
    let config = r#"
[tiers.shell]
command = [
    "sh", "-c",
    'printf "%s\n" "$1" "$2" "$3" "$4" "$PLACES" "$ORBTEST_TIER/$ORBTEST_ATTEMPT" "$(pwd)" > ../places.txt; echo "<testsuite name=\"s\"><testcase classname=\"c\" name=\"t\"/></testsuite>" > "$4"',
    "sh", "{tier}", "{threads}", "{run_dir}", "{junit}",
]
threads = 3
workdir = "tests"
env = { PLACES = "{tier}@{threads} {{literal}}" }
"#;
    let s = Scenario::new(config, None, None);
    let out = s.run(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let root = std::fs::canonicalize(s.path()).unwrap();
    let run_id = s.summary()["run_id"].as_str().unwrap().to_string();
    let run_dir = root.join(".orbtest/runs").join(&run_id);
    let text = std::fs::read_to_string(s.path().join("places.txt")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "shell".to_string(),
            "3".to_string(),
            run_dir.display().to_string(),
            run_dir.join("tiers/shell/attempt-1.xml").display().to_string(),
            "shell@3 {literal}".to_string(),
            "shell/1".to_string(),
            root.join("tests").display().to_string(),
        ]
    );
    // The report at {junit} is the tier's results (no pseudo-test).
    let tier = s.tier("shell");
    assert_eq!(counts(&tier), (1, 0, 0, 0, 0), "{tier}");
    let junit = std::fs::read_to_string(s.path().join(".orbtest/latest/junit.xml")).unwrap();
    assert!(junit.contains("name=\"shell/c\""), "{junit}");
}

#[test]
fn a_missing_report_at_junit_is_said_and_the_exit_code_decides() {
    let s = Scenario::new(
        "[tiers.quiet]\ncommand = [\"sh\", \"-c\", \"true\", \"{junit}\"]\n",
        None,
        None,
    );
    let out = s.run(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("wrote no JUnit report at"), "{}", stderr(&out));
    assert_eq!(s.tier("quiet")["outcome"], "passed");
}
