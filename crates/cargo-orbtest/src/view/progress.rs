//! Progress as plain lines, for CI logs and pipes: no control characters, at most one progress
//! line per tier every 10 seconds (also while no test finishes, from the monitor's samples, so
//! a long test does not look like a hang), a line for each failed attempt and each retry wait.
//! The counts are the final summary's ([`Tally`]). In GitHub Actions each tier is a collapsible
//! `::group::`.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::tally::Tally;
use crate::events::{Event, Observer, StepOutcome};
use crate::monitor::Sample;
use crate::report::{count, count_as, counts_phrase, human_duration, seconds};
use crate::results::{TierOutcome, TierResult};

pub struct PlainProgress<W: Write + Send> {
    out: Mutex<State<W>>,
    interval: Duration,
    github: bool,
}

struct State<W> {
    out: W,
    last_line: Option<Instant>,
    /// The running tier.
    tally: Option<Tally>,
    sample: Option<Sample>,
    /// A command tier: when its command started and its last line of output.
    command: Option<(Instant, String)>,
}

/// Characters of a command's last output line in a progress line.
const OUTPUT_WIDTH: usize = 100;
/// Running tests named in a progress line.
const RUNNING_NAMED: usize = 3;

impl<W> State<W> {
    fn progress_line(&mut self, interval: Duration) -> Option<String> {
        let t = self.tally.as_ref()?;
        if self.last_line.is_some_and(|t| t.elapsed() < interval) {
            return None;
        }
        self.last_line = Some(Instant::now());
        let tier = &t.tier;
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
                "tier {tier}: {}/{} done ({})",
                t.done,
                count(t.total as u64, "test"),
                counts_phrase(&t.counts)
            ),
        };
        if let Some(s) = &self.sample {
            line.push_str(&format!(", {} running", s.running_tests));
        }
        let running = t.running_now();
        if self.command.is_none() && !running.is_empty() {
            let named: Vec<String> = running
                .iter()
                .take(RUNNING_NAMED)
                .map(|(name, d)| format!("{name} {}", seconds(*d)))
                .collect();
            line.push_str(&format!(" ({})", named.join(", ")));
        }
        if self.command.is_none()
            && let Some(eta) = t.eta()
        {
            line.push_str(&format!(
                ", ETA {}",
                seconds(Duration::from_secs(eta.as_secs_f64().ceil().max(1.0) as u64))
            ));
        }
        if let Some(s) = &self.sample {
            line.push_str(&format!("; {}", resources(s)));
        }
        Some(line)
    }
}

/// `tier fast: passed in 3.2s: 16 passed (1 flaky), 1 skipped`, when a tier ends.
pub(crate) fn tier_line(result: &TierResult) -> String {
    // Left empty on purpose (another shard runs it): say why instead of counting nothing.
    if let (TierOutcome::Passed, None, Some(reason)) = (result.outcome, result.started_at, &result.reason) {
        return format!("tier {}: {reason}", result.name);
    }
    let verdict = match result.outcome {
        TierOutcome::Failed => "FAILED".to_string(),
        _ => result.verdict(),
    };
    format!(
        "tier {}: {verdict} in {}: {}",
        result.name,
        human_duration(result.duration),
        counts_phrase(&result.counts)
    )
}

/// `FAIL a::api boots (attempt 2): message`: a failed attempt, as both views print it first.
pub(crate) fn failed_line(test: &str, attempt: u32, status: crate::results::TestStatus) -> String {
    let what = match status {
        crate::results::TestStatus::TimedOut => "TIMEOUT",
        _ => "FAIL",
    };
    if attempt > 1 {
        format!("{what} {test} (attempt {attempt})")
    } else {
        format!("{what} {test}")
    }
}

/// `retrying a::api boots in 5s (attempt 2 of 3)`.
pub(crate) fn retrying_line(test: &str, attempt: u32, of: u32, delay: Duration) -> String {
    format!("retrying {test} in {} (attempt {attempt} of {of})", seconds(delay))
}

/// What the run does after an interrupt, said the moment it arrives (the first two times).
pub(crate) fn stopping_line(interrupt: crate::signals::Interrupt, count: usize) -> Option<String> {
    let name = interrupt.name();
    match count {
        1 => Some(format!(
            "stopping… ({name}): ending the tests, then deleting the run's machines and writing the reports; \
             {name} again stops at once"
        )),
        2 => Some(format!(
            "stopping at once ({name} again): the tests are killed; reports still follow"
        )),
        _ => None,
    }
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
                tally: None,
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
        let mut extra: Vec<String> = Vec::new();
        let line = match event {
            Event::RunStarted { .. } | Event::TierProcess { .. } | Event::TestBinaries { .. } => None,
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
                s.command = None;
                s.last_line = Some(Instant::now());
                s.tally = Some(Tally::new(tier));
                if self.github {
                    text.push_str(&format!("::group::tier {tier}\n"));
                }
                Some(format!("tier {tier}: starting"))
            }
            Event::TierExpected { threads, durations, .. } => {
                if let Some(t) = s.tally.as_mut() {
                    t.expect(*threads, durations);
                }
                None
            }
            Event::TierTotal { tier, total } => {
                if let Some(t) = s.tally.as_mut() {
                    t.total = *total;
                }
                Some(format!("tier {tier}: {}", count(*total as u64, "test")))
            }
            Event::TestFinished {
                test,
                status,
                duration,
                done,
                total,
                ..
            } => {
                if let Some(t) = s.tally.as_mut() {
                    t.finished(test, *status, *duration, *done, *total);
                }
                s.progress_line(self.interval)
            }
            Event::TestFailed {
                tier,
                test,
                attempt,
                status,
                message,
            } => {
                let mut line = format!("tier {tier}: {}", failed_line(test, *attempt, *status));
                if let Some(first) = message.first() {
                    line.push_str(&format!(": {first}"));
                }
                Some(line)
            }
            Event::TestRetrying {
                tier,
                test,
                attempt,
                of,
                delay,
            } => Some(format!("tier {tier}: {}", retrying_line(test, *attempt, *of, *delay))),
            Event::TestsRunning { tests, .. } => {
                if let Some(t) = s.tally.as_mut() {
                    t.set_running(tests);
                }
                None
            }
            Event::Interrupted { interrupt, count } => stopping_line(*interrupt, *count),
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
                s.tally = None;
                s.command = None;
                Some(tier_line(result))
            }
            Event::TierSkipped { tier, reason } => Some(format!("tier {tier}: skipped: {reason}")),
            Event::MachineActivity { tier, activity } => Some(machine_activity(tier, activity)),
            Event::Note { message } => Some(message.to_string()),
        };
        if let Event::TestFailed { message, .. } = event {
            extra.extend(message.iter().skip(1).map(|l| format!("  {l}")));
        }
        if let Some(line) = line {
            text.push_str(&format!("orbtest: {}\n", super::text::line(&line)));
        }
        for l in &extra {
            text.push_str(&format!("orbtest: {}\n", super::text::line(l)));
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
pub(super) fn machine_activity(tier: &str, a: &crate::results::MachineActivity) -> String {
    let mut line = format!(
        "tier {tier}: machines: {} ({} as clones of baselines), {} recovered, {}, peak {}",
        count(a.creates + a.clones, "create"),
        a.clones,
        a.recoveries,
        count_as(a.retries, "retry", "retries"),
        count(a.peak_concurrent_creates, "concurrent create")
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
    use crate::results::TestStatus;

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
                duration: Duration::from_millis(5),
                done,
                total: 50,
            });
        }
        let text = String::from_utf8(p.into_inner()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn progress_counts_as_the_summary_does_and_failures_are_told_at_once() {
        let p = PlainProgress::with_interval(Vec::new(), Duration::ZERO);
        p.event(&Event::TierStarted {
            tier: "slow",
            machines: false,
        });
        p.event(&Event::TierTotal { tier: "slow", total: 3 });
        for (test, status) in [("a x", TestStatus::TimedOut), ("a y", TestStatus::Flaky)] {
            p.event(&Event::TestFinished {
                tier: "slow",
                test,
                status,
                duration: Duration::from_secs(1),
                done: 1,
                total: 3,
            });
        }
        p.event(&Event::TestFailed {
            tier: "slow",
            test: "a z",
            attempt: 2,
            status: TestStatus::Failed,
            message: &["boom".into(), "second line".into()],
        });
        p.event(&Event::TestRetrying {
            tier: "slow",
            test: "a z",
            attempt: 3,
            of: 3,
            delay: Duration::from_secs(5),
        });
        p.event(&Event::Interrupted {
            interrupt: crate::signals::Interrupt::Int,
            count: 1,
        });
        let text = String::from_utf8(p.into_inner()).unwrap();
        // A timeout is not a failure: the same words as the final summary.
        assert!(
            text.contains("1/3 tests done (1 passed (1 flaky), 1 timed out)"),
            "{text}"
        );
        assert!(!text.contains("failed"), "{text}");
        assert!(
            text.contains("orbtest: tier slow: FAIL a z (attempt 2): boom\norbtest:   second line\n"),
            "{text}"
        );
        assert!(
            text.contains("orbtest: tier slow: retrying a z in 5s (attempt 3 of 3)\n"),
            "{text}"
        );
        assert!(text.contains("orbtest: stopping… (SIGINT): ending the tests"), "{text}");
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
