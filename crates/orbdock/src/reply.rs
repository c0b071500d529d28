//! What every command works with and answers: the context (engine, project, run) and the
//! reply (stdout, stderr, exit code) in orbctl's forms.

use orbctl::argv;
use orbctl::checks;
use orbctl::op::Flavor;

use crate::engine::Engine;
use crate::machine::{self, Machine, MachineError};

/// What a command prints and how it exits.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reply {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub code: i32,
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::default()
    }

    pub fn out(text: impl Into<String>) -> Reply {
        Reply {
            stdout: text.into().into_bytes(),
            ..Reply::default()
        }
    }

    pub fn err(text: impl Into<String>, code: i32) -> Reply {
        Reply {
            stderr: text.into().into_bytes(),
            code,
            ..Reply::default()
        }
    }

    /// A daemon error as orbctl prints it: `[-32098] <message>`, exit 1.
    pub fn daemon(msg: &str) -> Reply {
        Reply::err(checks::daemon_error(msg), 1)
    }

    /// Exit code only (the command already wrote its output).
    pub fn code(code: i32) -> Reply {
        Reply {
            code,
            ..Reply::default()
        }
    }
}

impl From<argv::Exit> for Reply {
    fn from(e: argv::Exit) -> Reply {
        Reply {
            stdout: e.stdout.into_bytes(),
            stderr: e.stderr.into_bytes(),
            code: e.code,
        }
    }
}

impl From<MachineError> for Reply {
    fn from(e: MachineError) -> Reply {
        Reply::daemon(&e.to_string())
    }
}

/// Everything a command works with.
pub struct Ctx {
    pub flavor: Flavor,
    pub engine: Engine,
    pub project: String,
    pub run: String,
}

impl Ctx {
    pub(crate) fn usage_error(&self, path: &[&str], msg: &str) -> Reply {
        argv::usage_error(self.flavor, path, msg).into()
    }

    pub(crate) fn machines(&self) -> Result<Vec<Machine>, Reply> {
        machine::list(&self.engine, &self.project).map_err(Reply::from)
    }
}

pub(crate) fn isatty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor number.
    unsafe { libc::isatty(fd) == 1 }
}

pub use orbctl::text::go_io_error;
