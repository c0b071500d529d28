//! A finished run as ledger lines: each test that ran, its attempts (with the blame the run
//! put on each) and its machine cost from the run's journal, and each tier that ran.

use orbtest_machines::journal::OpRecord;

use super::{LedgerAttempt, Line, MachineCost, RunRef, TestLine, TierLine};
use crate::report::{AttemptSummary, BlameSummary};
use crate::results::{RunResult, TestResult, TestStatus, TierOutcome};

/// What the ledger records about the run beyond its results.
#[derive(Debug, Clone, Default)]
pub struct RunContext {
    pub shard: Option<String>,
    pub plan_id: Option<String>,
}

pub fn lines_for_run(run: &RunResult, ops: &[OpRecord], ctx: &RunContext) -> Vec<Line> {
    let run_ref = RunRef {
        run_id: run.run_id.clone(),
        started_at: humantime::format_rfc3339_millis(run.started_at).to_string(),
        shard: ctx.shard.clone().or_else(|| run.shard.as_ref().map(|s| s.spec.clone())),
        plan_id: ctx
            .plan_id
            .clone()
            .or_else(|| run.shard.as_ref().and_then(|s| s.plan_id.clone())),
    };
    let mut lines = Vec::new();
    for tier in &run.tiers {
        // A tier that ran nothing here (skipped, or left to other shards) says nothing about
        // how long it takes.
        if tier.nothing_selected || (tier.outcome == TierOutcome::Skipped && tier.tests.is_empty()) {
            continue;
        }
        lines.push(Line::Tier(TierLine {
            run: run_ref.clone(),
            tier: tier.name.clone(),
            outcome: tier.outcome.as_str().to_string(),
            duration_ms: tier.duration.as_millis() as u64,
        }));
        for test in tier.tests.iter().filter(|t| t.status != TestStatus::Skipped) {
            let id = test.id.to_string();
            lines.push(Line::Test(TestLine {
                run: run_ref.clone(),
                tier: tier.name.clone(),
                binary_id: test.id.binary_id.clone(),
                name: test.id.name.clone(),
                status: test.status.as_str().to_string(),
                duration_ms: test.duration.as_millis() as u64,
                attempts: attempts(test),
                machines: machine_cost(&id, ops),
                quarantined: tier.quarantined.iter().any(|q| q.id == test.id),
            }));
        }
    }
    lines
}

/// Each attempt as the run kept it; a test that passed at once has one.
fn attempts(test: &TestResult) -> Vec<LedgerAttempt> {
    if test.attempt_log.is_empty() {
        let status = match test.status {
            TestStatus::Passed | TestStatus::Flaky => "passed",
            other => other.as_str(),
        };
        return vec![LedgerAttempt {
            n: 1,
            status: status.to_string(),
            duration_ms: Some(test.duration.as_millis() as u64),
            blame: test.status.is_failure().then_some(BlameSummary::Test),
        }];
    }
    test.attempt_log
        .iter()
        .map(|a| {
            let summary = AttemptSummary::of(a);
            LedgerAttempt {
                n: summary.n,
                status: summary.status,
                duration_ms: Some(summary.duration_ms),
                blame: a.status.is_failure().then_some(summary.blame),
            }
        })
        .collect()
}

fn machine_cost(test: &str, ops: &[OpRecord]) -> MachineCost {
    let key = crate::test_ids::match_key(test);
    let mut cost = MachineCost::default();
    let mut made = std::collections::BTreeSet::new();
    for op in ops.iter().filter(|op| {
        matches!(op.op.as_str(), "create" | "clone" | "import")
            && op
                .test
                .as_deref()
                .is_some_and(|t| t == test || crate::test_ids::match_key(t) == key)
    }) {
        cost.create_ms += op.duration_ms;
        if op.outcome == "ok" {
            made.insert(op.machine.clone().unwrap_or_default());
        }
    }
    cost.created = made.len() as u64;
    cost
}
