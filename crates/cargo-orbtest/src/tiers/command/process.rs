//! One run of a command tier's command, supervised by `orbtest-process`: its own process group
//! (killed with us on Linux), stdout and stderr through one pipe into the tier's log line by
//! line, a deadline after which the group gets SIGTERM and, `grace` later, SIGKILL, our
//! SIGINT/SIGTERM forwarded to it (a second one kills it), and what it left running outside its
//! group (marked) killed after a forced end.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::signals::Interrupts;
use orbtest_process::{Invocation, Mark, Output, Stop, Supervision};

/// Lines of output kept for messages.
const TAIL_LINES: usize = 100;

pub(crate) struct Spawn<'a> {
    pub argv: &'a [String],
    pub workdir: &'a Path,
    /// Set on top of the inherited environment (from which `NEXTEST_*` is removed).
    pub env: &'a [(String, String)],
    pub deadline: Instant,
    /// SIGTERM → SIGKILL.
    pub grace: Duration,
    /// Forwarded to the command's process group; a second one kills it.
    pub interrupts: Interrupts,
}

/// How one run of the command ended, and its last lines of output.
#[derive(Debug, Clone)]
pub(crate) struct CommandExit {
    /// As the supervisor saw it; `interrupted` is any interrupt of the run so far.
    pub status: orbtest_process::ChildExit,
    /// The last lines of output.
    pub tail: String,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum SpawnError {
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
pub(crate) fn search_path(env: &[(String, String)]) -> Option<std::ffi::OsString> {
    env.iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| std::ffi::OsString::from(v))
        .or_else(|| std::env::var_os("PATH"))
}

pub(crate) fn resolve_program(program: &str, path: Option<&OsStr>, workdir: &Path) -> Result<PathBuf, SpawnError> {
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
pub(crate) fn run(
    spawn: &Spawn<'_>,
    on_start: &mut dyn FnMut(u32),
    on_line: &mut dyn FnMut(&str),
) -> Result<CommandExit, SpawnError> {
    let program = spawn.argv.first().map(String::as_str).unwrap_or_default();
    let path = search_path(spawn.env);
    let resolved = resolve_program(program, path.as_deref(), spawn.workdir)?;
    let mut inv = crate::env::scrubbed(Invocation::new(resolved).args(&spawn.argv[1..]).dir(spawn.workdir));
    for (k, v) in spawn.env {
        inv = inv.env(k, v);
    }
    let on_start = std::cell::RefCell::new(on_start);
    let on_spawn = |pid| (on_start.borrow_mut())(pid);
    let supervision = Supervision::new()
        .deadline(Some(spawn.deadline))
        .stop(Stop::Term { grace: spawn.grace })
        .interrupts(spawn.interrupts.clone())
        .mark(Mark::new(crate::env::TIER_PROCESS))
        .on_spawn(&on_spawn);
    let mut tail: VecDeque<String> = VecDeque::with_capacity(TAIL_LINES);
    let exit = orbtest_process::run(
        &inv,
        &supervision,
        Output::Lines(&mut |bytes| {
            let text = String::from_utf8_lossy(bytes);
            let line = text.trim_end_matches(['\n', '\r']);
            on_line(line);
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line.to_string());
        }),
    )
    .map_err(|e| SpawnError::Io {
        program: program.to_string(),
        source: std::io::Error::new(e.io().kind(), e.io().to_string()),
    })?;
    if exit.orphans > 0 {
        tracing::warn!("stopped {} processes the command left running", exit.orphans);
    }
    Ok(CommandExit {
        status: orbtest_process::ChildExit {
            interrupted: spawn.interrupts.received(),
            ..exit
        },
        tail: tail.into_iter().collect::<Vec<_>>().join("\n"),
    })
}

/// Appends to the tier's log, echoing to our stderr when asked.
pub(crate) struct Log {
    file: std::fs::File,
    echo: bool,
}

impl Log {
    pub(crate) fn open(path: &Path, echo: bool) -> std::io::Result<Self> {
        let file = orbtest_machines::files::append_private_file(path)?;
        Ok(Self { file, echo })
    }

    pub(crate) fn line(&mut self, line: &str) {
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

    fn sh(script: &str, deadline: Duration) -> (CommandExit, Vec<String>) {
        let argv = vec!["sh".to_string(), "-c".to_string(), script.to_string()];
        let dir = std::env::temp_dir();
        let spawn = Spawn {
            argv: &argv,
            workdir: &dir,
            env: &[("ORBTEST_PROBE".into(), "42".into())],
            deadline: Instant::now() + deadline,
            grace: Duration::from_millis(200),
            interrupts: Interrupts::none(),
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
        assert_eq!(exit.status.code, Some(3));
        assert!(!exit.status.timed_out);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines.contains(&"err".to_string()) && lines.contains(&"42".to_string()));
        assert!(exit.tail.ends_with("42") || exit.tail.contains("42"));
    }

    #[test]
    fn the_deadline_kills_the_whole_group() {
        // The grandchild would keep the pipe open forever if it survived.
        let (exit, _) = sh("trap '' TERM; sleep 30 & sleep 30", Duration::from_millis(300));
        assert!(exit.status.timed_out);
        assert!(!exit.status.success());
        assert!(exit.status.signal.is_some(), "{exit:?}");
    }

    #[test]
    fn a_command_that_never_stops_talking_still_times_out() {
        let (exit, lines) = sh("while :; do echo chatter; done", Duration::from_millis(300));
        assert!(exit.status.timed_out);
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
