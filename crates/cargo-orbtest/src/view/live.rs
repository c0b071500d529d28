//! The live view on a terminal (indicatif, drawn through [`AnsiTerm`]): a spinner per build or
//! preflight step, one bar per tier (done/total, running, failed, timed out and flaky so far,
//! an ETA from recorded durations), the running tests longest first, and a status line with
//! memory, swap, CPU and machines, refreshed by each monitor sample (at least once a second).
//! Finished steps and tiers, each failed attempt (with the first lines of its message), retry
//! waits and the moment Ctrl-C arrives become plain lines above the bars, so the scrollback
//! reads like the CI log. Every line fits the terminal's width as it is at each frame.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::progress::{failed_line, resources, retrying_line, stopping_line, tier_line};
use super::tally::Tally;
use super::term::AnsiTerm;
use super::terminal::Style;
use super::text;
use crate::events::{Event, Observer, StepOutcome};
use crate::report::{human_duration, seconds};
use crate::results::TierOutcome;

/// Redraws per second at most; the bars change far more often when tests are quick.
const DRAW_HZ: u8 = 8;
const SPINNER_TICK: Duration = Duration::from_millis(120);
/// Running tests shown under the tier's bar.
const RUNNING_SHOWN: usize = 3;

pub struct LiveView {
    multi: MultiProgress,
    term: Arc<AnsiTerm>,
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
    /// The bar width the tier bar's style was made for.
    bar_width: usize,
}

struct TierBar {
    bar: ProgressBar,
    tally: Tally,
    /// One line per running test, under the bar.
    running: Vec<ProgressBar>,
    /// A command tier: no per-test progress, but its attempt and last line of output.
    command: Option<(u32, String)>,
}

/// A terminal shared by the view and indicatif's draw target.
#[derive(Debug)]
struct Shared(Arc<AnsiTerm>);

impl indicatif::TermLike for Shared {
    fn width(&self) -> u16 {
        self.0.width()
    }
    fn height(&self) -> u16 {
        self.0.height()
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_up(n)
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_down(n)
    }
    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_right(n)
    }
    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_left(n)
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.0.write_line(s)
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.0.write_str(s)
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.0.clear_line()
    }
    fn flush(&self) -> std::io::Result<()> {
        self.0.flush()
    }
}

use indicatif::TermLike as _;

/// The bar's width for a terminal `columns` wide: the bar gives way first when it narrows.
fn bar_width(columns: usize) -> usize {
    match columns {
        0..60 => 0,
        60..100 => 16,
        _ => 30,
    }
}

impl LiveView {
    /// Draws on stderr.
    pub fn new(color: bool, verbose: bool) -> Self {
        Self::on(AnsiTerm::stderr(), Some(DRAW_HZ), color, verbose)
    }

    /// Draws on `term`, at most `hz` frames a second (`None`: every change at once, as tests
    /// want it).
    pub fn on(term: AnsiTerm, hz: Option<u8>, color: bool, verbose: bool) -> Self {
        // indicatif styles its templates through console's global switch.
        console::set_colors_enabled_stderr(color);
        let term = Arc::new(term);
        let shared = Box::new(Shared(term.clone()));
        let target = match hz {
            Some(hz) => ProgressDrawTarget::term_like_with_hz(shared, hz),
            None => ProgressDrawTarget::term_like(shared),
        };
        Self {
            multi: MultiProgress::with_draw_target(target),
            term,
            style: Style { color },
            verbose,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn columns(&self) -> usize {
        self.term.width() as usize
    }

    /// Removes the bars and the status line, before the final summary is printed, and shows
    /// the cursor again.
    pub fn finish(&self) {
        let mut s = self.lock();
        let tier = s.tier.take();
        let bars = tier
            .map(|t| {
                let mut bars = t.running;
                bars.push(t.bar);
                bars
            })
            .unwrap_or_default();
        for bar in bars.into_iter().chain(s.spinner.take()).chain(s.status.take()) {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
        self.term.restore();
    }

    /// A line above the bars, cut to the terminal's width.
    fn println(&self, line: &str) {
        let columns = self.columns();
        let _ = self
            .multi
            .println(console::truncate_str(line, columns.saturating_sub(1), "…"));
    }

    fn spinner(&self, s: &mut State, message: String) {
        if let Some(old) = s.spinner.take() {
            old.finish_and_clear();
        }
        let bar = ProgressBar::new_spinner()
            .with_style(template("{spinner:.cyan} {elapsed:.dim} {wide_msg}"))
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

    /// The tier bar's style for this terminal width (set again when the width changes).
    fn tier_style(&self, s: &mut State) {
        let width = bar_width(self.columns());
        let Some(t) = s.tier.as_ref() else { return };
        if width == s.bar_width {
            return;
        }
        let style = match (&t.command, width) {
            (Some(_), _) => template("{prefix:.bold} {spinner:.cyan} {elapsed} {wide_msg}"),
            // Until nextest says how many tests the tier runs, a bar would read "0/0", full.
            (None, _) if t.tally.total == 0 => template("{prefix:.bold} {wide_msg}"),
            (None, 0) => template("{prefix:.bold} {pos}/{len} {wide_msg}"),
            (None, w) => template(&format!(
                "{{prefix:.bold}} [{{bar:{w}.cyan/blue}}] {{pos}}/{{len}} {{wide_msg}}"
            )),
        };
        t.bar.set_style(style);
        s.bar_width = width;
    }

    fn tier_message(&self, t: &TierBar, running: u64) -> String {
        if let Some((attempt, last)) = &t.command {
            let attempt = if *attempt > 1 {
                format!("attempt {attempt} · ")
            } else {
                String::new()
            };
            return format!("{attempt}{running} running · {}", self.style.dim(last));
        }
        if t.tally.total == 0 {
            return "starting…".to_string();
        }
        let c = &t.tally.counts;
        let mut parts = vec![format!("{running} running")];
        for (n, what, paint) in [
            (c.failed, "failed", Some(true)),
            (c.timed_out, "timed out", Some(true)),
            (c.flaky, "flaky", Some(false)),
        ] {
            if n > 0 {
                let text = format!("{n} {what}");
                parts.push(match paint {
                    Some(true) => self.style.red(&text),
                    _ => self.style.yellow(&text),
                });
            }
        }
        parts.push(match t.tally.eta() {
            // Whole seconds, rounded up: a test with 100 ms left is not done.
            Some(eta) => format!(
                "ETA {}",
                seconds(Duration::from_secs(eta.as_secs_f64().ceil().max(1.0) as u64))
            ),
            None => "ETA –".to_string(),
        });
        parts.join(" · ")
    }

    /// The tier's message and the lines of its running tests, longest first.
    fn redraw_tier(&self, s: &mut State) {
        self.tier_style(s);
        let running = s.running;
        let Some(t) = s.tier.as_mut() else { return };
        t.bar.set_message(self.tier_message(t, running));
        let tests = if t.command.is_some() {
            Vec::new()
        } else {
            t.tally.running_now()
        };
        let shown: Vec<String> = tests
            .iter()
            .take(RUNNING_SHOWN)
            .enumerate()
            .map(|(i, (name, ran))| {
                let more = if i + 1 == RUNNING_SHOWN && tests.len() > RUNNING_SHOWN {
                    format!(" (+{} more)", tests.len() - RUNNING_SHOWN)
                } else {
                    String::new()
                };
                format!("  {:>6} {}{more}", seconds(*ran), text::name(name))
            })
            .collect();
        while t.running.len() > shown.len() {
            if let Some(bar) = t.running.pop() {
                bar.finish_and_clear();
            }
        }
        while t.running.len() < shown.len() {
            let after = t.running.last().unwrap_or(&t.bar).clone();
            let bar = self.multi.insert_after(
                &after,
                ProgressBar::new_spinner().with_style(template("{wide_msg:.dim}")),
            );
            t.running.push(bar);
        }
        for (bar, line) in t.running.iter().zip(shown) {
            bar.set_message(line);
        }
    }
}

fn template(t: &str) -> ProgressStyle {
    // The templates are built here; a broken one falls back to indicatif's default style.
    ProgressStyle::with_template(t).unwrap_or_else(|_| ProgressStyle::default_bar())
}

impl Observer for LiveView {
    fn event(&self, event: &Event<'_>) {
        let mut s = self.lock();
        match event {
            Event::RunStarted { .. } | Event::TierProcess { .. } | Event::TestBinaries { .. } => {}
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
                let bar = ProgressBar::new(0).with_prefix(format!("tier {tier}"));
                let bar = match &s.status {
                    Some(status) => self.multi.insert_before(status, bar),
                    None => self.multi.add(bar),
                };
                s.tier = Some(TierBar {
                    bar,
                    tally: Tally::new(tier),
                    running: Vec::new(),
                    command: None,
                });
                s.running = 0;
                s.bar_width = usize::MAX;
                self.redraw_tier(&mut s);
            }
            Event::TierExpected { threads, durations, .. } => {
                if let Some(t) = s.tier.as_mut() {
                    t.tally.expect(*threads, durations);
                }
                self.redraw_tier(&mut s);
            }
            Event::TierCommand { tier, attempt, command } => {
                if *attempt > 1 {
                    self.println(&format!(
                        "  tier {tier}: retrying (attempt {attempt}): {}",
                        text::line(command)
                    ));
                }
                if let Some(t) = s.tier.as_mut() {
                    t.command = Some((*attempt, String::new()));
                    t.bar.enable_steady_tick(SPINNER_TICK);
                }
                s.bar_width = usize::MAX;
                self.redraw_tier(&mut s);
            }
            Event::TierTotal { total, .. } => {
                if let Some(t) = s.tier.as_mut() {
                    t.bar.set_length(*total as u64);
                    t.tally.total = *total;
                }
                // From a spinner to a bar.
                s.bar_width = usize::MAX;
                self.redraw_tier(&mut s);
            }
            Event::TestFinished {
                test,
                status,
                duration,
                done,
                total,
                ..
            } => {
                if let Some(t) = s.tier.as_mut() {
                    t.tally.finished(test, *status, *duration, *done, *total);
                    t.bar.set_position(*done as u64);
                }
                self.redraw_tier(&mut s);
            }
            Event::TestFailed {
                test,
                attempt,
                status,
                message,
                ..
            } => {
                let head = failed_line(&text::name(test), *attempt, *status);
                self.println(&format!("{} {}", self.style.red("✗"), self.style.red(&head)));
                for line in message.iter() {
                    self.println(&format!("    {}", self.style.dim(&text::line(line))));
                }
            }
            Event::TestRetrying {
                test,
                attempt,
                of,
                delay,
                ..
            } => {
                let line = retrying_line(&text::name(test), *attempt, *of, *delay);
                self.println(&format!("{} {}", self.style.yellow("↻"), self.style.yellow(&line)));
            }
            Event::TestsRunning { tests, .. } => {
                if let Some(t) = s.tier.as_mut() {
                    t.tally.set_running(tests);
                }
                self.redraw_tier(&mut s);
            }
            Event::Interrupted { interrupt, count } => {
                if let Some(line) = stopping_line(*interrupt, *count) {
                    self.println(&self.style.bold(&line));
                }
            }
            Event::TierOutput { line, .. } => {
                if self.verbose {
                    self.println(&text::line(line));
                }
                if let Some(t) = s.tier.as_mut()
                    && let Some((_, last)) = t.command.as_mut()
                    && !line.trim().is_empty()
                {
                    *last = text::line(line.trim()).into_owned();
                    self.redraw_tier(&mut s);
                }
            }
            Event::TierFinished { result } => {
                if let Some(t) = s.tier.take() {
                    for bar in t.running {
                        bar.finish_and_clear();
                    }
                    t.bar.finish_and_clear();
                }
                let ok = result.outcome != TierOutcome::Failed;
                self.println(&format!("{} {}", self.mark(ok), text::line(&tier_line(result))));
            }
            Event::TierSkipped { tier, reason } => {
                self.println(&format!(
                    "{} tier {tier}: skipped: {}",
                    self.style.yellow("-"),
                    text::line(reason)
                ));
            }
            Event::Resources { sample } => {
                s.running = sample.running_tests;
                self.redraw_tier(&mut s);
                if s.status.is_none() && !s.raw_output {
                    // Created on the first sample, below everything else.
                    let bar = ProgressBar::new_spinner().with_style(template("  {wide_msg:.dim}"));
                    s.status = Some(self.multi.add(bar));
                }
                if let Some(status) = &s.status {
                    status.set_message(resources(sample));
                }
            }
            Event::MachineActivity { tier, activity } => {
                self.println(&format!("  {}", super::progress::machine_activity(tier, activity)));
            }
            Event::Note { message } => self.println(&text::line(message)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;
    use crate::monitor::Sample;
    use crate::results::{TestCounts, TestStatus, TierResult};
    use crate::signals::Interrupt;

    /// A fake terminal of fixed size: what the view writes goes through a VT100 emulator.
    #[derive(Clone)]
    struct Screen {
        parser: Arc<Mutex<vt100::Parser>>,
        raw: Arc<Mutex<Vec<u8>>>,
        size: Arc<Mutex<(u16, u16)>>,
    }

    impl Screen {
        fn new(cols: u16) -> Self {
            Self {
                parser: Arc::new(Mutex::new(vt100::Parser::new(
                    std::num::NonZeroU16::new(40).unwrap(),
                    std::num::NonZeroU16::new(cols).unwrap(),
                    0,
                ))),
                raw: Arc::default(),
                size: Arc::new(Mutex::new((40, cols))),
            }
        }

        fn term(&self) -> AnsiTerm {
            let size = self.size.clone();
            AnsiTerm::new(Box::new(self.clone()), Box::new(move || *size.lock().unwrap()))
        }

        /// The visible rows, each as the terminal shows it, trailing blank rows dropped.
        fn text(&self) -> String {
            let parser = self.parser.lock().unwrap();
            let cols = parser.screen().size().1;
            let rows: Vec<String> = parser
                .screen()
                .rows(0, cols.into())
                .map(|r| r.trim_end().to_string())
                .collect();
            rows.join("\n").trim_end().to_string()
        }

        fn raw(&self) -> String {
            String::from_utf8_lossy(&self.raw.lock().unwrap()).into_owned()
        }
    }

    impl Write for Screen {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.parser.lock().unwrap().process(buf);
            self.raw.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn sample(running: u64) -> Sample {
        Sample {
            t_ms: 12_000,
            memory_percent: 41.0,
            swap_percent: 7.0,
            cpu_percent: 50.0,
            machines: Some(2),
            creates_in_flight: Some(1),
            running_tests: running,
            tier: Some("integration".into()),
            pressure_from: "host".into(),
        }
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// A tier part-way through: tests running (one far longer than the others), a failure
    /// with its message, a retry wait, then Ctrl-C.
    fn scene(view: &LiveView) {
        view.event(&Event::BuildFinished {
            duration: Duration::from_millis(4200),
            failure: None,
        });
        view.event(&Event::TierStarted {
            tier: "integration",
            machines: true,
        });
        let durations: Vec<(String, Duration)> = vec![
            ("app::api boots_in_time".into(), secs(60)),
            (
                "app::api creates_machine_with_a_very_long_name_that_does_not_fit_in_eighty_columns".into(),
                secs(15),
            ),
            ("app::api deletes_machine".into(), secs(4)),
            ("app::net retries".into(), secs(2)),
            ("app config::parses".into(), secs(1)),
        ];
        view.event(&Event::TierExpected {
            tier: "integration",
            threads: 2,
            durations: &durations,
        });
        view.event(&Event::TierTotal {
            tier: "integration",
            total: 6,
        });
        view.event(&Event::Resources { sample: &sample(3) });
        view.event(&Event::TestFinished {
            tier: "integration",
            test: "app config::parses",
            status: TestStatus::Passed,
            duration: secs(1),
            done: 1,
            total: 6,
        });
        view.event(&Event::TestFailed {
            tier: "integration",
            test: "app::api deletes_machine",
            attempt: 1,
            status: TestStatus::Failed,
            message: &[
                "assertion `left == right` failed: the machine is still there".into(),
                "  left: 1".into(),
                " right: 0".into(),
            ],
        });
        view.event(&Event::TestRetrying {
            tier: "integration",
            test: "app::api deletes_machine",
            attempt: 2,
            of: 3,
            delay: secs(5),
        });
        view.event(&Event::TestsRunning {
            tier: "integration",
            tests: &[
                ("app::net retries".into(), secs(1)),
                ("app::api boots_in_time".into(), secs(12)),
                (
                    "app::api creates_machine_with_a_very_long_name_that_does_not_fit_in_eighty_columns".into(),
                    secs(3),
                ),
                ("app::api waits".into(), secs(0)),
            ],
        });
        view.event(&Event::Interrupted {
            interrupt: Interrupt::Int,
            count: 1,
        });
    }

    /// The scene on a terminal `cols` wide; the view is returned too, as dropping it clears the
    /// bars.
    fn render(cols: u16) -> (Screen, LiveView) {
        let screen = Screen::new(cols);
        let view = LiveView::on(screen.term(), None, false, false);
        scene(&view);
        (screen, view)
    }

    fn assert_fits(screen: &Screen, cols: usize) {
        let text = screen.text();
        for line in text.lines() {
            assert!(line.chars().count() <= cols, "wider than {cols}: {line:?}\n{text}");
        }
    }

    #[test]
    fn live_view_at_80_columns() {
        let (screen, _view) = render(80);
        assert_fits(&screen, 80);
        insta::assert_snapshot!("live_view_80", screen.text());
    }

    #[test]
    fn live_view_at_160_columns() {
        let (screen, _view) = render(160);
        assert_fits(&screen, 160);
        insta::assert_snapshot!("live_view_160", screen.text());
    }

    #[test]
    fn the_view_says_what_is_happening() {
        let text = render(160).0.text();
        // Running tests, longest first, and the one that does not fit named with "+N more".
        let boots = text.find(" 12s app::api boots_in_time").expect(&text);
        let creates = text.find(" 3s app::api creates_machine").expect(&text);
        assert!(boots < creates, "{text}");
        assert!(text.contains("(+1 more)"), "{text}");
        assert!(text.contains("✗ FAIL app::api deletes_machine\n"), "{text}");
        assert!(
            text.contains("    assertion `left == right` failed: the machine is still there"),
            "{text}"
        );
        assert!(
            text.contains("↻ retrying app::api deletes_machine in 5s (attempt 2 of 3)"),
            "{text}"
        );
        assert!(text.contains("stopping… (SIGINT): ending the tests"), "{text}");
        // The ETA comes from recorded durations: 48 s of boots_in_time still to go, not 0s.
        assert!(text.contains("ETA 48s"), "{text}");
        assert!(text.contains("3 running"), "{text}");
    }

    #[test]
    fn frames_are_synchronized_and_the_cursor_hidden_until_the_end() {
        let screen = Screen::new(80);
        let view = LiveView::on(screen.term(), None, false, false);
        scene(&view);
        view.finish();
        let raw = screen.raw();
        assert!(raw.starts_with("\x1b[?25l"), "{raw:?}");
        assert!(raw.ends_with("\x1b[?25h"), "the cursor comes back: {raw:?}");
        assert_eq!(
            raw.matches("\x1b[?2026h").count(),
            raw.matches("\x1b[?2026l").count(),
            "every frame begins and ends"
        );
        // Finishing leaves the lines printed above the bars, and no bar.
        let text = screen.text();
        assert!(text.contains("stopping…"), "{text}");
        assert!(!text.contains("tier integration ["), "{text}");
    }

    #[test]
    fn a_narrow_terminal_drops_the_bar_and_truncates() {
        let (screen, _view) = render(40);
        assert_fits(&screen, 40);
        let text = screen.text();
        assert!(text.contains("tier integration 1/6"), "{text}");
        assert!(!text.contains('['), "no bar at 40 columns: {text}");
    }

    #[test]
    fn a_tier_says_starting_until_its_tests_are_counted_never_a_full_bar() {
        let screen = Screen::new(80);
        let view = LiveView::on(screen.term(), None, false, false);
        view.event(&Event::TierStarted {
            tier: "integration",
            machines: false,
        });
        let text = screen.text();
        assert!(text.contains("tier integration starting…"), "{text}");
        assert!(!text.contains("0/0"), "{text}");
        view.event(&Event::TierTotal {
            tier: "integration",
            total: 6,
        });
        let text = screen.text();
        assert!(text.contains("tier integration [") && text.contains("0/6"), "{text}");
        assert!(!text.contains("starting"), "{text}");
    }

    #[test]
    fn a_finished_tier_becomes_a_line_with_the_summarys_counts() {
        let screen = Screen::new(100);
        let view = LiveView::on(screen.term(), None, false, false);
        view.event(&Event::TierStarted {
            tier: "fast",
            machines: false,
        });
        let mut result = TierResult::ran("fast", std::time::SystemTime::now(), secs(3), "log".into());
        result.outcome = crate::results::TierOutcome::Passed;
        result.counts = TestCounts {
            passed: 16,
            flaky: 1,
            timed_out: 0,
            ..TestCounts::default()
        };
        view.event(&Event::TierFinished { result: &result });
        assert!(
            screen
                .text()
                .contains("✓ tier fast: passed in 3.0s: 16 passed (1 flaky)"),
            "{}",
            screen.text()
        );
    }
}
