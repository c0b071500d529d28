//! Flake rates from the ledger. Over the last `window` runs in which a test ran:
//! * a run is **flaky** for the test when it failed an attempt by its own fault and passed
//!   on a retry;
//! * **failed** when it never passed and at least one failing attempt was its own fault;
//! * **infra** when every failing attempt was the machine layer's (those runs say nothing about
//!   the test, so they count in neither rate nor failures).
//!
//! The flake rate is flaky runs / runs, a fraction from 0 to 1 (the gate's `max_flake_rate`).

use std::collections::BTreeMap;

use super::{Line, TestLine};

#[derive(Debug, Clone, PartialEq)]
pub struct TestFlakes {
    pub tier: String,
    /// `binary-id::name`
    pub id: String,
    pub binary_id: String,
    pub name: String,
    pub runs: u32,
    pub flaky: u32,
    pub failed: u32,
    pub infra: u32,
    /// Runs in which it failed under a quarantine entry.
    pub quarantined: u32,
    pub rate: f64,
    /// RFC 3339 start of the first and last run that ran it (whole ledger, not the window).
    pub first_seen: String,
    pub last_seen: String,
    /// Every failing attempt in the window, oldest first.
    pub failing: Vec<FailingAttempt>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FailingAttempt {
    pub run_id: String,
    pub started_at: String,
    pub n: u32,
    pub status: String,
    /// `test` or `machines: <reason>`.
    pub blame: String,
    pub infra: bool,
}

/// Per test (by tier and id), over the last `window` runs that ran it; most flaky first.
pub fn flake_stats(lines: &[Line], window: usize) -> Vec<TestFlakes> {
    let mut by_test: BTreeMap<(String, String), Vec<&TestLine>> = BTreeMap::new();
    for line in lines {
        if let Line::Test(t) = line {
            by_test.entry((t.tier.clone(), t.id())).or_default().push(t);
        }
    }
    let mut out: Vec<TestFlakes> = by_test
        .into_iter()
        .map(|((tier, id), mut runs)| {
            runs.sort_by(|a, b| (&a.run.started_at, &a.run.run_id).cmp(&(&b.run.started_at, &b.run.run_id)));
            // The same run imported under two names is still one run.
            runs.dedup_by(|a, b| a.run.run_id == b.run.run_id);
            let first_seen = runs.first().map(|r| r.run.started_at.clone()).unwrap_or_default();
            let last_seen = runs.last().map(|r| r.run.started_at.clone()).unwrap_or_default();
            let recent = &runs[runs.len().saturating_sub(window.max(1))..];
            let (binary_id, name) = runs
                .first()
                .map(|r| (r.binary_id.clone(), r.name.clone()))
                .unwrap_or_default();
            let mut s = TestFlakes {
                tier,
                id,
                binary_id,
                name,
                runs: recent.len() as u32,
                flaky: 0,
                failed: 0,
                infra: 0,
                quarantined: 0,
                rate: 0.0,
                first_seen,
                last_seen,
                failing: Vec::new(),
            };
            for run in recent {
                let failing: Vec<_> = run.attempts.iter().filter(|a| a.status != "passed").collect();
                if failing.is_empty() && run.status != "failed" && run.status != "timed-out" {
                    continue;
                }
                let own_fault = failing.iter().any(|a| !a.infra()) || failing.is_empty();
                let passed = matches!(run.status.as_str(), "passed" | "flaky");
                match (own_fault, passed) {
                    (false, _) => s.infra += 1,
                    (true, true) => s.flaky += 1,
                    (true, false) => s.failed += 1,
                }
                if run.quarantined {
                    s.quarantined += 1;
                }
                for a in failing {
                    s.failing.push(FailingAttempt {
                        run_id: run.run.run_id.clone(),
                        started_at: run.run.started_at.clone(),
                        n: a.n,
                        status: a.status.clone(),
                        blame: a.blame_text(),
                        infra: a.infra(),
                    });
                }
            }
            s.rate = if s.runs == 0 {
                0.0
            } else {
                f64::from(s.flaky) / f64::from(s.runs)
            };
            s
        })
        .collect();
    out.sort_by(|a, b| {
        b.rate
            .total_cmp(&a.rate)
            .then(b.flaky.cmp(&a.flaky))
            .then(b.failed.cmp(&a.failed))
            .then_with(|| (&a.tier, &a.id).cmp(&(&b.tier, &b.id)))
    });
    out
}

/// Adds `max_flake_rate` violations: each test of `run` whose flake rate over its last
/// `flake_window` runs in `ledger` (this run's lines included) is over the limit.
pub fn add_flake_rates(
    verdict: &mut crate::results::GateVerdict,
    config: &crate::config::GateConfig,
    run: &crate::results::RunResult,
    ledger: &[Line],
) {
    let Some(max) = config.max_flake_rate else { return };
    let in_run: std::collections::HashSet<(String, String)> = run
        .tiers
        .iter()
        .flat_map(|t| t.tests.iter().map(move |r| (t.name.clone(), r.id.to_string())))
        .collect();
    let stats = flake_stats(ledger, config.flake_window as usize);
    let over: Vec<_> = stats
        .iter()
        .filter(|s| s.rate > max && in_run.contains(&(s.tier.clone(), s.id.clone())))
        .collect();
    for s in over.iter().take(20) {
        verdict.violations.push(format!(
            "{} (tier `{}`) was flaky in {} of its last {} runs: flake rate {:.2} (max {max})",
            s.id, s.tier, s.flaky, s.runs, s.rate
        ));
    }
    if over.len() > 20 {
        verdict
            .violations
            .push(format!("{} more tests over the flake rate limit", over.len() - 20));
    }
    verdict.passed = verdict.violations.is_empty();
}
