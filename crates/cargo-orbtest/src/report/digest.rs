//! What every rendering of a finished run shows, computed once: the verdict, the totals, the
//! tier table, the failures (with their rerun commands), the flaky tests and the slowest tests.
//! The terminal summary, report.html and GitHub's step summary and annotations render a
//! [`Digest`]; none of them sorts, filters or counts on its own.

use crate::results::{RunOutcome, RunResult, TestCounts, TestResult, TestStatus, TierOutcome, TierResult};
use crate::signals::Interrupt;

use super::text::count;

/// A finished run, as its reports present it.
pub struct Digest<'a> {
    pub run: &'a RunResult,
    pub verdict: Verdict,
    /// Every tier's counts added up.
    pub counts: TestCounts,
    pub tiers: Vec<TierRow<'a>>,
    /// Failed and timed-out tests (quarantined ones excepted), in tier order, each with the
    /// command that reruns it.
    pub failures: Vec<Entry<'a>>,
    /// Tests that failed, then passed on a retry.
    pub flaky: Vec<Entry<'a>>,
    /// Every test that ran (skipped ones are not), slowest first.
    pub slowest: Vec<Entry<'a>>,
}

/// One row of the tier table.
pub struct TierRow<'a> {
    pub tier: &'a TierResult,
    /// `passed`, `passed (2 quarantined failed)`, `failed`, `skipped`.
    pub verdict: String,
    /// The tier was skipped: it has no counts or time of its own.
    pub skipped: bool,
    /// Why it was skipped or failed without failing tests, or why it selected nothing; for a
    /// skipped tier with how many of its tests did not run.
    pub note: Option<String>,
}

/// A test in one of the digest's lists.
pub struct Entry<'a> {
    pub tier: &'a str,
    pub test: &'a TestResult,
    /// The command that reruns it (failures only).
    pub rerun: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    Failed,
    GateFailed,
    Error,
    Interrupted(Interrupt),
}

impl Verdict {
    /// `PASSED`, `FAILED`, `GATE FAILED`, `ERROR`, `INTERRUPTED (SIGINT)`.
    pub fn label(self) -> String {
        match self {
            Verdict::Passed => "PASSED".into(),
            Verdict::Failed => "FAILED".into(),
            Verdict::GateFailed => "GATE FAILED".into(),
            Verdict::Error => "ERROR".into(),
            Verdict::Interrupted(i) => format!("INTERRUPTED ({})", i.name()),
        }
    }

    /// `passed`, `failed`, `gate-failed`, `error`: for styles keyed by outcome.
    pub fn class(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::GateFailed => "gate-failed",
            Verdict::Error | Verdict::Interrupted(_) => "error",
        }
    }

    pub fn passed(self) -> bool {
        self == Verdict::Passed
    }
}

impl<'a> Digest<'a> {
    pub fn of(run: &'a RunResult) -> Self {
        let verdict = match (run.interrupted, run.outcome()) {
            (Some(i), _) => Verdict::Interrupted(i),
            (None, RunOutcome::Passed) => Verdict::Passed,
            (None, RunOutcome::Failed) => Verdict::Failed,
            (None, RunOutcome::GateFailed) => Verdict::GateFailed,
            (None, RunOutcome::Error) => Verdict::Error,
        };
        let entries = |pick: &dyn Fn(&'a TierResult) -> Vec<&'a TestResult>| -> Vec<Entry<'a>> {
            run.tiers
                .iter()
                .flat_map(|t| {
                    pick(t).into_iter().map(move |test| Entry {
                        tier: &t.name,
                        test,
                        rerun: None,
                    })
                })
                .collect()
        };
        let mut failures = entries(&|t| t.failures().collect());
        for f in &mut failures {
            f.rerun = Some(super::rerun_in(run, f.tier, &f.test.id));
        }
        let mut slowest = entries(&|t| t.tests.iter().filter(|r| r.status != TestStatus::Skipped).collect());
        // Stable: equal durations keep tier and test order.
        slowest.sort_by_key(|e| std::cmp::Reverse(e.test.duration));
        Self {
            run,
            verdict,
            counts: run.counts(),
            tiers: run.tiers.iter().map(tier_row).collect(),
            failures,
            flaky: entries(&|t| t.flaky().collect()),
            slowest,
        }
    }
}

fn tier_row(t: &TierResult) -> TierRow<'_> {
    let skipped = t.outcome == TierOutcome::Skipped;
    let note = match (&t.reason, skipped, t.counts.not_run) {
        (Some(r), true, n) if n > 0 => Some(format!("{r} ({} not run)", count(n, "test"))),
        (r, _, _) => r.clone(),
    };
    TierRow {
        tier: t,
        verdict: t.verdict(),
        skipped,
        note,
    }
}

/// The counts in words, passed first and only what is there besides: `16 passed (1 flaky),
/// 2 failed, 1 timed out, 3 skipped, 4 not run` (`0 passed` when nothing passed).
pub fn counts_phrase(c: &TestCounts) -> String {
    let mut parts = vec![if c.flaky > 0 {
        format!("{} passed ({} flaky)", c.passed, c.flaky)
    } else {
        format!("{} passed", c.passed)
    }];
    for (n, what) in [
        (c.failed, "failed"),
        (c.timed_out, "timed out"),
        (c.quarantined, "quarantined"),
        (c.skipped, "skipped"),
        (c.not_run, "not run"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    parts.join(", ")
}

/// `failed` or `timed out`: what happened to a failing test.
pub fn failure_word(status: TestStatus) -> &'static str {
    match status {
        TestStatus::TimedOut => "timed out",
        _ => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lead_with_passed_and_leave_out_zeros() {
        let c = TestCounts {
            passed: 16,
            flaky: 1,
            failed: 2,
            timed_out: 1,
            skipped: 3,
            ..TestCounts::default()
        };
        assert_eq!(
            counts_phrase(&c),
            "16 passed (1 flaky), 2 failed, 1 timed out, 3 skipped"
        );
        assert_eq!(counts_phrase(&TestCounts::default()), "0 passed");
    }
}
