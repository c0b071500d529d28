//! The summary printed when a run ends: per tier counts and time, the slowest tests, flaky
//! tests, and each failure with its output tail and the command that reruns it.

use super::text;
use std::fmt::Write as _;

use console::Style as Paint;

use crate::report::human_duration;
use crate::results::{RunOutcome, RunResult, TestResult, TestStatus, TierOutcome};

/// Failures shown with their output; the rest are listed by name.
const DETAILED_FAILURES: usize = 10;
const TAIL_LINES: usize = 10;
const SLOWEST: usize = 5;

#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub(crate) fn paint(&self, p: Paint, text: &str) -> String {
        p.force_styling(self.color).apply_to(text).to_string()
    }
    pub(crate) fn bold(&self, t: &str) -> String {
        self.paint(Paint::new().bold(), t)
    }
    pub(crate) fn red(&self, t: &str) -> String {
        self.paint(Paint::new().red().bold(), t)
    }
    pub(crate) fn green(&self, t: &str) -> String {
        self.paint(Paint::new().green().bold(), t)
    }
    pub(crate) fn yellow(&self, t: &str) -> String {
        self.paint(Paint::new().yellow(), t)
    }
    pub(crate) fn dim(&self, t: &str) -> String {
        self.paint(Paint::new().dim(), t)
    }
}

pub fn render_summary(run: &RunResult, style: Style, report_dir: Option<&std::path::Path>) -> String {
    let mut out = String::new();
    let name_width = run.tiers.iter().map(|t| t.name.len()).max().unwrap_or(4).max(4);
    let _ = writeln!(
        out,
        "\n {:<name_width$}  {:<8} {:>6} {:>6} {:>6} {:>6} {:>9} {:>7}  time",
        "tier", "result", "tests", "passed", "failed", "flaky", "timed out", "skipped"
    );
    for t in &run.tiers {
        let result = match t.outcome {
            TierOutcome::Passed => style.green("passed  "),
            TierOutcome::Failed => style.red("FAILED  "),
            TierOutcome::Skipped => style.yellow("skipped "),
        };
        if t.outcome == TierOutcome::Skipped {
            let reason = t.reason.as_deref().unwrap_or("");
            let reason = match t.counts.not_run {
                0 => reason.to_string(),
                n => format!("{reason} ({n} tests not run)"),
            };
            let _ = writeln!(
                out,
                " {:<name_width$}  {result} {}",
                t.name,
                style.dim(&text::line(&reason))
            );
            continue;
        }
        let c = &t.counts;
        let _ = writeln!(
            out,
            " {:<name_width$}  {result} {:>6} {:>6} {:>6} {:>6} {:>9} {:>7}  {}",
            t.name,
            c.total(),
            c.passed,
            c.failed,
            c.flaky,
            c.timed_out,
            c.skipped,
            human_duration(t.duration)
        );
        if let Some(reason) = &t.reason {
            let _ = writeln!(out, " {:<name_width$}  {}", "", style.dim(&text::line(reason)));
        }
        for q in &t.quarantined {
            let line = format!(
                "quarantined, {}: {} ({}; owner {}, until {})",
                q.status.as_str(),
                q.id,
                q.reason,
                q.owner,
                q.expires
            );
            let _ = writeln!(out, " {:<name_width$}  {}", "", style.yellow(&text::line(&line)));
        }
    }

    let mut slowest: Vec<(&str, &TestResult)> = run
        .tiers
        .iter()
        .flat_map(|t| t.tests.iter().map(move |r| (t.name.as_str(), r)))
        .filter(|(_, r)| r.status != TestStatus::Skipped)
        .collect();
    slowest.sort_by_key(|(_, r)| std::cmp::Reverse(r.duration));
    if !slowest.is_empty() {
        let _ = writeln!(out, "\n {}", style.bold("Slowest tests"));
        for (tier, r) in slowest.iter().take(SLOWEST) {
            let _ = writeln!(
                out,
                "   {:>8}  {}  {}",
                human_duration(r.duration),
                text::name(&r.id.shown()),
                style.dim(tier)
            );
        }
    }

    let flaky: Vec<(&str, &TestResult)> = run
        .tiers
        .iter()
        .flat_map(|t| t.flaky().map(move |r| (t.name.as_str(), r)))
        .collect();
    if !flaky.is_empty() {
        let _ = writeln!(out, "\n {}", style.yellow("Flaky tests (passed on a retry)"));
        for (tier, r) in &flaky {
            let _ = writeln!(
                out,
                "   {}  {}",
                text::name(&r.id.shown()),
                style.dim(&format!("{tier}, passed on attempt {}", r.attempts))
            );
        }
    }

    let failures: Vec<(&str, &TestResult)> = run
        .tiers
        .iter()
        .flat_map(|t| t.failures().map(move |r| (t.name.as_str(), r)))
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "\n {}", style.red("Failed tests"));
        for (i, (tier, r)) in failures.iter().enumerate() {
            let what = match r.status {
                TestStatus::TimedOut => "timed out",
                _ => "failed",
            };
            let attempts = if r.attempts == 1 {
                "1 attempt".to_string()
            } else {
                format!("{} attempts", r.attempts)
            };
            let _ = writeln!(
                out,
                "   {}  {}",
                style.bold(&text::name(&r.id.shown())),
                style.dim(&format!("{tier}, {what}, {attempts}"))
            );
            if i < DETAILED_FAILURES {
                if let Some(output) = &r.output {
                    for line in crate::report::failure_excerpt(output, TAIL_LINES).lines() {
                        let _ = writeln!(out, "     {} {}", style.dim("│"), text::line(line));
                    }
                }
                let _ = writeln!(
                    out,
                    "     rerun: {}",
                    text::name(&crate::report::rerun_in(run, tier, &r.id))
                );
            }
        }
        if failures.len() > DETAILED_FAILURES {
            let _ = writeln!(
                out,
                "   {}",
                style.dim(&format!(
                    "output and rerun commands of the other {} failures are in summary.json",
                    failures.len() - DETAILED_FAILURES
                ))
            );
        }
    }

    if let Some(error) = &run.error {
        let _ = writeln!(out, "\n {} {}", style.red("error:"), text::line(error));
    }

    if run.gate.evaluated {
        if run.gate.passed {
            let _ = writeln!(out, "\n {} every criterion met", style.green("Gate passed:"));
        } else {
            let _ = writeln!(out, "\n {}", style.red("Gate failed"));
            for v in &run.gate.violations {
                let _ = writeln!(out, "   - {v}");
            }
        }
    }

    let r = &run.resources;
    if let (Some(memory), Some(swap)) = (r.peak_memory_percent, r.peak_swap_percent) {
        let m = &run.machines;
        let mut line = format!("peak memory {memory:.0}%, peak swap {swap:.0}%");
        if m.created + m.cloned > 0 || !m.leftover.is_empty() {
            line.push_str(&format!(
                "; machines: {} created, {} cloned, {} recovered, {} leftover",
                m.created,
                m.cloned,
                m.recovered,
                m.leftover.len()
            ));
        }
        let _ = writeln!(out, "\n {}", style.dim(&line));
    }

    let c = run.counts();
    let mut parts = Vec::new();
    if c.failed > 0 {
        parts.push(format!("{} failed", c.failed));
    }
    if c.timed_out > 0 {
        parts.push(format!("{} timed out", c.timed_out));
    }
    if c.flaky > 0 {
        parts.push(format!("{} flaky", c.flaky));
    }
    parts.push(format!("{} passed", c.passed));
    if c.skipped > 0 {
        parts.push(format!("{} skipped", c.skipped));
    }
    if c.not_run > 0 {
        parts.push(format!("{} not run", c.not_run));
    }
    let verdict = match (run.interrupted, run.outcome()) {
        (Some(i), _) => style.red(&format!("INTERRUPTED ({})", i.name())),
        (None, RunOutcome::Passed) => style.green("PASSED"),
        (None, RunOutcome::Failed) => style.red("FAILED"),
        (None, RunOutcome::GateFailed) => style.red("GATE FAILED"),
        (None, RunOutcome::Error) => style.red("ERROR"),
    };
    let _ = writeln!(
        out,
        "\n {verdict}: {} of {} tests in {} · exit {}",
        parts.join(", "),
        c.total(),
        human_duration(run.duration),
        run.exit_code()
    );
    if let Some(dir) = report_dir {
        let _ = writeln!(out, " reports: {}", dir.display());
    }
    out
}
