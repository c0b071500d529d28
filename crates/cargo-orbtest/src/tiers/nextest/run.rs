//! One tier's `cargo nextest run`: nextest's output streams into the tier's log (and the
//! terminal with `-v`) while each line is parsed for live progress. SIGINT/SIGTERM received by
//! orbtest are forwarded to nextest's process group so it cancels cleanly and writes its JUnit.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{Built, LineEvent, ToolConfig, parse_line, profile_name, scrub_env_duct};
use crate::errors::{Error, Result};
use crate::signals::{self, Interrupt};
use crate::workspace::Workspace;
use orbtest_process::{signal_group, supervise_duct};

pub struct TierRun<'a> {
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
}

#[derive(Debug, Clone)]
pub struct TierRunOutput {
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
    pub fn args(&self) -> Vec<String> {
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

/// Runs the tier to completion, calling `on_line` for each line of nextest's output.
pub fn run_tier(run: &TierRun<'_>, on_line: &mut dyn FnMut(&LineEvent, &str)) -> Result<TierRunOutput> {
    let mut log = orbtest_machines::files::create_private_file(&run.log_path)
        .map_err(|e| Error::io("cannot create", &run.log_path, e))?;
    let mut expr = duct::cmd(run.ws.cargo.as_os_str(), run.args())
        .dir(&run.ws.root)
        .stdin_null()
        .stderr_to_stdout()
        .unchecked();
    expr = scrub_env_duct(expr);
    for (k, v) in &run.env {
        expr = expr.env(k, v);
    }
    // Every process of this tier (nextest, its tests, what they start) carries this mark, so
    // that what a killed nextest left running can be found and stopped.
    let mark = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
    expr = expr.env(TIER_MARK, &mark);
    let reader = supervise_duct(expr)
        .reader()
        .map_err(|e| Error::Infrastructure(format!("could not start `cargo nextest run`: {e}")))?;
    let pid = reader.pids().first().copied();
    if let (Some(pid), Some(on_spawn)) = (pid, run.on_spawn) {
        on_spawn(pid);
    }

    let done = Arc::new(AtomicBool::new(false));
    let forwarder = pid.map(|pid| spawn_forwarder(pid, done.clone()));

    let mut tail = VecDeque::with_capacity(TAIL_LINES);
    let mut total = None;
    let mut summary_seen = false;
    let mut buf = Vec::new();
    let mut lines = BufReader::new(&reader);
    let mut stderr = std::io::stderr();
    loop {
        buf.clear();
        match lines.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                done.store(true, Ordering::SeqCst);
                return Err(Error::Infrastructure(format!("reading nextest's output failed: {e}")));
            }
        }
        // Secrets never reach the log, the terminal or the reports built from these lines.
        if let std::borrow::Cow::Owned(clean) = orbtest_machines::redact::global().redact_bytes(&buf) {
            buf = clean;
        }
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
        on_line(&event, line);
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line.to_string());
    }
    let output = reader.try_wait();
    done.store(true, Ordering::SeqCst);
    if let Some(handle) = forwarder {
        let _ = handle.join();
    }
    let died_from_signal = matches!(&output, Ok(Some(out)) if out.status.code().is_none());
    let exit_code = match output {
        Ok(Some(out)) => out.status.code(),
        Ok(None) => None,
        Err(e) => return Err(Error::Infrastructure(format!("waiting for nextest failed: {e}"))),
    };
    if died_from_signal {
        // nextest died from a signal (killed by someone, or our second Ctrl-C): its tests are
        // orphans now and would run on after us.
        let stopped = kill_marked(&mark);
        if stopped > 0 {
            tracing::warn!("stopped {stopped} processes cargo-nextest left running");
        }
    }
    let _ = log.flush();
    Ok(TierRunOutput {
        exit_code,
        total,
        interrupted: signals::received(),
        tail: tail.into_iter().collect::<Vec<_>>().join("\n"),
    })
}

/// The environment variable that marks a tier's processes.
pub const TIER_MARK: &str = crate::env::TIER_PROCESS;

/// SIGKILLs every process of ours whose environment carries `mark`; how many there were.
#[cfg(target_os = "linux")]
pub fn kill_marked(mark: &str) -> usize {
    let needle = format!("{TIER_MARK}={mark}");
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut killed = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        // Readable only for our own processes.
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ.split(|b| *b == 0).any(|var| var == needle.as_bytes()) {
            // SAFETY: kill(2) has no memory-safety preconditions.
            if unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) } == 0 {
                killed += 1;
            }
        }
    }
    killed
}

#[cfg(not(target_os = "linux"))]
pub fn kill_marked(_mark: &str) -> usize {
    0
}

/// Forwards our SIGINT/SIGTERM to nextest's group; a second interrupt kills it outright.
fn spawn_forwarder(pid: u32, done: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut forwarded = 0;
        while !done.load(Ordering::SeqCst) {
            let count = signals::count();
            if count > forwarded
                && let Some(interrupt) = signals::received()
            {
                let signal = if count >= 2 { libc::SIGKILL } else { interrupt.signal() };
                signal_group(pid, signal);
                forwarded = count;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    })
}
