//! One run of a command tier's command: its own process group (killed with us on Linux), stdout
//! and stderr through one pipe into the tier's log line by line, a deadline after which the
//! group gets SIGTERM and, `grace` later, SIGKILL, and our SIGINT/SIGTERM forwarded to it (a
//! second one kills it).

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::signals::{self, Interrupt};
use orbtest_process::{signal_group, supervise};

/// How long output may stay open after the command itself exited (a background process it
/// left behind holds the pipe) before that process group is killed.
const LINGER: Duration = Duration::from_secs(2);
/// Lines of output kept for messages.
const TAIL_LINES: usize = 100;
/// How often the command's state, the deadline and our signals are looked at.
const POLL: Duration = Duration::from_millis(50);

pub struct Spawn<'a> {
    pub argv: &'a [String],
    pub workdir: &'a Path,
    /// Set on top of the inherited environment (from which `NEXTEST_*` is removed).
    pub env: &'a [(String, String)],
    pub deadline: Instant,
    /// SIGTERM → SIGKILL.
    pub grace: Duration,
}

#[derive(Debug, Clone)]
pub struct Exit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// The deadline passed and the process group was killed.
    pub timed_out: bool,
    pub interrupted: Option<Interrupt>,
    /// The last lines of output.
    pub tail: String,
}

impl Exit {
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }

    /// "exited with 1", "was killed by signal 9".
    pub fn describe(&self) -> String {
        match (self.code, self.signal) {
            (Some(c), _) => format!("exited with {c}"),
            (None, Some(s)) => format!("was killed by signal {s}"),
            (None, None) => "ended without an exit status".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("`{program}` not found (looked in {looked})")]
    NotFound { program: String, looked: String },
    #[error("cannot run `{program}`: {source}")]
    Io {
        program: String,
        #[source]
        source: std::io::Error,
    },
}

/// Where `program` is: a path (relative to `workdir` when relative) or a name on `path`.
/// The PATH a command will search: the last `PATH` its tier's `env` sets, else ours.
pub fn search_path(env: &[(String, String)]) -> Option<std::ffi::OsString> {
    env.iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| std::ffi::OsString::from(v))
        .or_else(|| std::env::var_os("PATH"))
}

pub fn resolve_program(program: &str, path: Option<&OsStr>, workdir: &Path) -> Result<PathBuf, SpawnError> {
    let found = if program.contains('/') {
        let p = workdir.join(program);
        which::which_in(&p, None::<&str>, workdir).ok()
    } else {
        which::which_in(program, path, workdir).ok()
    };
    found.ok_or_else(|| SpawnError::NotFound {
        program: program.to_string(),
        looked: if program.contains('/') {
            workdir.display().to_string()
        } else {
            "PATH".to_string()
        },
    })
}

/// Runs the command to completion (or its deadline), calling `on_start` with its pid and
/// `on_line` with each line of output.
pub fn run(
    spawn: &Spawn<'_>,
    on_start: &mut dyn FnMut(u32),
    on_line: &mut dyn FnMut(&str),
) -> Result<Exit, SpawnError> {
    let program = spawn.argv.first().map(String::as_str).unwrap_or_default();
    let io = |source| SpawnError::Io {
        program: program.to_string(),
        source,
    };
    let path = search_path(spawn.env);
    let resolved = resolve_program(program, path.as_deref(), spawn.workdir)?;
    let (pipe_out, pipe_in) = std::io::pipe().map_err(io)?;
    let mut cmd = Command::new(&resolved);
    cmd.args(&spawn.argv[1..])
        .current_dir(spawn.workdir)
        .stdin(Stdio::null())
        .stdout(pipe_in.try_clone().map_err(io)?)
        .stderr(pipe_in);
    crate::tiers::nextest::scrub_env(&mut cmd);
    for (k, v) in spawn.env {
        cmd.env(k, v);
    }
    supervise(&mut cmd);
    let mut child = cmd.spawn().map_err(io)?;
    // Our copies of the pipe's write end must close, or reading never ends.
    drop(cmd);
    let pid = child.id();
    on_start(pid);

    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut lines = BufReader::new(pipe_out);
        loop {
            let mut buf = Vec::new();
            match lines.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send(buf).is_err() {
                        break;
                    }
                }
            }
        }
    });

    let mut tail: VecDeque<String> = VecDeque::with_capacity(TAIL_LINES);
    let mut status = None;
    let mut exited_at: Option<Instant> = None;
    let mut eof = false;
    let mut term_sent: Option<Instant> = None;
    let mut killed = false;
    let mut timed_out = false;
    let mut forwarded = 0;
    let mut checked = Instant::now();
    loop {
        match rx.recv_timeout(POLL) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let line = text.trim_end_matches(['\n', '\r']);
                on_line(line);
                if tail.len() == TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line.to_string());
                // A command that never stops talking must still meet its deadline.
                if checked.elapsed() < POLL {
                    continue;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => eof = true,
        }
        checked = Instant::now();
        if status.is_none() {
            status = child.try_wait().map_err(io)?;
            if status.is_some() {
                exited_at = Some(Instant::now());
            }
        }
        match (status.is_some(), eof) {
            (true, true) => break,
            (true, false) => {
                // The command is done but something it started still holds the output open.
                let since = exited_at.map_or(Duration::ZERO, |t| t.elapsed());
                if since >= LINGER && !killed {
                    signal_group(pid, libc::SIGKILL);
                    killed = true;
                }
                if since >= LINGER * 2 {
                    break;
                }
                continue;
            }
            _ => {}
        }
        let now = Instant::now();
        if now >= spawn.deadline && term_sent.is_none() {
            timed_out = true;
            signal_group(pid, libc::SIGTERM);
            term_sent = Some(now);
        }
        if let Some(t) = term_sent
            && t.elapsed() >= spawn.grace
            && !killed
        {
            signal_group(pid, libc::SIGKILL);
            killed = true;
        }
        let count = signals::count();
        if count > forwarded
            && let Some(interrupt) = signals::received()
        {
            let signal = if count >= 2 { libc::SIGKILL } else { interrupt.signal() };
            signal_group(pid, signal);
            forwarded = count;
        }
    }
    let status = match status {
        Some(s) => s,
        None => child.wait().map_err(io)?,
    };
    drop(rx);
    // The reader ends once every writer is gone; do not wait for one a stray process holds.
    if reader.is_finished() {
        let _ = reader.join();
    }
    Ok(Exit {
        code: status.code(),
        signal: status.signal(),
        timed_out,
        interrupted: signals::received(),
        tail: tail.into_iter().collect::<Vec<_>>().join("\n"),
    })
}

/// Appends to the tier's log, echoing to our stderr when asked.
pub struct Log {
    file: std::fs::File,
    echo: bool,
}

impl Log {
    pub fn open(path: &Path, echo: bool) -> std::io::Result<Self> {
        let file = orbtest_machines::files::append_private_file(path)?;
        Ok(Self { file, echo })
    }

    pub fn line(&mut self, line: &str) {
        let line = orbtest_machines::redact::global().redact(line);
        let _ = writeln!(self.file, "{line}");
        if self.echo {
            crate::errln!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, deadline: Duration) -> (Exit, Vec<String>) {
        let argv = vec!["sh".to_string(), "-c".to_string(), script.to_string()];
        let dir = std::env::temp_dir();
        let spawn = Spawn {
            argv: &argv,
            workdir: &dir,
            env: &[("ORBTEST_PROBE".into(), "42".into())],
            deadline: Instant::now() + deadline,
            grace: Duration::from_millis(200),
        };
        let mut lines = Vec::new();
        let exit = run(&spawn, &mut |_| {}, &mut |l| lines.push(l.to_string())).unwrap();
        (exit, lines)
    }

    #[test]
    fn streams_both_outputs_and_reports_the_exit_code() {
        let (exit, lines) = sh(
            "echo out; echo err >&2; echo $ORBTEST_PROBE; exit 3",
            Duration::from_secs(60),
        );
        assert_eq!(exit.code, Some(3));
        assert!(!exit.timed_out);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines.contains(&"err".to_string()) && lines.contains(&"42".to_string()));
        assert!(exit.tail.ends_with("42") || exit.tail.contains("42"));
    }

    #[test]
    fn the_deadline_kills_the_whole_group() {
        // The grandchild would keep the pipe open forever if it survived.
        let (exit, _) = sh("trap '' TERM; sleep 30 & sleep 30", Duration::from_millis(300));
        assert!(exit.timed_out);
        assert!(!exit.success());
        assert!(exit.signal.is_some(), "{exit:?}");
    }

    #[test]
    fn a_command_that_never_stops_talking_still_times_out() {
        let (exit, lines) = sh("while :; do echo chatter; done", Duration::from_millis(300));
        assert!(exit.timed_out);
        assert!(lines.len() > 10);
    }

    #[test]
    fn a_missing_program_is_not_found() {
        let dir = std::env::temp_dir();
        let e = resolve_program("orbtest-no-such-program", std::env::var_os("PATH").as_deref(), &dir).unwrap_err();
        assert!(matches!(e, SpawnError::NotFound { .. }), "{e}");
        assert!(resolve_program("./nope.sh", None, &dir).is_err());
        assert!(resolve_program("sh", std::env::var_os("PATH").as_deref(), &dir).is_ok());
    }
}
