//! The flake ledger: each run's attempts with their blame, merged across shards, imported from
//! CI artifacts; `cargo orbtest flaky` attributes a failing attempt to the machine layer when
//! the run's journal shows its create timed out.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use orbtest::ledger::{Ledger, Line, RunContext, flake_stats, lines_for_run};
use orbtest::results::{Attempt, RunResult, TestCounts, TestId, TestResult, TestStatus, TierOutcome, TierResult};
use orbtest_machines::journal::OpRecord;

use crate::support::pysuite::{Scenario, code, stderr, stdout};

const T0: u64 = 1_800_000_000_000;

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// A test that failed its first attempt (started at `T0 + offset`) and passed its retry.
fn flaky(name: &str, offset: u64) -> TestResult {
    let mut first = Attempt::new(1, TestStatus::Failed, Duration::from_secs(5));
    first.started_at = Some(at(T0 + offset));
    let mut second = Attempt::new(2, TestStatus::Passed, Duration::from_secs(1));
    second.started_at = Some(at(T0 + offset + 6_000));
    TestResult {
        id: TestId {
            binary_id: "pkg::it".into(),
            name: name.into(),
        },
        status: TestStatus::Flaky,
        duration: Duration::from_secs(1),
        attempts: 2,
        message: None,
        output: None,
        attempt_log: vec![first, second],
    }
}

fn create_timed_out(test: &str, ts_ms: u64) -> OpRecord {
    OpRecord {
        ts_ms,
        run_id: "r".into(),
        pid: 7,
        test: Some(test.into()),
        op: "create".into(),
        machine: Some("test-web".into()),
        attempt: 1,
        timeout_ms: Some(180_000),
        waited_ms: 0,
        recovery_ms: 0,
        duration_ms: 3_000,
        outcome: "timed-out".into(),
        recovered: false,
        error: None,
        exit_code: None,
    }
}

fn run(id: &str, start: u64, tests: Vec<TestResult>) -> RunResult {
    let mut tier = TierResult::ran("it", at(start), Duration::from_secs(60), "log".into());
    tier.outcome = TierOutcome::Passed;
    tier.counts = TestCounts::of(&tests);
    tier.tests = tests;
    RunResult {
        run_id: id.into(),
        invocation: Default::default(),
        started_at: at(start),
        duration: Duration::from_secs(60),
        tiers: vec![tier],
        interrupted: None,
        error: None,
        nextest_version: "0.9.143".into(),
        machines: Default::default(),
        resources: Default::default(),
        gate: Default::default(),
        shard: None,
    }
}

/// Blame from a journal that holds these operation records only.
fn blame(tier: &mut orbtest::results::TierResult, ops: &[orbtest_machines::OpRecord]) {
    let journal = orbtest_machines::JournalView {
        ops: ops.to_vec(),
        ..Default::default()
    };
    orbtest::lifecycle::blame::apply(tier, &journal);
}

#[test]
fn a_create_timeout_in_the_journal_makes_the_attempt_infra_not_flaky() {
    // Run 1: `web` failed while its create timed out; `api` failed on its own.
    let mut r1 = run("r1", T0, vec![flaky("web", 1_000), flaky("api", 1_000)]);
    let ops = [create_timed_out("pkg::it::web", T0 + 4_000)];
    blame(&mut r1.tiers[0], &ops);
    let mut lines = lines_for_run(&r1, &ops, &RunContext::default());
    // Runs 2-4: both pass at once.
    for (i, id) in ["r2", "r3", "r4"].iter().enumerate() {
        let mut passed = flaky("web", 0);
        passed.status = TestStatus::Passed;
        passed.attempt_log.clear();
        let mut api = passed.clone();
        api.id.name = "api".into();
        lines.extend(lines_for_run(
            &run(id, T0 + (i as u64 + 1) * 100_000, vec![passed, api]),
            &[],
            &RunContext::default(),
        ));
    }
    let web_line = lines
        .iter()
        .find_map(|l| match l {
            Line::Test(t) if t.name == "web" && t.run.run_id == "r1" => Some(t),
            _ => None,
        })
        .unwrap();
    assert!(web_line.attempts[0].infra(), "{web_line:?}");
    assert!(web_line.attempts[0].blame_text().contains("timed out"), "{web_line:?}");
    // The machine cost of the test (its create's time) is in the ledger for the planner.
    assert_eq!(web_line.machines.create_ms, 3_000);

    let stats = flake_stats(&lines, 20);
    let web = stats.iter().find(|s| s.name == "web").unwrap();
    let api = stats.iter().find(|s| s.name == "api").unwrap();
    assert_eq!((web.runs, web.flaky, web.infra), (4, 0, 1), "{web:?}");
    assert_eq!(web.rate, 0.0, "an infra failure is not the test's flakiness");
    assert_eq!((api.runs, api.flaky, api.infra), (4, 1, 0), "{api:?}");
    assert_eq!(api.rate, 0.25);
    assert_eq!(api.first_seen, "2027-01-15T08:00:00.000Z");
    // The window counts the last N runs only.
    let recent = flake_stats(&lines, 3);
    assert_eq!(recent.iter().find(|s| s.name == "api").unwrap().runs, 3);
    assert_eq!(recent.iter().find(|s| s.name == "api").unwrap().flaky, 0);
}

#[test]
fn the_ledger_keeps_one_file_per_run_and_imports_each_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::of(dir.path());
    let lines = lines_for_run(
        &run("20270115-080000-aaaaaa", T0, vec![flaky("a", 0)]),
        &[],
        &RunContext::default(),
    );
    assert!(ledger.add_run(&lines).unwrap());
    assert!(!ledger.add_run(&lines).unwrap(), "a run is written once");
    // Shards' artifacts: two report dirs, one of them given twice, plus a torn line.
    let artifacts = dir.path().join("artifacts");
    for (k, id) in [(1, "20270115-090000-bbbbbb"), (2, "20270115-090000-cccccc")] {
        let shard = artifacts.join(format!("shard-{k}"));
        std::fs::create_dir_all(&shard).unwrap();
        let ctx = RunContext {
            shard: Some(format!("{k}/2")),
            plan_id: Some("p".into()),
        };
        let mut text = orbtest::ledger::to_jsonl(&lines_for_run(&run(id, T0 + 1_000, vec![flaky("b", 0)]), &[], &ctx));
        text.push_str(r#"{"kind":"test","run_id":"torn"#);
        std::fs::write(shard.join("ledger.jsonl"), text).unwrap();
    }
    let added = ledger.import(&[artifacts.clone(), artifacts.join("shard-1")]).unwrap();
    assert_eq!(added.runs_added, 2, "{added:?}");
    let again = ledger.import(&[artifacts]).unwrap();
    assert_eq!((again.runs_added, again.runs_known), (0, 2));
    let all = ledger.read().unwrap();
    let runs: std::collections::BTreeSet<&str> = all.iter().map(|l| l.run_id()).collect();
    assert_eq!(runs.len(), 3);
    assert!(all.iter().any(|l| l.run().shard.as_deref() == Some("2/2")));
    assert!(ledger.dir.ends_with("runs/ledger"));
}

#[test]
fn flaky_shows_rates_and_infra_attempts_from_imported_artifacts() {
    let s = Scenario::new(
        "[tiers.py]\ncommand = [\"true\"]\n[gate]\nmax_flake_rate = 0.2\n",
        None,
        None,
    );
    let artifacts = s.path().join("artifacts");
    std::fs::create_dir(&artifacts).unwrap();
    let mut r1 = run(
        "20270115-080000-aaaaaa",
        T0,
        vec![flaky("web", 1_000), flaky("api", 1_000)],
    );
    let ops = [create_timed_out("pkg::it::web", T0 + 4_000)];
    blame(&mut r1.tiers[0], &ops);
    let mut text = orbtest::ledger::to_jsonl(&lines_for_run(&r1, &ops, &RunContext::default()));
    let r2 = run("20270115-090000-bbbbbb", T0 + 3_600_000, vec![flaky("api", 0)]);
    text.push_str(&orbtest::ledger::to_jsonl(&lines_for_run(
        &r2,
        &[],
        &RunContext::default(),
    )));
    std::fs::write(artifacts.join("ledger.jsonl"), text).unwrap();

    let out = s.run(&["flaky", "--import", artifacts.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let table = stdout(&out);
    assert!(stderr(&out).contains("imported 2 runs"), "{}", stderr(&out));
    assert!(
        table.contains("pkg::it::api (it)") && table.contains("pkg::it::web (it)"),
        "{table}"
    );
    assert!(
        table.contains("infra (machines: `orbctl create test-web` timed out"),
        "{table}"
    );
    let api_row = table.lines().find(|l| l.contains("pkg::it::api")).unwrap();
    assert!(api_row.trim_start().starts_with("100%"), "{api_row}");
    let web_row = table.lines().find(|l| l.contains("pkg::it::web")).unwrap();
    assert!(web_row.trim_start().starts_with("0%"), "{web_row}");

    let out = s.run(&["flaky", "--suggest"]);
    let suggested = stdout(&out);
    assert!(
        suggested.contains("[[quarantine]]") && suggested.contains("binary_id(=pkg::it) & test(=api)"),
        "{suggested}"
    );
    assert!(!suggested.contains("test(=web)"), "infra is not flakiness: {suggested}");
    // The suggestion is a valid entry.
    let with_entry = format!("[tiers.py]\ncommand = [\"true\"]\n{suggested}");
    orbtest::config::parse(orbtest::config::Source::new("orchestrator.toml", with_entry))
        .expect("suggested entries load");
}

#[test]
fn the_gate_bounds_each_tests_flake_rate_over_its_window() {
    use orbtest::config::GateConfig;
    use orbtest::ledger::add_flake_rates;
    use orbtest::report::gate::evaluate;
    // `api` was flaky by its own fault in 2 of its 4 runs, `web` once through the machines.
    let mut lines = Vec::new();
    for (i, id) in ["r1", "r2", "r3", "r4"].iter().enumerate() {
        let start = T0 + i as u64 * 100_000;
        let mut api = flaky("api", 0);
        if i % 2 == 1 {
            api.status = TestStatus::Passed;
            api.attempt_log.clear();
        }
        // web's first attempt starts a second into the run; its create times out 3 s later.
        let web = flaky("web", start - T0 + 1_000);
        let ops = [create_timed_out("pkg::it::web", start + 4_000)];
        let mut r = run(id, start, vec![api, web]);
        blame(&mut r.tiers[0], &ops);
        lines.extend(lines_for_run(&r, &ops, &RunContext::default()));
    }
    let this_run = run("r4", T0, vec![flaky("api", 0), flaky("web", 0)]);
    let config = GateConfig {
        max_flake_rate: Some(0.25),
        ..GateConfig::default()
    };
    let mut verdict = evaluate(&config, &this_run);
    add_flake_rates(&mut verdict, &config, &this_run, &lines);
    assert!(!verdict.passed);
    assert_eq!(
        verdict.violations,
        ["pkg::it::api (tier `it`) was flaky in 2 of its last 4 runs: flake rate 0.50 (max 0.25)"],
        "web's failures were the machine layer's"
    );
    // A window of the last run only: api passed at once there.
    let narrow = GateConfig {
        flake_window: 1,
        ..config
    };
    let mut verdict = evaluate(&narrow, &this_run);
    add_flake_rates(&mut verdict, &narrow, &this_run, &lines);
    assert!(verdict.passed, "{verdict:?}");
}
