//! What to run: a fully described child process. Providers produce these for orbctl, the
//! tiers for cargo-nextest and test commands; nothing here knows any of them.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// A program, its arguments, environment, directory and stdin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Added to (or overriding) the inherited environment, in order.
    pub env: Vec<(OsString, OsString)>,
    /// Removed from the inherited environment (before `env` is applied).
    pub env_remove: Vec<OsString>,
    /// Working directory; ours when `None`.
    pub dir: Option<PathBuf>,
    pub stdin: StdinMode,
}

/// What the child reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StdinMode {
    /// Nothing: orbctl sees no terminal, so `delete` never prompts.
    #[default]
    Null,
    /// Ours: for `run`, whose command may read input.
    Inherit,
}

impl Invocation {
    /// `program` with no arguments.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Invocation {
            program: program.into(),
            ..Invocation::default()
        }
    }

    #[must_use]
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    #[must_use]
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    #[must_use]
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    #[must_use]
    pub fn stdin(mut self, stdin: StdinMode) -> Self {
        self.stdin = stdin;
        self
    }

    /// Leaves out every inherited variable whose name starts with `prefix`: nextest inside
    /// nextest must not inherit the outer run's `NEXTEST_*` (they would override a tier's
    /// profile).
    #[must_use]
    pub fn without_inherited(mut self, prefix: &str) -> Self {
        self.env_remove.extend(
            std::env::vars_os()
                .map(|(key, _)| key)
                .filter(|key| key.to_string_lossy().starts_with(prefix)),
        );
        self
    }

    /// The program's name for messages: `cargo`, `/usr/bin/orbctl`.
    #[must_use]
    pub fn shown(&self) -> String {
        self.program.display().to_string()
    }

    /// Whether an argument equals `arg` (for tests and messages).
    #[must_use]
    pub fn has_arg(&self, arg: &str) -> bool {
        self.args.iter().any(|a| a == OsStr::new(arg))
    }
}

impl From<&std::process::Command> for Invocation {
    /// Program, arguments, directory and environment changes of a `Command` a library built
    /// (nextest-metadata's `cargo nextest list`), to run it supervised.
    fn from(cmd: &std::process::Command) -> Self {
        let mut inv = Invocation::new(cmd.get_program()).args(cmd.get_args());
        inv.dir = cmd.get_current_dir().map(Into::into);
        for (key, value) in cmd.get_envs() {
            match value {
                Some(value) => inv.env.push((key.to_owned(), value.to_owned())),
                None => inv.env_remove.push(key.to_owned()),
            }
        }
        inv
    }
}
