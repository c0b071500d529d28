//! The summary printed when a run ends: per tier counts and time, the slowest tests, flaky
//! tests, and each failure with its output tail and the command that reruns it. It renders the
//! run's [`Digest`]; each part is its own function, in the order they appear.

use super::text;
use std::fmt::Write as _;

use console::Style as Paint;

use crate::config::LoadError;
use crate::errors::Error;
use crate::report::{Digest, Verdict, count, counts_phrase, failure_word, human_duration};
use crate::results::{RunResult, TierOutcome};

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

/// The whole summary, as printed on stderr after a run.
pub fn render_summary(run: &RunResult, style: Style, report_dir: Option<&std::path::Path>) -> String {
    let d = Digest::of(run);
    let mut out = String::new();
    tier_table(&mut out, &d, style);
    slowest(&mut out, &d, style);
    flaky(&mut out, &d, style);
    failures(&mut out, &d, style);
    error_and_gate(&mut out, run, style);
    resources(&mut out, run, style);
    verdict(&mut out, &d, style);
    if let Some(dir) = report_dir {
        let _ = writeln!(out, " reports: {}", dir.display());
    }
    out
}

/// One row per tier: counts and time, or why it was skipped; reasons and quarantined tests
/// under their tier.
fn tier_table(out: &mut String, d: &Digest<'_>, style: Style) {
    let w = d.tiers.iter().map(|r| r.tier.name.len()).max().unwrap_or(4).max(4);
    let _ = writeln!(
        out,
        "\n {:<w$}  {:<8} {:>6} {:>6} {:>6} {:>6} {:>9} {:>7}  time",
        "tier", "result", "tests", "passed", "failed", "flaky", "timed out", "skipped"
    );
    for row in &d.tiers {
        let t = row.tier;
        let result = match t.outcome {
            TierOutcome::Passed => style.green("passed  "),
            TierOutcome::Failed => style.red("FAILED  "),
            TierOutcome::Skipped => style.yellow("skipped "),
        };
        let note = row.note.as_deref().map(|n| style.dim(&text::line(n)));
        if row.skipped {
            let _ = writeln!(out, " {:<w$}  {result} {}", t.name, note.unwrap_or_default());
            continue;
        }
        let c = &t.counts;
        let _ = writeln!(
            out,
            " {:<w$}  {result} {:>6} {:>6} {:>6} {:>6} {:>9} {:>7}  {}",
            t.name,
            c.total(),
            c.passed,
            c.failed,
            c.flaky,
            c.timed_out,
            c.skipped,
            human_duration(t.duration)
        );
        if let Some(note) = note {
            let _ = writeln!(out, " {:<w$}  {note}", "");
        }
        for q in &t.quarantined {
            let line = format!(
                "quarantined, {}: {} ({}; owner {}, until {})",
                q.status.as_str(),
                q.id.shown(),
                q.reason,
                q.owner,
                q.expires
            );
            let _ = writeln!(out, " {:<w$}  {}", "", style.yellow(&text::line(&line)));
        }
    }
}

/// Tests listed as slowest.
const SLOWEST: usize = 5;

fn slowest(out: &mut String, d: &Digest<'_>, style: Style) {
    if d.slowest.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n {}", style.bold("Slowest tests"));
    for e in d.slowest.iter().take(SLOWEST) {
        let _ = writeln!(
            out,
            "   {:>8}  {}  {}",
            human_duration(e.test.duration),
            text::name(&e.test.id.shown()),
            style.dim(e.tier)
        );
    }
}

fn flaky(out: &mut String, d: &Digest<'_>, style: Style) {
    if d.flaky.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n {}", style.yellow("Flaky tests (passed on a retry)"));
    for e in &d.flaky {
        let _ = writeln!(
            out,
            "   {}  {}",
            text::name(&e.test.id.shown()),
            style.dim(&format!("{}, passed on attempt {}", e.tier, e.test.attempts))
        );
    }
}

/// Failures shown with their output; the rest are listed by name.
const DETAILED_FAILURES: usize = 10;
const TAIL_LINES: usize = 10;

/// Each failure: name, tier, how, attempts; the first ones with their output and rerun command.
fn failures(out: &mut String, d: &Digest<'_>, style: Style) {
    if d.failures.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n {}", style.red("Failed tests"));
    for (i, e) in d.failures.iter().enumerate() {
        let r = e.test;
        let _ = writeln!(
            out,
            "   {}  {}",
            style.bold(&text::name(&r.id.shown())),
            style.dim(&format!(
                "{}, {}, {}",
                e.tier,
                failure_word(r.status),
                count(r.attempts, "attempt")
            ))
        );
        if i >= DETAILED_FAILURES {
            continue;
        }
        if let Some(output) = &r.output {
            for line in crate::report::failure_excerpt(output, TAIL_LINES).lines() {
                let _ = writeln!(out, "     {} {}", style.dim("│"), text::line(line));
            }
        }
        if let Some(rerun) = &e.rerun {
            let _ = writeln!(out, "     rerun: {}", text::name(rerun));
        }
    }
    if d.failures.len() > DETAILED_FAILURES {
        let rest = d.failures.len() - DETAILED_FAILURES;
        let _ = writeln!(
            out,
            "   {}",
            style.dim(&format!(
                "output and rerun commands of the other {} are in summary.json",
                count(rest as u64, "failure")
            ))
        );
    }
}

fn error_and_gate(out: &mut String, run: &RunResult, style: Style) {
    if let Some(error) = &run.error {
        let _ = writeln!(out, "\n {} {}", style.red("error:"), text::line(error));
    }
    if !run.gate.evaluated {
        return;
    }
    if run.gate.passed {
        let _ = writeln!(out, "\n {} every criterion met", style.green("Gate passed:"));
    } else {
        let _ = writeln!(out, "\n {}", style.red("Gate failed"));
        for v in &run.gate.violations {
            let _ = writeln!(out, "   - {v}");
        }
    }
}

fn resources(out: &mut String, run: &RunResult, style: Style) {
    let r = &run.resources;
    let (Some(memory), Some(swap)) = (r.peak_memory_percent, r.peak_swap_percent) else {
        return;
    };
    let m = &run.machines;
    let _ = writeln!(
        out,
        "\n {}",
        style.dim(&format!("peak memory {memory:.0}%, peak swap {swap:.0}%"))
    );
    // A line of its own: joined to the one above it no longer fits 80 columns.
    if m.created + m.cloned > 0 || !m.leftover.is_empty() {
        let line = format!(
            "machines: {} created, {} cloned, {} recovered, {} leftover",
            m.created,
            m.cloned,
            m.recovered,
            m.leftover.len()
        );
        let _ = writeln!(out, " {}", style.dim(&line));
    }
}

/// `PASSED: 16 passed (1 flaky), 1 skipped of 17 tests in 3.2s · exit 0`.
fn verdict(out: &mut String, d: &Digest<'_>, style: Style) {
    let label = d.verdict.label();
    let label = match d.verdict {
        Verdict::Passed => style.green(&label),
        _ => style.red(&label),
    };
    let _ = writeln!(
        out,
        "\n {label}: {} of {} in {} · exit {}",
        counts_phrase(&d.counts),
        count(d.counts.total(), "test"),
        human_duration(d.run.duration),
        d.run.exit_code()
    );
}

/// Prints the error that ended a command on stderr, each diagnostic block labelled.
pub(crate) fn print_error(e: &Error, color: bool) {
    let label = console::style("error:").red().bold().force_styling(color);
    match e {
        // Diagnostics carry their own location lines; label each one.
        Error::Config(LoadError::Invalid(ce)) => {
            let text = ce.to_string();
            for block in text.split("\n\n") {
                crate::errln!("{label} {}", block.trim_end());
            }
        }
        _ => crate::errln!("{label} {e}"),
    }
}
