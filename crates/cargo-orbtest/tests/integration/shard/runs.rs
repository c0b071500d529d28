//! `cargo orbtest --shard K/N --plan FILE`: each shard runs exactly the tests its plan gives
//! it (nextest and pytest tiers), tests the plan does not know go where their hash says, and
//! N merged shards are one unsharded run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::report::merge::CONFIG;
use crate::support::cli::{Scenario, code, counts, stderr};

/// Every test passes (the once-failing ones on a retry).
const GREEN: &str = r#"
[tiers.unit]
filter = "kind(lib) & !test(=tests::waits_on_request) & !test(=tests::hangs_on_request) & !test(=tests::stubborn_on_request)"
retries = 1
[tiers.integration]
filter = "kind(test)"
"#;

/// `tier/binary::name` of every test case in a report directory's junit.xml.
fn junit_tests(dir: &Path) -> BTreeSet<String> {
    let xml = std::fs::read_to_string(dir.join("junit.xml")).expect("junit.xml");
    let report = quick_junit::Report::deserialize_from_str(&xml).expect("JUnit");
    let mut out = BTreeSet::new();
    for suite in &report.test_suites {
        let (tier, binary) = suite.name.as_str().split_once('/').expect("tier/binary");
        for case in &suite.test_cases {
            out.insert(format!("{tier}/{binary}::{}", case.name.as_str()));
        }
    }
    out
}

/// The tests a plan gives shard `k`, as `tier/binary::name`.
fn planned(plan: &serde_json::Value, k: usize) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for tier in plan["shards"][k - 1]["tiers"].as_array().expect("tiers") {
        let name = tier["name"].as_str().expect("name");
        for (group, names) in tier["tests"].as_object().expect("tests") {
            for n in names.as_array().expect("names") {
                out.insert(format!("{name}/{group}::{}", n.as_str().expect("name")));
            }
        }
    }
    out
}

fn run(s: &Scenario, args: &[&str]) -> std::process::Output {
    let mut cmd = s.command(["--report-dir".as_ref(), s.reports().as_os_str()]);
    cmd.args(args).env_remove("GITHUB_ACTIONS").output().expect("run")
}

fn plan(s: &Scenario, shards: u32, history: &Path) -> serde_json::Value {
    let out = s
        .command(["shard", "plan", "--shards", &shards.to_string(), "--out"])
        .arg(s.path().join("plan.json"))
        .arg("--history")
        .arg(history)
        .output()
        .expect("shard plan");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    serde_json::from_str(&std::fs::read_to_string(s.path().join("plan.json")).unwrap()).unwrap()
}

#[test]
fn each_shard_runs_exactly_its_planned_tests_in_nextest_tiers() {
    let whole = Scenario::new("basic", GREEN);
    let out = run(&whole, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let all = junit_tests(&whole.reports());
    let plan = plan(&whole, 3, &whole.reports());
    assert_eq!(plan["history"]["tests_median"], 0, "every test has history: {plan}");

    let mut seen = BTreeSet::new();
    for k in 1..=3 {
        let s = Scenario::new("basic", GREEN);
        let spec = format!("{k}/3");
        let plan_path = whole.path().join("plan.json");
        let out = run(&s, &["--shard", &spec, "--plan", plan_path.to_str().unwrap()]);
        assert_eq!(code(&out), 0, "shard {spec}: {}", stderr(&out));
        let ran = junit_tests(&s.reports());
        assert_eq!(ran, planned(&plan, k), "shard {spec} ran what its plan says");
        assert!(
            seen.is_disjoint(&ran),
            "a test ran in two shards: {:?}",
            seen.intersection(&ran)
        );
        seen.extend(ran);
        let summary = s.summary();
        assert_eq!(summary["shard"]["spec"], spec.as_str());
        assert_eq!(summary["shard"]["plan_id"], plan["plan_id"]);
        assert!(summary["shard"]["newer_than_plan"].is_null(), "{summary}");
    }
    assert_eq!(seen, all, "the shards together ran every test once");
}

#[test]
fn merged_shards_equal_one_unsharded_run() {
    // History for the plan, from its own run.
    let history = Scenario::new("basic", CONFIG);
    let out = run(&history, &["--no-fail-fast"]);
    assert!(matches!(code(&out), 0 | 1), "history run: {}", stderr(&out));
    plan(&history, 2, &history.reports());
    let plan_path = history.path().join("plan.json");
    // The unsharded run: fails_on_request fails, flaky_listed fails once then passes on its
    // retry, flaky_unlisted fails (no retry).
    let whole = Scenario::new("basic", CONFIG);
    let whole_out = whole
        .command([
            "--report-dir".as_ref(),
            whole.path().join("whole").as_os_str(),
            "--no-fail-fast".as_ref(),
        ])
        .env("FIXTURE_FAIL", "1")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    assert_eq!(code(&whole_out), 1, "{}", stderr(&whole_out));

    let shards: Vec<Scenario> = (1..=2)
        .map(|k| {
            let s = Scenario::new("basic", CONFIG);
            let out = s
                .command([
                    "--report-dir".as_ref(),
                    s.reports().as_os_str(),
                    "--no-fail-fast".as_ref(),
                ])
                .args(["--shard", &format!("{k}/2"), "--plan", plan_path.to_str().unwrap()])
                .env("FIXTURE_FAIL", "1")
                .env_remove("GITHUB_ACTIONS")
                .output()
                .unwrap();
            assert!(matches!(code(&out), 0 | 1), "{}", stderr(&out));
            s
        })
        .collect();
    let merged_dir = whole.path().join("merged");
    let mut cmd = whole.command(["report", "merge", "--no-history", "--out"]);
    cmd.arg(&merged_dir);
    for s in &shards {
        cmd.arg(s.reports());
    }
    let step_summary = whole.path().join("step-summary.md");
    let out = cmd
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &step_summary)
        .output()
        .unwrap();
    assert_eq!(code(&out), code(&whole_out), "same exit code: {}", stderr(&out));
    let markdown = std::fs::read_to_string(&step_summary).expect("a step summary in Actions");
    assert!(markdown.contains("| shard | predicted | actual | run |"), "{markdown}");
    assert!(
        stderr(&out).contains("predicted"),
        "predicted against actual: {}",
        stderr(&out)
    );

    let read = |p: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p.join("summary.json")).unwrap()).unwrap()
    };
    let (merged, expected) = (read(&merged_dir), read(&whole.path().join("whole")));
    assert_eq!(merged["outcome"], expected["outcome"]);
    let by_name = |s: &serde_json::Value| -> BTreeMap<String, serde_json::Value> {
        s["tiers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["name"].as_str().unwrap().to_string(), t.clone()))
            .collect()
    };
    let (m, e) = (by_name(&merged), by_name(&expected));
    assert_eq!(m.keys().collect::<Vec<_>>(), e.keys().collect::<Vec<_>>());
    for (name, t) in &e {
        assert_eq!(counts(&m[name]), counts(t), "tier {name}");
        assert_eq!(m[name]["outcome"], t["outcome"], "tier {name}");
        let set = |v: &serde_json::Value| -> BTreeSet<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(set(&m[name]["failed_tests"]), set(&t["failed_tests"]), "tier {name}");
        assert_eq!(set(&m[name]["flaky_tests"]), set(&t["flaky_tests"]), "tier {name}");
    }
    assert_eq!(junit_tests(&merged_dir), junit_tests(&whole.path().join("whole")));
    let shard_times = merged["shards"].as_array().expect("shards in the merged summary");
    assert_eq!(shard_times.len(), 2);
    for (i, s) in shard_times.iter().enumerate() {
        assert_eq!(s["shard"], format!("{}/2", i + 1).as_str());
        assert!(
            s["predicted_ms"].as_u64().is_some() && s["actual_ms"].as_u64().is_some(),
            "{s}"
        );
    }
    let page = std::fs::read_to_string(merged_dir.join("report.html")).unwrap();
    assert!(
        page.contains("<table class=\"shards\">"),
        "report.html shows predicted against actual"
    );
    // The merged history holds every shard's tests.
    let ledger = std::fs::read_to_string(merged_dir.join("ledger.jsonl")).expect("merged ledger");
    assert_eq!(
        ledger.lines().filter(|l| l.contains(r#""kind":"test""#)).count(),
        junit_tests(&merged_dir).len()
    );
}

#[test]
fn tests_the_plan_does_not_know_go_to_their_hash_shard_and_the_run_says_so() {
    let s = Scenario::new("basic", GREEN);
    // History that knows two unit tests only: every other test is newer than the plan.
    let history = s.path().join("history");
    std::fs::create_dir(&history).unwrap();
    let line = |name: &str| {
        format!(
            r#"{{"kind":"test","run_id":"r1","started_at":"2026-11-01T00:00:00Z","tier":"unit","binary_id":"fixture-basic","name":"{name}","status":"passed","duration_ms":500,"attempts":[{{"n":1,"status":"passed","duration_ms":500}}]}}"#
        )
    };
    std::fs::write(
        history.join("ledger.jsonl"),
        format!("{}\n{}\n", line("tests::passes"), line("tests::flaky_listed")),
    )
    .unwrap();
    let out = s
        .command(["shard", "plan", "--shards", "2", "--no-build", "--out"])
        .arg(s.path().join("plan.json"))
        .arg("--history")
        .arg(&history)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let mut newer_everywhere = BTreeSet::new();
    let mut ran_everywhere = BTreeSet::new();
    for k in 1..=2u32 {
        let shard = Scenario::new("basic", GREEN);
        let out = run(
            &shard,
            &[
                "--shard",
                &format!("{k}/2"),
                "--plan",
                s.path().join("plan.json").to_str().unwrap(),
            ],
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let newer: Vec<String> = shard.summary()["shard"]["newer_than_plan"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        for n in &newer {
            let (tier, id) = n.split_once(": ").expect("tier: id");
            assert_eq!(
                orbtest::shard::hash_shard(tier, id, 2),
                k,
                "{n} belongs to its hash's shard"
            );
        }
        if !newer.is_empty() {
            assert!(
                stderr(&out).contains("newer than the plan and run here because their hash says so"),
                "{}",
                stderr(&out)
            );
        }
        for t in junit_tests(&shard.reports()) {
            assert!(ran_everywhere.insert(t.clone()), "{t} ran twice");
        }
        newer_everywhere.extend(newer);
    }
    // Every test of the two tiers ran once; all but the 2 planned ones were newer.
    let whole = Scenario::new("basic", GREEN);
    let out = run(&whole, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let all = junit_tests(&whole.reports());
    assert_eq!(ran_everywhere, all);
    assert_eq!(newer_everywhere.len(), all.len() - 2, "{newer_everywhere:?}");
}

#[test]
fn shard_errors_are_usage_errors() {
    let s = Scenario::new("basic", CONFIG);
    for (args, says) in [
        (vec!["--shard", "0/3"], "numbered from 1"),
        (vec!["--shard", "4/3"], "does not exist"),
        (vec!["--plan", "plan.json"], "--shard"),
        (
            vec!["--shard", "1/2", "--", "--partition", "hash:1/2"],
            "use one of them",
        ),
    ] {
        let out = s.command(&args).output().unwrap();
        assert_eq!(code(&out), 64, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
    std::fs::write(s.path().join("plan.json"), "{\"schema\": 1}").unwrap();
    let out = s
        .command(["--shard", "1/2", "--plan"])
        .arg(s.path().join("plan.json"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 64, "{}", stderr(&out));
    assert!(stderr(&out).contains("is not a shard plan"), "{}", stderr(&out));
}

#[test]
fn each_shard_runs_exactly_its_planned_tests_in_a_pytest_tier() {
    use crate::support::pysuite;
    let Some(python) = pysuite::python_or_skip("each_shard_runs_exactly_its_planned_tests_in_a_pytest_tier") else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "pytest is required in CI");
        return;
    };
    let config = r#"
[tiers.py]
command = ["{python}", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml={junit}", "{tests}"]
list = ["{python}", "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests/test_basic.py"]
"#;
    let s = pysuite::Scenario::new(config, Some(&python), None);
    let out = s.run(&["shard", "plan", "--shards", "2", "--out", "plan.json"]);
    assert_eq!(pysuite::code(&out), 0, "{}", pysuite::stderr(&out));
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.path().join("plan.json")).unwrap()).unwrap();
    assert_eq!(plan["tiers"][0]["split"], true, "{plan}");
    let mut all = BTreeSet::new();
    for k in 1..=2usize {
        let report = s.path().join(format!("shard-{k}"));
        let out = s.run(&[
            "--shard",
            &format!("{k}/2"),
            "--plan",
            "plan.json",
            "--report-dir",
            report.to_str().unwrap(),
        ]);
        assert_eq!(pysuite::code(&out), 0, "{}", pysuite::stderr(&out));
        // pytest's JUnit names tests.test_basic::test_x; the plan holds node ids.
        let ran: BTreeSet<String> = junit_tests(&report)
            .into_iter()
            .map(|t| orbtest::shard::ids::match_key(t.trim_start_matches("py/")))
            .collect();
        let wanted: BTreeSet<String> = planned(&plan, k)
            .into_iter()
            .map(|t| orbtest::shard::ids::match_key(t.trim_start_matches("py/")))
            .collect();
        assert_eq!(ran, wanted, "shard {k}/2 ran exactly its planned tests");
        assert!(!ran.is_empty(), "each shard has tests");
        assert!(all.is_disjoint(&ran));
        all.extend(ran);
    }
    // Every collected test ran once: 5 in tests/test_basic.py (one is skipped by pytest).
    assert_eq!(all.len(), 5, "{all:?}");
}

#[test]
fn without_a_plan_shards_are_nextests_slices() {
    let mut seen = BTreeSet::new();
    for k in 1..=2 {
        let s = Scenario::new("basic", GREEN);
        let out = run(&s, &["--shard", &format!("{k}/2")]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert!(stderr(&out).contains("nextest's slice (no --plan)"), "{}", stderr(&out));
        let summary = s.summary();
        assert!(summary["shard"]["plan_id"].is_null(), "{summary}");
        let ran = junit_tests(&s.reports());
        assert!(!ran.is_empty() && seen.is_disjoint(&ran));
        seen.extend(ran);
    }
    let whole = Scenario::new("basic", GREEN);
    let out = run(&whole, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        seen,
        junit_tests(&whole.reports()),
        "the slices together ran every test once"
    );
}
