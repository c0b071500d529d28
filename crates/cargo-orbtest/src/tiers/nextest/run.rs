//! One tier's `cargo nextest run`: nextest's output streams into the tier's log (and the
//! terminal with `-v`) while each line is parsed for live progress. SIGINT/SIGTERM received by
//! orbtest are forwarded to nextest's process group so it cancels cleanly and writes its JUnit.

use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;

use super::{Built, LineEvent, ToolConfig, parse_line, profile_name};
use crate::env::scrubbed;
use crate::errors::{Error, Result};
use crate::signals::{Interrupt, Interrupts};
use crate::workspace::Workspace;
use orbtest_process::{Invocation, Mark, Output, Supervision};

pub(crate) struct TierRun<'a> {
    pub ws: &'a Workspace,
    pub tier: &'a str,
    pub tool_config: &'a ToolConfig,
    pub built: &'a Built,
    /// Forwarded nextest arguments (filters, partition, ...).
    pub run_args: &'a [String],
    pub log_path: PathBuf,
    /// Extra environment for the tests (the shim's PATH and settings for machine tiers).
    pub env: Vec<(String, String)>,
    /// Also copy nextest's output to our stderr.
    pub echo: bool,
    /// Told nextest's pid once it started (the resource monitor counts its children).
    pub on_spawn: Option<&'a (dyn Fn(u32) + Sync)>,
    /// Forwarded to nextest's process group (it cancels cleanly and writes its JUnit); a
    /// second one kills it.
    pub interrupts: Interrupts,
}

#[derive(Debug, Clone)]
pub(crate) struct TierRunOutput {
    /// nextest's exit code; `None` if it died from a signal.
    pub exit_code: Option<i32>,
    /// Tests nextest said it would run.
    pub total: Option<usize>,
    pub interrupted: Option<Interrupt>,
    /// The last lines of nextest's output, for error messages.
    pub tail: String,
}

const TAIL_LINES: usize = 40;

impl TierRun<'_> {
    pub(crate) fn args(&self) -> Vec<String> {
        let mut args = vec!["nextest".to_string(), "run".to_string()];
        args.extend(self.built.args());
        args.extend([
            "--tool-config-file".to_string(),
            self.tool_config.arg(),
            "--profile".to_string(),
            profile_name(self.tier),
            // Uncoloured, one line per status: the log stays readable and parseable.
            "--color".to_string(),
            "never".to_string(),
            "--no-input-handler".to_string(),
            "--status-level".to_string(),
            "pass".to_string(),
            // `(done/total)` on each final status line, also when piped: the live progress
            // reads it (nextest prints no counter by default when not on a terminal).
            "--show-progress".to_string(),
            "counter".to_string(),
            "--no-tests".to_string(),
            "warn".to_string(),
        ]);
        args.extend(self.run_args.iter().cloned());
        args
    }
}

/// nextest's line for a retry it has scheduled: `DELAY 2/4 by 5.000s ...`, or an attempt
/// after the first starting (`TRY 2 START`, shown at higher status levels).
fn schedules_a_retry(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with("DELAY ") || (line.starts_with("TRY ") && line.contains(" START"))
}

/// Runs the tier to completion, calling `on_line` for each line of nextest's output.
pub(crate) fn run_tier(run: &TierRun<'_>, on_line: &mut dyn FnMut(&LineEvent, &str)) -> Result<TierRunOutput> {
    let mut log = orbtest_machines::files::create_private_file(&run.log_path)
        .map_err(|e| Error::io("cannot create", &run.log_path, e))?;
    let mut inv = scrubbed(Invocation::new(&run.ws.cargo).args(run.args()).dir(&run.ws.root));
    for (k, v) in &run.env {
        inv = inv.env(k, v);
    }
    let nextest_pid = std::sync::atomic::AtomicU32::new(0);
    let on_spawn = |pid| {
        nextest_pid.store(pid, std::sync::atomic::Ordering::SeqCst);
        if let Some(f) = run.on_spawn {
            f(pid);
        }
    };
    // Interrupted tests are not retried: nextest, cancelling after Ctrl-C, still schedules a
    // retry of a test the interrupt ended and sits out its delay (5 s of silence with
    // `delay = "5s"`). Its second-signal path ends that at once and still writes the JUnit.
    let mut escalated = false;
    // Every process of this tier (nextest, its tests, what they start) carries the mark, so
    // that what a killed nextest left running can be found and stopped.
    let supervision = Supervision::new()
        .interrupts(run.interrupts.clone())
        .mark(Mark::new(crate::env::TIER_PROCESS))
        .on_spawn(&on_spawn);

    let mut tail = VecDeque::with_capacity(TAIL_LINES);
    let mut total = None;
    let mut summary_seen = false;
    let mut stderr = std::io::stderr();
    let exit = orbtest_process::run(
        &inv,
        &supervision,
        Output::Lines(&mut |bytes| {
            // Secrets never reach the log, the terminal or the reports built from these lines.
            let buf = orbtest_machines::redact::global().redact_bytes(bytes);
            let _ = log.write_all(&buf);
            if run.echo {
                let _ = stderr.write_all(&buf);
            }
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim_end_matches(['\n', '\r']);
            let mut event = parse_line(line);
            match &event {
                LineEvent::Started { total: t } => total = Some(*t),
                LineEvent::Summary => summary_seen = true,
                // After the summary nextest repeats failures and flakes; they are not new results.
                LineEvent::TestDone { .. } if summary_seen => event = LineEvent::Other,
                _ => {}
            }
            if !escalated && run.interrupts.received().is_some() && schedules_a_retry(line) {
                let pid = nextest_pid.load(std::sync::atomic::Ordering::SeqCst);
                if pid != 0 {
                    escalated = true;
                    // SAFETY: killpg(2) on the process group of the child we started.
                    unsafe {
                        libc::killpg(pid as libc::pid_t, libc::SIGINT);
                    }
                }
            }
            on_line(&event, line);
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line.to_string());
        }),
    )
    .map_err(|e| Error::Infrastructure(format!("could not run `cargo nextest run`: {e}")))?;
    if exit.orphans > 0 {
        tracing::warn!("stopped {} processes cargo-nextest left running", exit.orphans);
    }
    let _ = log.flush();
    Ok(TierRunOutput {
        exit_code: exit.code,
        total,
        interrupted: run.interrupts.received(),
        tail: tail.into_iter().collect::<Vec<_>>().join("\n"),
    })
}

/// How many tests a tier runs at once: its `threads`, unless this run's arguments say otherwise
/// (`-j N`, `--test-threads N`, or `--no-capture`, which runs one at a time).
pub(crate) fn effective_threads(threads: crate::config::Threads, run_args: &[String]) -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let resolve = |n: i64| -> usize {
        if n > 0 {
            n as usize
        } else {
            cpus.saturating_sub(n.unsigned_abs() as usize).max(1)
        }
    };
    let mut out = match threads {
        crate::config::Threads::NumCpus => cpus,
        crate::config::Threads::Count(n) => resolve(n),
    };
    let mut args = run_args.iter().take_while(|a| *a != "--");
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "-j" | "--test-threads" => args.next().cloned(),
            "--no-capture" | "--nocapture" => Some("1".to_string()),
            a => a
                .strip_prefix("--test-threads=")
                .or_else(|| a.strip_prefix("-j").filter(|v| !v.is_empty()))
                .map(str::to_string),
        };
        match value.as_deref() {
            Some("num-cpus") => out = cpus,
            Some(v) => {
                if let Ok(n) = v.parse::<i64>() {
                    out = resolve(n);
                }
            }
            None => {}
        }
    }
    out.max(1)
}
