//! What the shim (or a test's Rust API) and the broker say to each other over the run's Unix
//! socket: one request per connection, a JSON line; one reply, a JSON line followed by the
//! call's stdout and stderr, byte for byte.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::client::{OpResult, Outcome};
use crate::journal::OpRecord;
use orbctl::errors::ErrorKind;
use orbctl::op::Op;

/// A request. Its connection stays open until the reply: closing it early is how the broker
/// learns that its caller went away.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub(crate) enum Request {
    /// Carry out an orbctl call (orbctl's argv, without the program name).
    Call {
        argv: Vec<String>,
        #[serde(default)]
        test: Option<String>,
        pid: u32,
        /// The caller's directory: relative paths in the call are relative to it.
        #[serde(default)]
        cwd: Option<PathBuf>,
    },
    /// Journal a call the shim carried out itself (`run`, streamed with the caller's stdio).
    Record(OpRecord),
}

/// What a call came to, beyond its bytes (for the Rust API's [`OpResult`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallSummary {
    /// succeeded | recovered | failed | timed-out | orbstack-down
    pub outcome: String,
    #[serde(default)]
    pub error_kind: Option<ErrorKind>,
    pub exit_code: Option<i32>,
    pub attempts: u32,
    pub retries: u32,
    pub timeout_ms: Option<u64>,
    pub duration_ms: u64,
    pub admission_wait_ms: u64,
}

/// The reply's first line; `stdout` and `stderr` bytes follow it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyHead {
    /// The exit code the caller reports.
    pub code: i32,
    pub stdout: usize,
    pub stderr: usize,
    /// The call's result; `None` when it was answered without one (a refusal) or failed
    /// before running (`error`).
    #[serde(default)]
    pub summary: Option<CallSummary>,
    /// The machines layer could not carry the call out (admission refused, orbctl would not
    /// start): what to tell the caller.
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WireReply {
    pub head: ReplyHead,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl WireReply {
    /// orbctl's own answer (a refusal), with no call behind it.
    pub fn answer(code: i32, stdout: impl Into<Vec<u8>>, stderr: impl Into<Vec<u8>>) -> WireReply {
        let (stdout, stderr) = (stdout.into(), stderr.into());
        WireReply {
            head: ReplyHead {
                code,
                stdout: stdout.len(),
                stderr: stderr.len(),
                summary: None,
                error: None,
            },
            stdout,
            stderr,
        }
    }

    /// The machines layer's failure to carry the call out.
    pub fn error(message: String) -> WireReply {
        let mut reply = WireReply::answer(1, Vec::new(), Vec::new());
        reply.head.error = Some(message);
        reply
    }

    /// A finished call, as a pass-through caller reports it.
    pub fn of(result: &OpResult) -> WireReply {
        let mut reply = WireReply::answer(result.caller_exit_code(), result.stdout.clone(), result.stderr.clone());
        let ms = |d: Duration| d.as_millis() as u64;
        reply.head.summary = Some(CallSummary {
            outcome: outcome_name(result.outcome).to_string(),
            error_kind: result.error_kind(),
            exit_code: result.exit_code,
            attempts: result.attempts,
            retries: result.retries,
            timeout_ms: result.timeout.map(ms),
            duration_ms: ms(result.duration),
            admission_wait_ms: ms(result.admission_wait),
        });
        reply
    }

    /// The call's result for `op`, when the reply carries one.
    pub fn result(&self, op: &Op) -> Option<OpResult> {
        let s = self.head.summary.as_ref()?;
        let outcome = match s.outcome.as_str() {
            "succeeded" => Outcome::Succeeded,
            "recovered" => Outcome::Recovered,
            "timed-out" => Outcome::TimedOut,
            "orbstack-down" => Outcome::OrbStackDown,
            _ => Outcome::Failed(s.error_kind.unwrap_or(ErrorKind::Other)),
        };
        Some(OpResult {
            op: op.clone(),
            outcome,
            stdout: self.stdout.clone(),
            stderr: self.stderr.clone(),
            exit_code: s.exit_code,
            attempts: s.attempts,
            retries: s.retries,
            recovered: outcome == Outcome::Recovered,
            timeout: s.timeout_ms.map(Duration::from_millis),
            duration: Duration::from_millis(s.duration_ms),
            admission_wait: Duration::from_millis(s.admission_wait_ms),
            attempt_durations: Vec::new(),
        })
    }

    pub(crate) fn write_to(&self, w: &mut impl Write) -> std::io::Result<()> {
        let mut head = serde_json::to_vec(&self.head).map_err(std::io::Error::other)?;
        head.push(b'\n');
        head.extend_from_slice(&self.stdout);
        head.extend_from_slice(&self.stderr);
        w.write_all(&head)?;
        w.flush()
    }

    pub(crate) fn read_from(r: &mut impl BufRead) -> std::io::Result<WireReply> {
        let mut line = Vec::new();
        r.read_until(b'\n', &mut line)?;
        if line.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the broker closed the connection without replying",
            ));
        }
        let head: ReplyHead = serde_json::from_slice(&line).map_err(std::io::Error::other)?;
        let mut stdout = vec![0; head.stdout];
        r.read_exact(&mut stdout)?;
        let mut stderr = vec![0; head.stderr];
        r.read_exact(&mut stderr)?;
        Ok(WireReply { head, stdout, stderr })
    }
}

pub(crate) fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded => "succeeded",
        Outcome::Recovered => "recovered",
        Outcome::Failed(_) => "failed",
        Outcome::TimedOut => "timed-out",
        Outcome::OrbStackDown => "orbstack-down",
    }
}

impl Request {
    pub(crate) fn write_to(&self, w: &mut impl Write) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        line.push(b'\n');
        w.write_all(&line)?;
        w.flush()
    }

    pub(crate) fn read_from(r: &mut impl BufRead) -> std::io::Result<Request> {
        let mut line = Vec::new();
        r.read_until(b'\n', &mut line)?;
        serde_json::from_slice(&line).map_err(std::io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_carry_bytes_exactly() {
        let reply = WireReply::answer(3, b"out\n\xff{".to_vec(), b"[-32098] x\n".to_vec());
        let mut buf = Vec::new();
        reply.write_to(&mut buf).unwrap();
        let back = WireReply::read_from(&mut std::io::Cursor::new(buf)).unwrap();
        assert_eq!(back, reply);
    }

    #[test]
    fn a_silent_broker_is_an_error_not_an_empty_reply() {
        let e = WireReply::read_from(&mut std::io::Cursor::new(Vec::new())).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
    }
}
