//! A finished run read back from its report files: `summary.json` for the run and its tiers,
//! the merged `junit.xml` for every test (durations, output). Used by `cargo orbtest report` and
//! `report merge`, so a past run renders exactly like a fresh one.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::summary::{AttemptSummary, FailureSummary, Summary, TierSummary};
use crate::errors::{Error, Result};
use crate::results::{
    Attempt, GateVerdict, MachineStats, QuarantinedTest, ResourcePeaks, RunResult, ShardInfo, TestCounts, TestId,
    TestResult, TestStatus, TierOutcome, TierResult,
};
use crate::signals::Interrupt;

/// A run as its report directory describes it.
#[derive(Debug, Clone)]
pub struct LoadedRun {
    pub dir: PathBuf,
    pub run: RunResult,
    pub merged_from: Vec<String>,
}

/// Reads `dir/summary.json` (required) and `dir/junit.xml` (optional: without it only failed
/// and flaky tests are known, from the summary).
pub fn load_run(dir: &Path) -> Result<LoadedRun> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io("cannot read", &path, e))?;
    let summary: Summary = serde_json::from_str(&text)
        .map_err(|e| Error::Infrastructure(format!("{} is not an orbtest summary.json: {e}", path.display())))?;
    let junit_path = dir.join("junit.xml");
    let tests = std::fs::read_to_string(&junit_path)
        .ok()
        .and_then(|xml| tests_by_tier(&xml).ok());
    Ok(LoadedRun {
        dir: dir.to_path_buf(),
        merged_from: summary.merged_from.clone(),
        run: to_run(&summary, dir, tests.as_deref()),
    })
}

/// The merged JUnit's tests, keyed by tier (suites are named `<tier>/<binary-id>`).
fn tests_by_tier(xml: &str) -> std::result::Result<Vec<(String, TestResult)>, crate::junit::Invalid> {
    let tests = crate::junit::parse_by_suite(xml)?
        .into_iter()
        .filter_map(|(suite, t)| suite.split_once('/').map(|(tier, _)| (tier.to_string(), t)))
        .collect();
    Ok(tests)
}

fn time(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(s).ok()
}

fn to_run(s: &Summary, dir: &Path, tests: Option<&[(String, TestResult)]>) -> RunResult {
    RunResult {
        run_id: s.run_id.clone(),
        invocation: s
            .invocation
            .as_ref()
            .map(super::summary::InvocationSummary::to_invocation)
            .unwrap_or_default(),
        started_at: time(&s.started_at).unwrap_or(SystemTime::UNIX_EPOCH),
        duration: Duration::from_millis(s.duration_ms),
        tiers: s
            .tiers
            .iter()
            .map(|t| {
                let tier_tests = match tests {
                    Some(all) => all
                        .iter()
                        .filter(|(tier, _)| tier == &t.name)
                        .map(|(_, r)| with_blame(r.clone(), t))
                        .collect(),
                    None => tests_from_summary(t),
                };
                to_tier(t, dir, tier_tests)
            })
            .collect(),
        interrupted: s.interrupted.as_deref().and_then(Interrupt::from_name),
        error: s.error.clone(),
        nextest_version: s.nextest_version.clone(),
        machines: MachineStats {
            created: s.machines.created,
            cloned: s.machines.cloned,
            recovered: s.machines.recovered,
            retried: s.machines.retried,
            peak_concurrent_creates: s.machines.peak_concurrent_creates,
            leftover: s.machines.leftover_names.clone(),
            postflight_error: s.machines.postflight_error.clone(),
        },
        resources: ResourcePeaks {
            peak_memory_percent: s.resources.peak_memory_percent,
            peak_swap_percent: s.resources.peak_swap_percent,
        },
        gate: GateVerdict {
            evaluated: s.gate.evaluated,
            passed: s.gate.passed,
            violations: s.gate.violations.clone(),
        },
        shard: s.shard.as_ref().map(|sh| ShardInfo {
            spec: sh.spec.clone(),
            plan_id: sh.plan_id.clone(),
            predicted_ms: sh.predicted_ms,
            newer_than_plan: sh.newer_than_plan.clone(),
        }),
    }
}

fn to_tier(t: &TierSummary, dir: &Path, tests: Vec<TestResult>) -> TierResult {
    let c = &t.tests;
    let existing = |p: PathBuf| p.exists().then_some(p);
    TierResult {
        name: t.name.clone(),
        outcome: match t.outcome.as_str() {
            "passed" => TierOutcome::Passed,
            "skipped" => TierOutcome::Skipped,
            _ => TierOutcome::Failed,
        },
        reason: t.reason.clone(),
        started_at: t.started_at.as_deref().and_then(time),
        duration: Duration::from_millis(t.duration_ms),
        tests,
        counts: TestCounts {
            passed: c.passed,
            failed: c.failed,
            flaky: c.flaky,
            timed_out: c.timed_out,
            skipped: c.skipped,
            not_run: c.not_run,
            quarantined: c.quarantined,
        },
        nextest_exit: None,
        log: existing(dir.join("tiers").join(&t.name).join("nextest.log"))
            .or_else(|| existing(dir.join("tiers").join(&t.name).join("command.log"))),
        junit: existing(dir.join("tiers").join(&t.name).join("junit.xml")),
        command: t.command.clone(),
        quarantined: t
            .quarantined_tests
            .iter()
            .map(|q| QuarantinedTest {
                id: test_id(&q.name),
                status: if q.status == "timed-out" {
                    TestStatus::TimedOut
                } else {
                    TestStatus::Failed
                },
                reason: q.reason.clone(),
                owner: q.owner.clone(),
                expires: q.expires.clone(),
            })
            .collect(),
        nothing_selected: t.nothing_selected,
    }
}

/// Without JUnit: the failed and flaky tests the summary names.
fn tests_from_summary(t: &TierSummary) -> Vec<TestResult> {
    let failed = t.failures.iter().map(|f: &FailureSummary| {
        let log: Vec<Attempt> = f.attempts.iter().map(AttemptSummary::to_attempt).collect();
        TestResult {
            id: if f.binary_id.is_empty() {
                test_id(&f.name)
            } else {
                TestId {
                    binary_id: f.binary_id.clone(),
                    name: f.test.clone(),
                }
            },
            status: if f.status == "timed-out" {
                TestStatus::TimedOut
            } else {
                TestStatus::Failed
            },
            duration: log.last().map_or(Duration::ZERO, |a| a.duration),
            attempts: log.len().max(1) as u32,
            message: f.message.clone(),
            output: f.output_tail.clone(),
            attempt_log: log,
        }
    });
    let flaky = t.flaky_tests.iter().map(|name| {
        let log: Vec<Attempt> = t
            .flaky
            .iter()
            .find(|f| &f.name == name)
            .map(|f| f.attempts.iter().map(AttemptSummary::to_attempt).collect())
            .unwrap_or_default();
        TestResult {
            id: test_id(name),
            status: TestStatus::Flaky,
            duration: log.last().map_or(Duration::ZERO, |a| a.duration),
            attempts: log.len().max(2) as u32,
            message: log.iter().rev().find_map(|a| a.message.clone()),
            output: None,
            attempt_log: log,
        }
    });
    failed.chain(flaky).collect()
}

/// What only summary.json knows about a test read from junit.xml: who each attempt's failure
/// is blamed on.
fn with_blame(mut test: TestResult, t: &TierSummary) -> TestResult {
    let name = test.id.to_string();
    let listed = t
        .failures
        .iter()
        .find(|f| f.name == name)
        .map(|f| &f.attempts)
        .or_else(|| t.flaky.iter().find(|f| f.name == name).map(|f| &f.attempts));
    if let Some(listed) = listed {
        for a in &mut test.attempt_log {
            if let Some(s) = listed.iter().find(|s| s.n == a.n) {
                a.blame = s.to_attempt().blame;
            }
        }
    }
    test
}

/// `binary-id::test-name` split at the first `::`. Binary ids may contain `::` too, so this can
/// split in the wrong place; the displayed name is the same either way.
fn test_id(name: &str) -> TestId {
    let (binary_id, name) = name.split_once("::").unwrap_or(("", name));
    TestId {
        binary_id: binary_id.to_string(),
        name: name.to_string(),
    }
}
