//! Classifying what a failed orbctl call printed.
//!
//! Daemon errors look like `[-32098] <message>`, and `create` wraps its messages as
//! `create '<name>': <message>`. We peel those layers and look at what the message starts with,
//! so a machine named `download-test` is never mistaken for a download failure.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    NotFound,
    AlreadyExists,
    /// Deterministic: bad name, distro, arch, flags, arguments. Never retried.
    InvalidInput,
    /// Download or network trouble. Retried.
    Transient,
    /// The machine manager is shutting down (OrbStack restarting). Retried.
    DaemonStopping,
    /// `OrbStack is not running` (stop/restart print it and exit 0).
    NotRunning,
    Other,
}

impl ErrorKind {
    /// Whether trying the same call again can help.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Transient | ErrorKind::DaemonStopping)
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::AlreadyExists => "already exists",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Transient => "transient",
            ErrorKind::DaemonStopping => "daemon stopping",
            ErrorKind::NotRunning => "OrbStack not running",
            ErrorKind::Other => "other",
        })
    }
}

/// What OrbStack's machine manager answers when it refuses an operation: the message after
/// `[-32098] ` (and after `create 'NAME': ` for create). The simulator says exactly this, and
/// [`classify`] reads it back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DaemonError {
    #[error("machine not found: '{0}'")]
    NotFound(String),
    #[error("invalid machine name '{0}'")]
    InvalidName(String),
    #[error("machine already exists: '{0}'")]
    AlreadyExists(String),
    /// rename's wording.
    #[error("machine '\"{0}\"' already exists")]
    RenameTaken(String),
    #[error("cloud-init not supported for '{0}'")]
    CloudInitUnsupported(String),
    /// The machine is being created or deleted: `verb` must wait.
    #[error("cannot {verb}: operations are in progress: {state}")]
    InProgress { verb: &'static str, state: &'static str },
    /// The machine manager's own trouble (a file it could not read or move, say), in the
    /// words it prints.
    #[error("{0}")]
    Message(String),
}

/// Classifies the output of a failed call. `stderr` is checked first; `stdout` matters only for
/// `logs`, which prints its errors there.
pub fn classify(stderr: &[u8], stdout: &[u8]) -> ErrorKind {
    let err = String::from_utf8_lossy(stderr);
    let kind = classify_text(&err);
    if kind != ErrorKind::Other || !err.trim().is_empty() {
        return kind;
    }
    classify_text(&String::from_utf8_lossy(stdout))
}

fn classify_text(text: &str) -> ErrorKind {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let line = first.trim();
    if line.starts_with("Error: ") {
        // cobra argument errors (and `invalid distro`/`invalid architecture`) are all the
        // caller's mistake.
        return ErrorKind::InvalidInput;
    }
    if line == "OrbStack is not running" {
        return ErrorKind::NotRunning;
    }
    if line.starts_with("Unknown configuration key:") || line.starts_with("Unknown machine config key:") {
        return ErrorKind::InvalidInput;
    }
    let msg = peel(line);
    if msg.starts_with("machine not found") || msg == "no machines found" {
        return ErrorKind::NotFound;
    }
    if msg.starts_with("machine already exists") || is_rename_taken(msg) {
        return ErrorKind::AlreadyExists;
    }
    if msg.starts_with("invalid machine name")
        || msg.starts_with("cloud-init not supported")
        || msg.starts_with("cannot clone builtin machine")
        || msg.starts_with("cannot export builtin machine")
    {
        return ErrorKind::InvalidInput;
    }
    if msg.contains("machine manager is stopping") {
        return ErrorKind::DaemonStopping;
    }
    if is_network_failure(msg) {
        return ErrorKind::Transient;
    }
    ErrorKind::Other
}

/// Strips `[-32098] ` and `create '<name>': `.
fn peel(line: &str) -> &str {
    let mut msg = line;
    if let Some(rest) = msg.strip_prefix('[')
        && let Some((code, after)) = rest.split_once("] ")
        && code.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit())
    {
        msg = after;
    }
    if let Some(rest) = msg.strip_prefix("create '")
        && let Some(end) = rest.find("': ")
    {
        msg = &rest[end + 3..];
    }
    msg
}

/// rename's wording: `machine '"NEW"' already exists`.
fn is_rename_taken(msg: &str) -> bool {
    msg.starts_with("machine '\"") && msg.ends_with("\"' already exists")
}

/// Download/network failures (`make rootfs: download rootfs: ...`, `fetch index: ...`).
/// A 404 is not retried: the version or image does not exist, and asking again will not help.
fn is_network_failure(msg: &str) -> bool {
    if msg.contains("404 Not Found") {
        return false;
    }
    const MARKERS: &[&str] = &[
        "download",
        "fetch index",
        "unexpected EOF",
        "connection reset",
        "connection refused",
        "i/o timeout",
        "TLS handshake",
        "no such host",
        "network is unreachable",
        "temporary failure in name resolution",
        "context deadline exceeded",
    ];
    msg.starts_with("make rootfs:") && MARKERS.iter().any(|m| msg.contains(m))
        || MARKERS[2..].iter().any(|m| msg.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemons_own_words_classify_as_what_they_are() {
        let cases = [
            (DaemonError::NotFound("a".into()), ErrorKind::NotFound),
            (DaemonError::InvalidName("A B".into()), ErrorKind::InvalidInput),
            (DaemonError::AlreadyExists("a".into()), ErrorKind::AlreadyExists),
            (DaemonError::RenameTaken("b".into()), ErrorKind::AlreadyExists),
            (
                DaemonError::CloudInitUnsupported("alpine".into()),
                ErrorKind::InvalidInput,
            ),
        ];
        for (e, kind) in cases {
            assert_eq!(classify(format!("[-32098] {e}\n").as_bytes(), b""), kind, "{e}");
        }
    }

    fn k(stderr: &str) -> ErrorKind {
        classify(stderr.as_bytes(), b"")
    }

    #[test]
    fn catalogue_rows() {
        assert_eq!(
            k("[-32098] create 'x': machine already exists: 'x'\n"),
            ErrorKind::AlreadyExists
        );
        assert_eq!(k("[-32098] machine already exists: 'y'\n"), ErrorKind::AlreadyExists);
        assert_eq!(k("[-32098] machine '\"y\"' already exists\n"), ErrorKind::AlreadyExists);
        assert_eq!(
            k("[-32098] create 'a_b': invalid machine name 'a_b'\n"),
            ErrorKind::InvalidInput
        );
        assert_eq!(k("Error: invalid distro: nope\nUsage:\n"), ErrorKind::InvalidInput);
        assert_eq!(k("Error: invalid architecture: x\nUsage:\n"), ErrorKind::InvalidInput);
        assert_eq!(k("[-32098] machine not found: 'z'\n"), ErrorKind::NotFound);
        assert_eq!(k("[-32098] machine not found\n"), ErrorKind::NotFound);
        assert_eq!(k("OrbStack is not running\n"), ErrorKind::NotRunning);
        assert_eq!(k("Unknown configuration key: nope\n"), ErrorKind::InvalidInput);
        assert_eq!(
            k("[-32098] create 'u': make rootfs: download rootfs: stream to file: unexpected EOF\n"),
            ErrorKind::Transient
        );
        assert_eq!(
            k("[-32098] create 'u': make rootfs: fetch index: Get \"https://x\": dial tcp: i/o timeout\n"),
            ErrorKind::Transient
        );
        assert_eq!(
            k("[-32098] create 'u': machine manager is stopping\n"),
            ErrorKind::DaemonStopping
        );
    }

    #[test]
    fn names_never_drive_the_kind() {
        assert_eq!(
            k("[-32098] create 'download-eof': machine already exists: 'download-eof'\n"),
            ErrorKind::AlreadyExists
        );
        assert_eq!(k("[-32098] machine not found: 'unexpected EOF'\n"), ErrorKind::NotFound);
    }

    #[test]
    fn missing_versions_are_not_retried() {
        assert_eq!(
            k("[-32098] create 'u': make rootfs: download metadata: GET download status: 404 Not Found\n"),
            ErrorKind::Other
        );
    }

    #[test]
    fn logs_errors_come_from_stdout() {
        assert_eq!(classify(b"", b"[-32098] machine not found: 'q'\n"), ErrorKind::NotFound);
        assert!(ErrorKind::Transient.is_retryable());
        assert!(!ErrorKind::InvalidInput.is_retryable());
    }
}
