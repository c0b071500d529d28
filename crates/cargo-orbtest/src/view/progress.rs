//! Progress as plain lines, for CI logs and pipes: no control characters, and at most one
//! progress line per tier every 10 seconds (also while no test finishes, from the monitor's
//! samples, so a long test does not look like a hang). In GitHub Actions each tier is a
//! collapsible `::group::`.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::events::{Event, Observer, StepOutcome};
use crate::monitor::Sample;
use crate::report::human_duration;
use crate::results::{TestStatus, TierOutcome, TierResult};

pub struct PlainProgress<W: Write + Send> {
    out: Mutex<State<W>>,
    interval: Duration,
    github: bool,
}

struct State<W> {
    out: W,
    last_line: Option<Instant>,
    /// The running tier: name, done, total.
    tier: Option<(String, usize, usize)>,
    failed: usize,
    flaky: usize,
    sample: Option<Sample>,
    /// A command tier: when its command started and its last line of output.
    command: Option<(Instant, String)>,
}

/// Characters of a command's last output line in a progress line.
const OUTPUT_WIDTH: usize = 100;

impl<W> State<W> {
    fn progress_line(&mut self, interval: Duration) -> Option<String> {
        let (tier, done, total) = self.tier.as_ref()?;
        if self.last_line.is_some_and(|t| t.elapsed() < interval) {
            return None;
        }
        self.last_line = Some(Instant::now());
        let mut line = match &self.command {
            Some((since, last)) => format!(
                "tier {tier}: running for {}, last output: {}",
                human_duration(Duration::from_secs(since.elapsed().as_secs())),
                if last.is_empty() {
                    "none yet".to_string()
                } else {
                    last.chars().take(OUTPUT_WIDTH).collect()
                }
            ),
            None => format!(
                "tier {tier}: {done}/{total} done, {} failed, {} flaky",
                self.failed, self.flaky
            ),
        };
        if let Some(s) = &self.sample {
            line.push_str(&format!(", {} running; {}", s.running_tests, resources(s)));
        }
        Some(line)
    }
}

/// `tier fast: passed in 3.2s (50 passed, ...)`, when a tier ends.
pub(crate) fn tier_line(result: &TierResult) -> String {
    // Left empty on purpose (another shard runs it): say why instead of counting nothing.
    if let (TierOutcome::Passed, None, Some(reason)) = (result.outcome, result.started_at, &result.reason) {
        return format!("tier {}: {reason}", result.name);
    }
    let c = &result.counts;
    let verdict = match result.outcome {
        TierOutcome::Failed => "FAILED".to_string(),
        _ => result.verdict(),
    };
    let not_run = match c.not_run {
        0 => String::new(),
        n => format!(", {n} not run"),
    };
    format!(
        "tier {}: {verdict} in {} ({} passed, {} failed, {} timed out, {} flaky, {} skipped{not_run})",
        result.name,
        human_duration(result.duration),
        c.passed,
        c.failed,
        c.timed_out,
        c.flaky,
        c.skipped
    )
}

/// `memory 45%, swap 3%, machines 2 (1 creating)` for progress and status lines.
pub(crate) fn resources(s: &Sample) -> String {
    let mut text = format!(
        "memory {:.0}%, swap {:.0}%, cpu {:.0}%",
        s.memory_percent, s.swap_percent, s.cpu_percent
    );
    if let Some(m) = s.machines {
        text.push_str(&format!(", machines {m}"));
        if let Some(c) = s.creates_in_flight.filter(|c| *c > 0) {
            text.push_str(&format!(" ({c} creating)"));
        }
    }
    text
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
                tier: None,
                failed: 0,
                flaky: 0,
                sample: None,
                command: None,
            }),
            interval,
            github: false,
        }
    }

    /// Wraps each tier in a GitHub Actions log group.
    pub fn github_groups(mut self, on: bool) -> Self {
        self.github = on;
        self
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
        // Group markers share the stream (and so the order) of the progress lines; the Actions
        // runner reads workflow commands from stderr as well as stdout.
        let mut text = String::new();
        let line = match event {
            Event::RunStarted { .. } | Event::TierProcess { .. } => None,
            Event::Resources { sample } => {
                s.sample = Some((*sample).clone());
                s.progress_line(self.interval)
            }
            Event::BuildStarted => Some("building tests".to_string()),
            Event::BuildFinished {
                duration,
                failure: None,
            } => Some(format!("built in {}", human_duration(*duration))),
            Event::BuildFinished {
                failure: Some(failure), ..
            } => Some(failure.to_string()),
            Event::StepStarted { .. } => None,
            Event::StepFinished {
                step,
                duration,
                outcome,
            } => Some(match outcome {
                StepOutcome::Done(msg) if msg.is_empty() => format!("{step}: ok ({})", human_duration(*duration)),
                StepOutcome::Done(msg) => format!("{step}: {msg} ({})", human_duration(*duration)),
                StepOutcome::Failed(msg) => format!("{step}: FAILED: {msg}"),
            }),
            Event::TierStarted { tier, .. } => {
                s.failed = 0;
                s.flaky = 0;
                s.command = None;
                s.last_line = Some(Instant::now());
                s.tier = Some((tier.to_string(), 0, 0));
                if self.github {
                    text.push_str(&format!("::group::tier {tier}\n"));
                }
                Some(format!("tier {tier}: starting"))
            }
            Event::TierTotal { tier, total } => {
                if let Some(t) = s.tier.as_mut() {
                    t.2 = *total;
                }
                Some(format!("tier {tier}: {total} tests"))
            }
            Event::TestFinished {
                status, done, total, ..
            } => {
                match status {
                    TestStatus::Failed | TestStatus::TimedOut => s.failed += 1,
                    TestStatus::Flaky => s.flaky += 1,
                    _ => {}
                }
                if let Some(t) = s.tier.as_mut() {
                    (t.1, t.2) = (*done, *total);
                }
                s.progress_line(self.interval)
            }
            Event::TierCommand { tier, attempt, command } => {
                s.command = Some((Instant::now(), String::new()));
                Some(match attempt {
                    1 => format!("tier {tier}: running {command}"),
                    n => format!("tier {tier}: retrying (attempt {n}): {command}"),
                })
            }
            Event::TierOutput { line, .. } => {
                if let Some((_, last)) = s.command.as_mut()
                    && !line.trim().is_empty()
                {
                    *last = line.trim().to_string();
                }
                None
            }
            Event::TierFinished { result } => {
                s.tier = None;
                s.command = None;
                Some(tier_line(result))
            }
            Event::TierSkipped { tier, reason } => Some(format!("tier {tier}: skipped: {reason}")),
            Event::MachineActivity { tier, activity } => Some(machine_activity(tier, activity)),
            Event::Note { message } => Some(message.to_string()),
        };
        if let Some(line) = line {
            text.push_str(&format!("orbtest: {}\n", super::text::line(&line)));
        }
        if self.github && matches!(event, Event::TierFinished { .. }) {
            text.push_str("::endgroup::\n");
        }
        if !text.is_empty() {
            let _ = s.out.write_all(text.as_bytes());
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

    #[test]
    fn a_command_tier_reports_its_time_and_last_output() {
        let p = PlainProgress::with_interval(Vec::new(), Duration::ZERO);
        p.event(&Event::TierStarted {
            tier: "py",
            machines: false,
        });
        p.event(&Event::TierCommand {
            tier: "py",
            attempt: 1,
            command: "pytest -q",
        });
        p.event(&Event::TierOutput {
            tier: "py",
            line: "collected 3 items",
        });
        p.event(&Event::TierOutput { tier: "py", line: "" });
        p.event(&Event::TierCommand {
            tier: "py",
            attempt: 2,
            command: "pytest --lf",
        });
        p.event(&Event::TierOutput {
            tier: "py",
            line: "1 passed",
        });
        p.event(&Event::Resources {
            sample: &Sample {
                t_ms: 1000,
                memory_percent: 40.0,
                swap_percent: 0.0,
                cpu_percent: 10.0,
                machines: None,
                creates_in_flight: None,
                running_tests: 2,
                tier: Some("py".into()),
                pressure_from: "host".into(),
            },
        });
        let text = String::from_utf8(p.into_inner()).unwrap();
        assert!(text.contains("orbtest: tier py: running pytest -q\n"), "{text}");
        assert!(
            text.contains("orbtest: tier py: retrying (attempt 2): pytest --lf\n"),
            "{text}"
        );
        assert!(text.contains("tier py: running for "), "{text}");
        assert!(
            text.contains(", last output: 1 passed, 2 running; memory 40%"),
            "{text}"
        );
    }
}
