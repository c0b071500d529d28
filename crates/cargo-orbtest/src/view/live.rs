//! The live view on a terminal (indicatif): a spinner per build or preflight step, one bar per
//! tier (done/total, running, failed and flaky so far, ETA), and a status line with memory,
//! swap, CPU and machines, refreshed by each monitor sample (at least once a second). Finished
//! steps and tiers turn into plain lines above the bars, so the scrollback reads like the CI log.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::progress::{resources, tier_line};
use super::terminal::Style;
use crate::events::{Event, Observer, StepOutcome};
use crate::report::human_duration;
use crate::results::{TestStatus, TierOutcome};

/// Redraws per second at most; the bars change far more often when tests are quick.
const DRAW_HZ: u8 = 8;
const SPINNER_TICK: Duration = Duration::from_millis(120);

pub struct LiveView {
    multi: MultiProgress,
    style: Style,
    /// Show nextest's output above the bars (`-v`).
    verbose: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    status: Option<ProgressBar>,
    /// cargo writes to the terminal directly during a `-v` build: draw nothing below it then.
    raw_output: bool,
    spinner: Option<ProgressBar>,
    tier: Option<TierBar>,
    running: u64,
}

struct TierBar {
    bar: ProgressBar,
    failed: usize,
    flaky: usize,
    /// A command tier: no per-test progress, but its attempt and last line of output.
    command: Option<(u32, String)>,
}

/// Characters of a command's last output line shown in its tier's bar.
const OUTPUT_WIDTH: usize = 60;

impl LiveView {
    /// Draws on stderr.
    pub fn new(color: bool, verbose: bool) -> Self {
        Self::with_target(ProgressDrawTarget::stderr_with_hz(DRAW_HZ), color, verbose)
    }

    /// Draws on `target` (tests and benchmarks use an in-memory terminal).
    pub fn with_target(target: ProgressDrawTarget, color: bool, verbose: bool) -> Self {
        // indicatif styles its templates through console's global switch.
        console::set_colors_enabled_stderr(color);
        Self {
            multi: MultiProgress::with_draw_target(target),
            style: Style { color },
            verbose,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Removes the bars and the status line, before the final summary is printed.
    pub fn finish(&self) {
        let mut s = self.lock();
        for bar in [s.spinner.take(), s.tier.take().map(|t| t.bar), s.status.take()]
            .into_iter()
            .flatten()
        {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }

    fn println(&self, line: &str) {
        let _ = self.multi.println(line);
    }

    fn spinner(&self, s: &mut State, message: String) {
        if let Some(old) = s.spinner.take() {
            old.finish_and_clear();
        }
        let bar = ProgressBar::new_spinner()
            .with_style(template("{spinner:.cyan} {msg} {elapsed:.dim}"))
            .with_message(message);
        let bar = match &s.status {
            Some(status) => self.multi.insert_before(status, bar),
            None => self.multi.add(bar),
        };
        bar.enable_steady_tick(SPINNER_TICK);
        s.spinner = Some(bar);
    }

    fn end_spinner(&self, s: &mut State, ok: bool, line: String) {
        if let Some(bar) = s.spinner.take() {
            bar.finish_and_clear();
        }
        self.println(&format!("{} {line}", self.mark(ok)));
    }

    fn mark(&self, ok: bool) -> String {
        if ok {
            self.style.green("✓")
        } else {
            self.style.red("✗")
        }
    }

    fn tier_message(&self, t: &TierBar, running: u64) -> String {
        if let Some((attempt, last)) = &t.command {
            let attempt = if *attempt > 1 {
                format!("attempt {attempt} · ")
            } else {
                String::new()
            };
            let last: String = last.chars().take(OUTPUT_WIDTH).collect();
            return format!("{attempt}{running} running · {}", self.style.dim(&last));
        }
        let failed = format!("{} failed", t.failed);
        let flaky = format!("{} flaky", t.flaky);
        format!(
            "{running} running · {} · {}",
            if t.failed > 0 { self.style.red(&failed) } else { failed },
            if t.flaky > 0 { self.style.yellow(&flaky) } else { flaky },
        )
    }
}

fn template(t: &str) -> ProgressStyle {
    // The templates are constants; a broken one falls back to indicatif's default style.
    ProgressStyle::with_template(t).unwrap_or_else(|_| ProgressStyle::default_bar())
}

impl Observer for LiveView {
    fn event(&self, event: &Event<'_>) {
        let mut s = self.lock();
        match event {
            Event::RunStarted { .. } => {}
            Event::BuildStarted if self.verbose => {
                s.raw_output = true;
                self.println("building tests");
            }
            Event::BuildStarted => self.spinner(&mut s, "building tests".into()),
            Event::BuildFinished { duration, failure } => {
                s.raw_output = false;
                let line = match failure {
                    None => format!("built in {}", human_duration(*duration)),
                    Some(failure) => failure.to_string(),
                };
                self.end_spinner(&mut s, failure.is_none(), line);
            }
            Event::StepStarted { step } => self.spinner(&mut s, step.to_string()),
            Event::StepFinished {
                step,
                duration,
                outcome,
            } => {
                let line = match outcome {
                    StepOutcome::Done(msg) if msg.is_empty() => format!("{step} ({})", human_duration(*duration)),
                    StepOutcome::Done(msg) => format!("{step}: {msg} ({})", human_duration(*duration)),
                    StepOutcome::Failed(msg) => format!("{step}: FAILED: {msg}"),
                };
                self.end_spinner(&mut s, matches!(outcome, StepOutcome::Done(_)), line);
            }
            Event::TierStarted { tier, .. } => {
                let bar = ProgressBar::new(0)
                    .with_style(template(
                        "{prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len} {msg} · ETA {eta}",
                    ))
                    .with_prefix(format!("tier {tier}"));
                let bar = match &s.status {
                    Some(status) => self.multi.insert_before(status, bar),
                    None => self.multi.add(bar),
                };
                let t = TierBar {
                    bar,
                    failed: 0,
                    flaky: 0,
                    command: None,
                };
                s.running = 0;
                t.bar.set_message(self.tier_message(&t, 0));
                s.tier = Some(t);
            }
            Event::TierProcess { .. } => {}
            Event::TierCommand { tier, attempt, command } => {
                if *attempt > 1 {
                    self.println(&format!("  tier {tier}: retrying (attempt {attempt}): {command}"));
                }
                let running = s.running;
                if let Some(t) = s.tier.as_mut() {
                    t.command = Some((*attempt, String::new()));
                    t.bar
                        .set_style(template("{prefix:.bold} {spinner:.cyan} {elapsed} {msg}"));
                    t.bar.enable_steady_tick(SPINNER_TICK);
                    t.bar.set_message(self.tier_message(t, running));
                }
            }
            Event::TierTotal { total, .. } => {
                if let Some(t) = &s.tier {
                    t.bar.set_length(*total as u64);
                }
            }
            Event::TestFinished { status, done, .. } => {
                let running = s.running;
                if let Some(t) = s.tier.as_mut() {
                    match status {
                        TestStatus::Failed | TestStatus::TimedOut => t.failed += 1,
                        TestStatus::Flaky => t.flaky += 1,
                        _ => {}
                    }
                    t.bar.set_position(*done as u64);
                    t.bar.set_message(self.tier_message(t, running));
                }
            }
            Event::TierOutput { line, .. } => {
                if self.verbose {
                    self.println(&super::text::line(line));
                }
                let running = s.running;
                if let Some(t) = s.tier.as_mut()
                    && let Some((_, last)) = t.command.as_mut()
                    && !line.trim().is_empty()
                {
                    *last = super::text::line(line.trim()).into_owned();
                    t.bar.set_message(self.tier_message(t, running));
                }
            }
            Event::TierFinished { result } => {
                if let Some(t) = s.tier.take() {
                    t.bar.finish_and_clear();
                }
                let ok = result.outcome != TierOutcome::Failed;
                self.println(&format!("{} {}", self.mark(ok), super::text::line(&tier_line(result))));
            }
            Event::TierSkipped { tier, reason } => {
                self.println(&format!(
                    "{} tier {tier}: skipped: {}",
                    self.style.yellow("-"),
                    super::text::line(reason)
                ));
            }
            Event::Resources { sample } => {
                s.running = sample.running_tests;
                if let Some(t) = &s.tier {
                    t.bar.set_message(self.tier_message(t, sample.running_tests));
                }
                if s.status.is_none() && !s.raw_output {
                    // Created on the first sample, below everything else.
                    let bar = ProgressBar::new_spinner().with_style(template("  {msg:.dim}"));
                    s.status = Some(self.multi.add(bar));
                }
                if let Some(status) = &s.status {
                    status.set_message(resources(sample));
                }
            }
            Event::MachineActivity { tier, activity } => {
                self.println(&format!("  {}", super::progress::machine_activity(tier, activity)));
            }
            Event::Note { message } => self.println(&super::text::line(message)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::Arc;

    use super::*;
    use crate::monitor::Sample;

    /// A terminal that keeps the last frame's lines.
    #[derive(Debug, Default, Clone)]
    struct Screen(Arc<Mutex<Vec<String>>>);

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            120
        }
        fn move_cursor_up(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> io::Result<()> {
            self.0.lock().unwrap().push(s.to_string());
            Ok(())
        }
        fn write_str(&self, s: &str) -> io::Result<()> {
            self.0.lock().unwrap().push(s.to_string());
            Ok(())
        }
        fn clear_line(&self) -> io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn shows_the_tier_bar_and_the_status_line() {
        let screen = Screen::default();
        let view = LiveView::with_target(ProgressDrawTarget::term_like(Box::new(screen.clone())), false, false);
        view.event(&Event::RunStarted {
            run_id: "r",
            dir: std::path::Path::new("/tmp"),
        });
        view.event(&Event::TierStarted {
            tier: "fast",
            machines: false,
        });
        view.event(&Event::TierTotal { tier: "fast", total: 4 });
        view.event(&Event::TestFinished {
            tier: "fast",
            test: "a::b",
            status: TestStatus::Failed,
            done: 1,
            total: 4,
        });
        view.event(&Event::Resources {
            sample: &Sample {
                t_ms: 1000,
                memory_percent: 41.0,
                swap_percent: 7.0,
                cpu_percent: 50.0,
                machines: Some(2),
                creates_in_flight: Some(1),
                running_tests: 3,
                tier: Some("fast".into()),
                pressure_from: "host".into(),
            },
        });
        // Draws are rate-limited; finishing the bar forces the last frame.
        let text = screen.0.lock().unwrap().join("\n");
        assert!(text.contains("tier fast"), "{text}");
        assert!(text.contains("1/4"), "{text}");
        view.event(&Event::Note { message: "hello" });
        let text = screen.0.lock().unwrap().join("\n");
        assert!(
            text.contains("memory 41%, swap 7%, cpu 50%, machines 2 (1 creating)"),
            "{text}"
        );
        assert!(text.contains("3 running · 1 failed · 0 flaky"), "{text}");
        assert!(text.contains("hello"));
        view.finish();
    }

    #[test]
    fn a_command_tier_shows_its_last_line_of_output() {
        let screen = Screen::default();
        let view = LiveView::with_target(ProgressDrawTarget::term_like(Box::new(screen.clone())), false, false);
        view.event(&Event::TierStarted {
            tier: "py",
            machines: true,
        });
        view.event(&Event::TierCommand {
            tier: "py",
            attempt: 2,
            command: "pytest --lf",
        });
        view.event(&Event::TierOutput {
            tier: "py",
            line: "tests/test_a.py ..F",
        });
        view.event(&Event::Note { message: "redraw" });
        let text = screen.0.lock().unwrap().join("\n");
        assert!(text.contains("tier py: retrying (attempt 2): pytest --lf"), "{text}");
        assert!(text.contains("attempt 2 · 0 running · tests/test_a.py ..F"), "{text}");
        view.finish();
    }
}
