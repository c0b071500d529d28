//! The conventions a nextest user brings: nextest's everyday flags without `--`, applied to each
//! tier; a member's directory runs that package; `list --tier` and `--message-format json`;
//! run flags before a subcommand are an error; counts and names as nextest has them; the rerun
//! command keeps what the run was given.

use crate::support::cli::{Scenario, code, counts, stderr};
use crate::support::project::{Project, cargo_new, workspace};

const TIERS: &str = r#"
[tiers.fast]
filter = "kind(lib)"

[tiers.integration]
filter = "binary(integration_api)"
needs = ["fast"]
"#;

fn summary_names(s: &Scenario, tier: &str) -> Vec<String> {
    let t = s.tier(tier);
    let mut names: Vec<String> = t["failed_tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn a_filterset_and_test_names_without_double_dash_narrow_every_tier() {
    let s = Scenario::new("basic", TIERS);
    // `-E` narrows both tiers; what it leaves empty is "nothing selected" and passes.
    let out = s.run(["-E", "test(=tests::passes) | test(=adds)"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(counts(&s.tier("fast")).0, 1);
    assert_eq!(counts(&s.tier("integration")).0, 1);
    // A positional test-name filter, and -j, go to each tier's nextest.
    let out = s.run(["-j", "1", "slow"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(counts(&s.tier("fast")), (1, 0, 0, 0, 0), "only tests::slow");
    assert_eq!(s.tier("integration")["nothing_selected"], true);
    assert_eq!(s.tier("integration")["outcome"], "passed");
    let log = std::fs::read_to_string(
        crate::support::cli::fixture_target()
            .join("orbtest/runs")
            .join(s.summary()["run_id"].as_str().unwrap())
            .join("tiers/fast/nextest.log"),
    )
    .unwrap();
    assert!(log.contains("Starting 1 test"), "{log}");
}

#[test]
fn ignored_tests_count_as_skipped_and_run_ignored_runs_them() {
    let s = Scenario::new("basic", TIERS);
    let out = s.run(["-E", "test(/passes|ignored/)"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // As nextest counts it: the #[ignore]d test is selected, and skipped.
    assert_eq!(counts(&s.tier("fast")), (1, 0, 0, 0, 1));
    assert!(stderr(&out).contains("1 skipped"), "{}", stderr(&out));
    let out = s.run(["-E", "test(/passes|ignored/)", "--run-ignored", "all"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(counts(&s.tier("fast")), (2, 0, 0, 0, 0));
    let out = s.run(["-E", "test(/passes|ignored/)", "--run-ignored", "only"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(counts(&s.tier("fast")), (1, 0, 0, 0, 1), "now the other one is skipped");
}

#[test]
fn no_fail_fast_means_within_a_tier_and_across_tiers() {
    let config = r#"
[tiers.fast]
filter = "kind(lib) & test(/fails_on_request|passes/)"
fail_fast = true
threads = 1

[tiers.integration]
filter = "binary(integration_api)"
"#;
    let s = Scenario::new("basic", config);
    let mut cmd = s.command(["--report-dir".as_ref(), s.reports().as_os_str()]);
    let out = cmd.env("FIXTURE_FAIL", "1").output().unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(s.tier("integration")["outcome"], "skipped");
    let mut cmd = s.command([
        "--report-dir".as_ref(),
        s.reports().as_os_str(),
        "--no-fail-fast".as_ref(),
    ]);
    let out = cmd.env("FIXTURE_FAIL", "1").output().unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    // Across tiers: integration ran; within the tier: every test ran despite fail_fast.
    assert_eq!(s.tier("integration")["outcome"], "passed");
    let (passed, failed, ..) = counts(&s.tier("fast"));
    assert_eq!((passed, failed), (1, 1), "{}", s.tier("fast"));
    assert_eq!(s.tier("fast")["tests"]["not_run"], 0);
}

#[test]
fn names_show_the_binary_and_the_rerun_keeps_the_runs_arguments() {
    let config = "[tiers.fast]\nfilter = \"kind(lib) & test(/ignored|passes/)\"\n";
    let s = Scenario::new("basic", config);
    // An #[ignore]d test that fails, run with --run-ignored all: its rerun must run it again.
    let out = s.run([
        "--run-ignored",
        "all",
        "-E",
        "test(=tests::ignored) | test(=tests::passes)",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let summary = s.summary();
    let line = summary["invocation"]["command_line"].as_str().unwrap();
    assert!(line.starts_with("cargo orbtest "), "{line}");
    assert!(
        line.contains("--run-ignored all -E 'test(=tests::ignored) | test(=tests::passes)'"),
        "{line}"
    );
    assert_eq!(summary["invocation"]["rerun_args"][0], "--config");

    let s = Scenario::new(
        "basic",
        "[tiers.fast]\nfilter = \"kind(lib) & test(/fails_on_request/)\"\n",
    );
    let mut cmd = s.command([
        "--report-dir".as_ref(),
        s.reports().as_os_str(),
        "--run-ignored".as_ref(),
        "all".as_ref(),
    ]);
    let out = cmd.env("FIXTURE_FAIL", "1").output().unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    // nextest's form on the terminal: binary, a space, the test.
    assert!(err.contains("fixture-basic tests::fails_on_request"), "{err}");
    // summary.json keeps `binary-id::test` and adds the parts.
    assert_eq!(summary_names(&s, "fast"), ["fixture-basic::tests::fails_on_request"]);
    let failure = &s.tier("fast")["failures"][0];
    assert_eq!(failure["binary_id"], "fixture-basic");
    assert_eq!(failure["test"], "tests::fails_on_request");
    let rerun = failure["rerun"].as_str().unwrap();
    assert!(rerun.ends_with("--run-ignored all"), "{rerun}");
    assert!(err.contains(rerun), "the terminal shows the same rerun: {err}");
    // The rerun, as printed, runs exactly that test (not 0) and fails the same way.
    let words = shell_words(rerun);
    assert_eq!(&words[..2], ["cargo", "orbtest"]);
    // It carries the run's --config and --manifest-path itself.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cargo-orbtest"));
    crate::support::cli::scrub(&mut cmd);
    let again = cmd
        .arg("orbtest")
        .args(&words[2..])
        .env("CARGO_TARGET_DIR", crate::support::cli::fixture_target())
        .env("NO_COLOR", "1")
        .env("FIXTURE_FAIL", "1")
        .arg("--report-dir")
        .arg(s.path().join("rerun"))
        .output()
        .unwrap();
    assert_eq!(code(&again), 1, "{}", stderr(&again));
    let text = std::fs::read_to_string(s.path().join("rerun/summary.json")).unwrap();
    let rerun_summary: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(rerun_summary["tiers"][0]["tests"]["failed"], 1);
    assert_eq!(rerun_summary["tiers"][0]["tests"]["passed"], 0);
}

/// Splits a command line the way a POSIX shell does for single quotes and plain words.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            ' ' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[test]
fn run_flags_before_a_subcommand_are_refused_and_double_dash_words_are_filters() {
    let s = Scenario::new("basic", TIERS);
    let out = s.run(["--tier", "fast", "list"]);
    assert_eq!(code(&out), 64, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--tier") && err.contains("run options, given before the `list` subcommand"),
        "{err}"
    );
    assert!(!s.reports().join("summary.json").exists(), "nothing ran");
    let out = s.run(["slow", "clean"]);
    assert_eq!(code(&out), 64, "{}", stderr(&out));
    assert!(stderr(&out).contains("`clean` is a subcommand"), "{}", stderr(&out));
    // After `--`, `clean` is a test-name filter: nothing matches, every tier is empty: exit 4.
    let out = s.run(["--", "clean"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert_eq!(s.tier("fast")["nothing_selected"], true);
}

#[test]
fn list_shows_one_tier_and_speaks_json() {
    let s = Scenario::new("basic", TIERS);
    let out = s.command(["list", "--tier", "integration"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("tier integration\n"), "{text}");
    assert!(!text.contains("tier fast"), "{text}");
    assert!(text.contains("    fixture-basic::integration_api adds\n"), "{text}");
    assert!(!text.contains("selected by no tier"), "only for every tier: {text}");

    let out = s.command(["list", "--message-format", "json"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("list JSON");
    assert_eq!(json["tiers"][0]["name"], "fast");
    assert_eq!(json["tiers"][0]["kind"], "nextest");
    assert_eq!(json["tiers"][0]["filter"], "kind(lib)");
    let fast: Vec<&str> = json["tiers"][0]["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(fast.contains(&"tests::passes"), "{json}");
    assert!(!fast.contains(&"tests::ignored"), "not run by default: {json}");
    assert_eq!(
        json["tiers"][1]["tests"][0]["binary_id"],
        "fixture-basic::integration_api"
    );
    assert_eq!(json["unselected"][0]["id"], "fixture-basic::e2e_flow::end_to_end");

    let out = s.command(["list", "--tier", "nope"]).output().unwrap();
    assert_eq!(code(&out), 64);
    assert!(stderr(&out).contains("unknown tier `nope`"), "{}", stderr(&out));
}

#[test]
fn a_member_directory_runs_that_package_unless_workspace() {
    let p = Project::new();
    cargo_new(p.path(), "calc", "--lib");
    cargo_new(p.path(), "tool", "--lib");
    workspace(&p, &["calc", "tool"]);
    p.write("calc/tests/api.rs", "#[test] fn adds() {}\n");
    p.write(
        "orchestrator.toml",
        "[tiers.fast]\nfilter = \"!kind(test)\"\n[tiers.integration]\nfilter = \"kind(test)\"\n",
    );
    let tool = p.path().join("tool");
    let reports = p.path().join("reports");
    let report_dir = reports.to_str().unwrap();
    let out = p.orbtest_in(&tool, &["--report-dir", report_dir]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("testing package `tool`"), "{}", stderr(&out));
    let summary = p.summary(&reports);
    assert_eq!(summary["tiers"][0]["tests"]["passed"], 1, "tool's one unit test");
    // The narrowing left integration (calc's tests/) empty: nothing selected, not a failure.
    assert_eq!(summary["tiers"][1]["nothing_selected"], true);
    assert_eq!(summary["tiers"][1]["outcome"], "passed");

    let out = p
        .orbtest_in(&tool, &["--report-dir", report_dir, "--workspace"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let summary = p.summary(&reports);
    assert_eq!(summary["tiers"][0]["tests"]["passed"], 2, "both packages' unit tests");
    assert_eq!(summary["tiers"][1]["tests"]["passed"], 1);
    // At the root: every default member, as cargo does.
    let out = p.orbtest(&["--report-dir", report_dir]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stderr(&out).contains("testing package"), "{}", stderr(&out));
    assert_eq!(p.summary(&reports)["tiers"][0]["tests"]["passed"], 2);
}
