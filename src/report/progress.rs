//! Progress as plain lines, for CI logs and pipes: no control characters, and at most one
//! progress line per tier every 10 seconds.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::terminal::human_duration;
use crate::events::{Event, Observer};
use crate::results::{TestStatus, TierOutcome};

pub struct PlainProgress<W: Write + Send> {
    out: Mutex<State<W>>,
    interval: Duration,
}

struct State<W> {
    out: W,
    last_line: Option<Instant>,
    failed: usize,
    flaky: usize,
}

impl<W: Write + Send> PlainProgress<W> {
    pub fn new(out: W) -> Self {
        Self::with_interval(out, Duration::from_secs(10))
    }

    pub fn with_interval(out: W, interval: Duration) -> Self {
        Self {
            out: Mutex::new(State {
                out,
                last_line: None,
                failed: 0,
                flaky: 0,
            }),
            interval,
        }
    }

    pub fn into_inner(self) -> W {
        match self.out.into_inner() {
            Ok(s) => s.out,
            Err(poisoned) => poisoned.into_inner().out,
        }
    }
}

impl<W: Write + Send> Observer for PlainProgress<W> {
    fn event(&self, event: &Event<'_>) {
        let Ok(mut s) = self.out.lock() else { return };
        let line = match event {
            Event::BuildStarted => Some("building tests".to_string()),
            Event::BuildFinished { duration, ok: true } => Some(format!("built in {}", human_duration(*duration))),
            Event::BuildFinished { ok: false, .. } => Some("build failed".to_string()),
            Event::StepStarted { .. } => None,
            Event::StepFinished {
                step,
                duration,
                outcome,
            } => Some(match outcome {
                Ok(msg) if msg.is_empty() => format!("{step}: ok ({})", human_duration(*duration)),
                Ok(msg) => format!("{step}: {msg} ({})", human_duration(*duration)),
                Err(msg) => format!("{step}: FAILED: {msg}"),
            }),
            Event::TierStarted { tier, .. } => {
                s.failed = 0;
                s.flaky = 0;
                s.last_line = Some(Instant::now());
                Some(format!("tier {tier}: starting"))
            }
            Event::TierTotal { tier, total } => Some(format!("tier {tier}: {total} tests")),
            Event::TestFinished {
                tier,
                status,
                done,
                total,
                ..
            } => {
                match status {
                    TestStatus::Failed | TestStatus::TimedOut => s.failed += 1,
                    TestStatus::Flaky => s.flaky += 1,
                    _ => {}
                }
                let due = s.last_line.is_none_or(|t| t.elapsed() >= self.interval);
                due.then(|| {
                    s.last_line = Some(Instant::now());
                    format!(
                        "tier {tier}: {done}/{total} done, {} failed, {} flaky",
                        s.failed, s.flaky
                    )
                })
            }
            Event::TierOutput { .. } => None,
            Event::TierFinished { result } => {
                let c = &result.counts;
                let verdict = match result.outcome {
                    TierOutcome::Passed => "passed",
                    TierOutcome::Failed => "FAILED",
                    TierOutcome::Skipped => "skipped",
                };
                Some(format!(
                    "tier {}: {verdict} in {} ({} passed, {} failed, {} timed out, {} flaky, {} skipped)",
                    result.name,
                    human_duration(result.duration),
                    c.passed,
                    c.failed,
                    c.timed_out,
                    c.flaky,
                    c.skipped
                ))
            }
            Event::TierSkipped { tier, reason } => Some(format!("tier {tier}: skipped: {reason}")),
            Event::MachineActivity { tier, activity } => Some(machine_activity(tier, activity)),
            Event::Note { message } => Some(message.to_string()),
        };
        if let Some(line) = line {
            let _ = writeln!(s.out, "orbtest: {line}");
            let _ = s.out.flush();
        }
    }
}

/// One line: what a machine tier did with machines.
pub fn machine_activity(tier: &str, a: &crate::results::MachineActivity) -> String {
    let mut line = format!(
        "tier {tier}: machines: {} creates ({} as clones of baselines), {} recovered, {} retries, peak {} concurrent creates",
        a.creates + a.clones,
        a.clones,
        a.recoveries,
        a.retries,
        a.peak_concurrent_creates
    );
    if !a.slowest.is_empty() {
        let slowest: Vec<String> = a
            .slowest
            .iter()
            .map(|(op, machine, d)| format!("{op} {} {}", machine.as_deref().unwrap_or("-"), human_duration(*d)))
            .collect();
        line.push_str(&format!("; slowest: {}", slowest.join(", ")));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_are_rate_limited_and_plain() {
        let p = PlainProgress::with_interval(Vec::new(), Duration::from_secs(3600));
        p.event(&Event::TierStarted {
            tier: "fast",
            machines: false,
        });
        for done in 1..=50 {
            p.event(&Event::TestFinished {
                tier: "fast",
                test: "t",
                status: if done == 3 {
                    TestStatus::Failed
                } else {
                    TestStatus::Passed
                },
                done,
                total: 50,
            });
        }
        let text = String::from_utf8(p.into_inner()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains('\x1b'));
    }
}
