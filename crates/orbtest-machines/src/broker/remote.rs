//! The client side of the broker: what a test process (the shim, the Rust API, orbtest's worker
//! commands) uses to have the run carry out a machine call.

use std::io::BufReader;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use super::wire::{Request, WireReply};
use crate::client::{MachinesError, OpResult};
use crate::journal::OpRecord;
use crate::settings::RunSettings;
use orbctl::op::Op;

/// The run a test process works for, reached through its broker.
#[derive(Debug, Clone)]
pub struct Remote {
    settings: RunSettings,
    socket: PathBuf,
    /// The test calling (`NEXTEST_TEST_NAME`, `PYTEST_CURRENT_TEST`).
    test: Option<String>,
}

impl Remote {
    /// The run of `$ORBTEST_RUN_DIR`; `None` outside a cargo orbtest machine tier.
    pub fn from_env() -> Result<Option<Self>, MachinesError> {
        let Some(dir) = std::env::var_os(crate::env::RUN_DIR).filter(|d| !d.is_empty()) else {
            return Ok(None);
        };
        Self::open(Path::new(&dir), crate::tracked::caller_from_env()).map(Some)
    }

    pub fn open(run_dir: &Path, test: Option<String>) -> Result<Self, MachinesError> {
        let settings = RunSettings::read(run_dir).map_err(MachinesError::Run)?;
        let socket = settings.broker.clone().ok_or_else(|| {
            MachinesError::Broker(format!(
                "the run in {} has no machine broker (its machine tiers have not started, or it has ended)",
                run_dir.display()
            ))
        })?;
        Ok(Remote { settings, socket, test })
    }

    pub fn settings(&self) -> &RunSettings {
        &self.settings
    }

    pub fn test(&self) -> Option<&str> {
        self.test.as_deref()
    }

    fn connect(&self) -> Result<UnixStream, MachinesError> {
        UnixStream::connect(&self.socket).map_err(|e| {
            MachinesError::Broker(format!(
                "cannot reach the run's machine broker at {}: {e} (has the run ended?)",
                self.socket.display()
            ))
        })
    }

    /// Has the run carry out `orbctl ARGV`; its reply, byte for byte.
    pub fn call(&self, argv: &[String]) -> Result<WireReply, MachinesError> {
        let stream = self.connect()?;
        let request = Request::Call {
            argv: argv.to_vec(),
            test: self.test.clone(),
            pid: std::process::id(),
            cwd: std::env::current_dir().ok(),
        };
        let lost = |e: std::io::Error| MachinesError::Broker(format!("the run's machine broker did not answer: {e}"));
        request.write_to(&mut &stream).map_err(lost)?;
        WireReply::read_from(&mut BufReader::new(&stream)).map_err(lost)
    }

    /// `op` carried out by the run, as a [`crate::Client`] would report it.
    pub fn execute(&self, op: &Op) -> Result<OpResult, MachinesError> {
        let reply = self.call(&op.to_argv())?;
        if let Some(error) = reply.head.error {
            return Err(MachinesError::Broker(error));
        }
        Ok(reply.result(op).unwrap_or_else(|| answered(op, &reply)))
    }

    /// Journals a call this process carried out itself (a streamed `run`).
    pub fn record(&self, record: OpRecord) -> Result<(), MachinesError> {
        let stream = self.connect()?;
        Request::Record(record)
            .write_to(&mut &stream)
            .map_err(|e| MachinesError::Broker(format!("cannot journal through the broker: {e}")))
    }
}

/// An answer given without running anything (a refusal), as a result.
fn answered(op: &Op, reply: &WireReply) -> OpResult {
    let outcome = if reply.head.code == 0 {
        crate::client::Outcome::Succeeded
    } else {
        crate::client::Outcome::Failed(orbctl::errors::classify(&reply.stderr, &reply.stdout))
    };
    OpResult {
        op: op.clone(),
        outcome,
        stdout: reply.stdout.clone(),
        stderr: reply.stderr.clone(),
        exit_code: Some(reply.head.code),
        attempts: 0,
        retries: 0,
        recovered: false,
        timeout: None,
        duration: std::time::Duration::ZERO,
        admission_wait: std::time::Duration::ZERO,
        attempt_durations: Vec::new(),
    }
}
