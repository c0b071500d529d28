//! Real runs of the fixture with mixed outcomes: what summary.json, junit.xml, timeline.jsonl
//! and report.html hold, and `cargo orbtest report` showing a past run.

use std::path::{Path, PathBuf};

use crate::support::cli::{Scenario, code, stderr};

/// A pass, a failure, a flaky pass (retried), a timeout; then a tier skipped because of it.
pub(super) const MIXED: &str = r#"
[tiers.unit]
filter = "test(=tests::passes) | test(=tests::fails_on_request) | test(=tests::flaky_listed) | test(=tests::hangs_on_request)"
flaky = ["test(=tests::flaky_listed)"]
flaky_retries = 1
timeout = "1s"
grace_period = "100ms"

[tiers.integration]
filter = "binary(integration_api)"
needs = ["unit"]

[monitor]
sample_every = "100ms"
"#;

pub(super) fn mixed_run() -> (Scenario, std::process::Output) {
    let s = Scenario::new("basic", MIXED);
    let mut cmd = s.command(["--report-dir".as_ref(), s.reports().as_os_str()]);
    let out = cmd
        .env("FIXTURE_FAIL", "1")
        .env("FIXTURE_HANG", "1")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    (s, out)
}

/// The run's own directory under the fixture target.
pub(super) fn run_dir(s: &Scenario) -> PathBuf {
    let id = s.summary()["run_id"].as_str().unwrap().to_string();
    crate::support::cli::fixture_target().join("orbtest/runs").join(id)
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn summary_junit_timeline_and_html_of_mixed_outcomes() {
    let (s, out) = mixed_run();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let summary = s.summary();
    assert_eq!(summary["outcome"], "failed");
    assert_eq!(summary["exit_code"], 1);
    assert_eq!(summary["gate"]["evaluated"], false, "no --gate, no enforce");

    let unit = s.tier("unit");
    assert_eq!(unit["outcome"], "failed");
    assert!(unit["started_at"].as_str().is_some());
    let t = &unit["tests"];
    assert_eq!(
        (&t["passed"], &t["failed"], &t["flaky"], &t["timed_out"]),
        (&2.into(), &1.into(), &1.into(), &1.into()),
        "{unit}"
    );
    assert_eq!(
        strings(&unit["failed_tests"]),
        [
            "fixture-basic::tests::fails_on_request",
            "fixture-basic::tests::hangs_on_request"
        ]
    );
    assert_eq!(strings(&unit["flaky_tests"]), ["fixture-basic::tests::flaky_listed"]);
    let failures = unit["failures"].as_array().unwrap();
    assert_eq!(failures[0]["status"], "failed");
    assert!(
        failures[0]["output_tail"]
            .as_str()
            .unwrap()
            .contains("FIXTURE_FAIL is set")
    );
    assert_eq!(failures[1]["status"], "timed-out");
    let integration = s.tier("integration");
    assert_eq!(integration["outcome"], "skipped");
    assert!(
        integration["reason"]
            .as_str()
            .unwrap()
            .starts_with("tier `unit` failed"),
        "{integration}"
    );

    // Resource peaks come from the timeline: a real percentage, and the maximum of its lines.
    let timeline = std::fs::read_to_string(s.reports().join("timeline.jsonl")).unwrap();
    let samples: Vec<serde_json::Value> = timeline.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(samples.len() >= 3, "sampled every 100ms over a >1s run: {timeline}");
    let peak = samples
        .iter()
        .map(|s| s["memory_percent"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert_eq!(summary["resources"]["peak_memory_percent"].as_f64(), Some(peak));
    assert!(peak > 0.0 && peak <= 100.0);
    assert!(summary["resources"]["peak_swap_percent"].as_f64().is_some());
    for key in [
        "t_ms",
        "swap_percent",
        "cpu_percent",
        "running_tests",
        "machines",
        "creates_in_flight",
        "tier",
    ] {
        assert!(
            samples[0].get(key).is_some(),
            "timeline lines have {key}: {}",
            samples[0]
        );
    }
    assert!(
        samples
            .iter()
            .any(|s| s["tier"] == "unit" && s["running_tests"].as_u64() >= Some(1)),
        "the hanging test shows as running in the unit tier: {timeline}"
    );

    let junit = std::fs::read_to_string(s.reports().join("junit.xml")).unwrap();
    assert!(junit.contains(r#"<testsuite name="unit/fixture-basic""#), "{junit}");
    assert!(junit.contains(r#"type="test timeout""#), "{junit}");
    assert!(junit.contains("<flakyFailure"), "{junit}");
    assert!(junit.contains("FIXTURE_FAIL is set"), "{junit}");

    let html = std::fs::read_to_string(s.reports().join("report.html")).unwrap();
    assert!(html.contains("fixture-basic tests::fails_on_request"));
    assert!(html.contains("<svg class=\"timeline\""));
    let external = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(
        !external.contains("http://") && !external.contains("https://"),
        "report.html refers to nothing outside itself"
    );
}

#[test]
fn report_shows_a_past_run_by_id_or_directory_and_opens_it() {
    let (s, out) = mixed_run();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let id = s.summary()["run_id"].as_str().unwrap().to_string();
    let run_summary = stderr(&out);

    // By id (the run's own directory), from the fixture workspace.
    let shown = s.command(["report", &id]).output().unwrap();
    assert_eq!(code(&shown), 0, "{}", stderr(&shown));
    let text = stderr(&shown);
    let table = |t: &str| {
        t.lines()
            .filter(|l| l.starts_with(" unit ") || l.starts_with(" integration "))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        table(&text),
        table(&run_summary),
        "the same tier table as when it ran:\n{text}"
    );
    assert!(
        text.contains("FIXTURE_FAIL is set"),
        "failure output is shown again: {text}"
    );
    assert!(
        text.contains(&run_dir(&s).join("report.html").display().to_string()),
        "{text}"
    );

    // By report directory, with --open through a stand-in opener on PATH.
    let bin = tempfile::tempdir().unwrap();
    let opened = bin.path().join("opened");
    let opener = bin.path().join("xdg-open");
    std::fs::write(&opener, format!("#!/bin/sh\necho \"$1\" > '{}'\n", opened.display())).unwrap();
    set_executable(&opener);
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap());
    let shown = s
        .command(["report".as_ref(), "--open".as_ref(), s.reports().as_os_str()])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert_eq!(code(&shown), 0, "{}", stderr(&shown));
    let target = std::fs::read_to_string(&opened).expect("the opener was run");
    assert_eq!(Path::new(target.trim()), s.reports().join("report.html"));

    // An opener that fails: the command still succeeds and says where the file is.
    std::fs::write(&opener, "#!/bin/sh\nexit 3\n").unwrap();
    let shown = s
        .command(["report".as_ref(), "--open".as_ref(), s.reports().as_os_str()])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert_eq!(code(&shown), 0, "{}", stderr(&shown));
    let text = stderr(&shown);
    assert!(text.contains("could not open a browser"), "{text}");
    assert!(text.contains("report.html"), "{text}");

    let missing = s.command(["report", "no-such-run"]).output().unwrap();
    assert_eq!(code(&missing), 64, "{}", stderr(&missing));
    assert!(
        stderr(&missing).contains("no run `no-such-run`"),
        "{}",
        stderr(&missing)
    );
}

fn set_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut perms = std::fs::metadata(path).unwrap().permissions();
    perms.set_mode(0o755);
    std::fs::set_permissions(path, perms).unwrap();
}
