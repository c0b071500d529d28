//! Errors that end a `cargo orbtest` invocation, each mapped to its documented exit code.

use std::path::PathBuf;

use crate::config::{ConfigError, LoadError};
use crate::exit_code;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] LoadError),

    #[error("{0}")]
    Usage(String),

    #[error("{manifest}: not a cargo workspace (or `cargo metadata` failed)\n{stderr}")]
    Workspace { manifest: String, stderr: String },

    #[error(
        "cargo-nextest is not installed (`cargo nextest` failed: {detail})\n  = help: install it with `cargo install cargo-nextest --locked`"
    )]
    NextestMissing { detail: String },

    #[error(
        "cargo-nextest {found} is too old: cargo orbtest needs {required} or newer\n  = help: upgrade with `cargo install cargo-nextest --locked`"
    )]
    NextestTooOld { found: String, required: String },

    #[error("build failed (cargo exited with {code}); no tier ran\n{output_tail}")]
    Build { code: String, output_tail: String },

    #[error("{what}: {detail}")]
    Nextest { what: String, detail: String },

    #[error("{what} {}: {source}", .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{0}")]
    Infrastructure(String),

    /// A preflight step failed: what it was and what to do.
    #[error("preflight: {step}: {message}")]
    Preflight { step: String, message: String },
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(LoadError::Invalid(e))
    }
}

impl Error {
    /// Preflight step `step` failed; `why` is its typed error (or a sentence).
    pub fn preflight(step: &str, why: impl std::fmt::Display) -> Self {
        Error::Preflight {
            step: step.to_string(),
            message: why.to_string(),
        }
    }

    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(LoadError::Read { .. }) => exit_code::INFRASTRUCTURE,
            Error::Config(_) | Error::Usage(_) | Error::Workspace { .. } => exit_code::USAGE,
            Error::NextestMissing { .. }
            | Error::NextestTooOld { .. }
            | Error::Build { .. }
            | Error::Nextest { .. }
            | Error::Io { .. }
            | Error::Infrastructure(_)
            | Error::Preflight { .. } => exit_code::INFRASTRUCTURE,
        }
    }
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;
