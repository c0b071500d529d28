//! Running one orbctl child: captured output, an optional timeout that kills the child's whole
//! process group, and always a reaped child.

use std::ffi::OsString;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A fully described child process; providers produce these, and nothing here knows orbctl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Added to (or overriding) the inherited environment.
    pub env: Vec<(OsString, OsString)>,
    pub stdin: StdinMode,
    /// Where it runs (the caller's directory, for relative paths); `None`: ours.
    pub cwd: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinMode {
    /// orbctl sees no terminal, so `delete` never prompts.
    Null,
    /// For `run`, whose command may read input.
    Inherit,
}

/// What a finished (or killed) child left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// `None` when the child died from a signal (including our own kill on timeout).
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    /// A [`Watch`] found the child's work done while it still ran, and it was killed.
    pub settled: bool,
    pub duration: Duration,
}

/// Looked at while a child runs: every `every`, `settled()` says whether the work the child
/// was asked for is already done (a client hanging after success). If it is and the child is
/// still running, the child is killed.
pub struct Watch<'a> {
    pub every: Duration,
    pub settled: &'a dyn Fn() -> bool,
}

/// Runs `inv` to completion or until `timeout`, whichever comes first.
///
/// With a timeout the child leads its own process group, and on expiry the whole group gets
/// SIGKILL (orbctl may have children of its own). Without one it stays in ours, so an
/// interactive `run` keeps the terminal. Either way the child is waited for before returning.
pub fn run(inv: &Invocation, timeout: Option<Duration>) -> io::Result<Captured> {
    run_watched(inv, timeout, None)
}

/// [`run`], and with a `watch`, a child whose work is done is not waited for any longer.
pub fn run_watched(inv: &Invocation, timeout: Option<Duration>, watch: Option<Watch<'_>>) -> io::Result<Captured> {
    let mut expr = duct::cmd(&inv.program, &inv.args)
        .stdout_capture()
        .stderr_capture()
        .unchecked();
    for (k, v) in &inv.env {
        expr = expr.env(k, v);
    }
    if inv.stdin == StdinMode::Null {
        expr = expr.stdin_null();
    }
    if let Some(dir) = &inv.cwd {
        expr = expr.dir(dir);
    }
    if timeout.is_some() || watch.is_some() {
        expr = expr.before_spawn(|cmd| {
            cmd.process_group(0);
            Ok(())
        });
    }
    let started = Instant::now();
    let handle = expr
        .start()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot start {}: {e}", inv.program.display())))?;
    let deadline = timeout.map(|limit| started + limit);
    let (mut timed_out, mut settled) = (false, false);
    loop {
        let next = match (&watch, deadline) {
            (Some(w), Some(d)) => d.min(Instant::now() + w.every),
            (Some(w), None) => Instant::now() + w.every,
            (None, Some(d)) => d,
            (None, None) => break,
        };
        if handle.wait_deadline(next)?.is_some() {
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            timed_out = true;
        } else if let Some(w) = &watch
            && (w.settled)()
            && handle.try_wait()?.is_none()
        {
            settled = true;
        } else {
            continue;
        }
        for pid in handle.pids() {
            // The child is not reaped yet, so its pid (= its group id) cannot be reused.
            // SAFETY: killpg has no memory-safety preconditions.
            unsafe {
                libc::killpg(pid as libc::pid_t, libc::SIGKILL);
            }
        }
        break;
    }
    let output = handle.into_output()?;
    Ok(Captured {
        stdout: output.stdout,
        stderr: output.stderr,
        exit_code: output.status.code(),
        signal: output.status.signal(),
        timed_out,
        settled,
        duration: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Invocation {
        Invocation {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![("ORBTEST_PROBE".into(), "42".into())],
            stdin: StdinMode::Null,
            cwd: None,
        }
    }

    #[test]
    fn captures_both_streams_and_the_exit_code() {
        let c = run(&sh("printf out; printf err >&2; echo $ORBTEST_PROBE; exit 3"), None).unwrap();
        assert_eq!(c.stdout, b"out42\n");
        assert_eq!(c.stderr, b"err");
        assert_eq!(c.exit_code, Some(3));
        assert!(!c.timed_out);
    }

    #[test]
    fn timeout_kills_the_whole_group_including_grandchildren() {
        // The grandchild keeps stdout open; if it survived, reading output would never end.
        let c = run(&sh("sleep 30 & sleep 30; echo never"), Some(Duration::from_millis(200))).unwrap();
        assert!(c.timed_out);
        assert_eq!(c.exit_code, None);
        assert_eq!(c.signal, Some(libc::SIGKILL));
        assert!(c.stdout.is_empty());
    }

    #[test]
    fn a_watch_that_finds_the_work_done_stops_a_hanging_child() {
        let looks = std::cell::Cell::new(0);
        let done_on_second_look = || {
            looks.set(looks.get() + 1);
            looks.get() >= 2
        };
        let watch = Watch {
            every: Duration::from_millis(20),
            settled: &done_on_second_look,
        };
        let start = Instant::now();
        let c = run_watched(&sh("sleep 30 & sleep 30"), Some(Duration::from_secs(60)), Some(watch)).unwrap();
        assert!(c.settled && !c.timed_out);
        assert_eq!(c.signal, Some(libc::SIGKILL));
        assert_eq!(looks.get(), 2);
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_watched_child_that_finishes_by_itself_is_not_settled() {
        let never = || false;
        let watch = Watch {
            every: Duration::from_millis(5),
            settled: &never,
        };
        let c = run_watched(&sh("sleep 0.05; echo done"), None, Some(watch)).unwrap();
        assert!(!c.settled && !c.timed_out);
        assert_eq!((c.exit_code, c.stdout.as_slice()), (Some(0), &b"done\n"[..]));
    }

    #[test]
    fn a_missing_program_names_itself() {
        let inv = Invocation {
            program: "/nonexistent/orbctl".into(),
            args: vec![],
            env: vec![],
            stdin: StdinMode::Null,
            cwd: None,
        };
        let e = run(&inv, None).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/orbctl"), "{e}");
    }
}
