//! A small Rust API for tests: machines that delete themselves when dropped.
//!
//! ```no_run
//! # fn demo(client: &crate::Client) -> Result<(), crate::MachinesError> {
//! use crate::Machine;
//! let vm = Machine::create(client, "ubuntu:22.04", "test-web")?;
//! let out = vm.run(&["uname", "-a"])?;
//! assert_eq!(out.exit_code, Some(0));
//! # Ok(()) }
//! ```

use std::sync::Arc;

use crate::broker::remote::Remote;
use crate::client::{Client, MachinesError, OpResult};
use orbctl::op::Op;
use orbctl::output::{MachineInfo, parse_info};

/// Where a test's machine operations go. Inside a `cargo orbtest` machine tier
/// ([`Machines::from_env`]) that is the run itself, through its broker: its timeouts, create
/// admission, pressure backpressure, journal (so postflight cleans up whatever a test leaves)
/// and create→clone from baselines, exactly as the `orbctl` shim does for tests that shell
/// out. Elsewhere it is a plain [`Client`].
#[derive(Debug, Clone)]
pub enum Machines {
    Run(Arc<Remote>),
    Direct(Client),
}

impl Machines {
    /// The current run's machines when inside a cargo orbtest machine tier, else `orbctl` on
    /// PATH with the default policy.
    pub fn from_env() -> Result<Self, MachinesError> {
        match Remote::from_env() {
            Ok(Some(run)) => Ok(Machines::Run(Arc::new(run))),
            Ok(None) => {
                let provider = crate::provider::OrbctlProvider::from_path().map_err(MachinesError::NoOrbctl)?;
                Ok(Machines::Direct(Client::new(Arc::new(provider))))
            }
            Err(e) => Err(e),
        }
    }

    pub fn execute(&self, op: &Op) -> Result<OpResult, MachinesError> {
        match self {
            Machines::Run(run) => run.execute(op),
            Machines::Direct(client) => client.execute(op),
        }
    }

    /// The calling test's worker machine (`[machines.workers]`), warm and running; `None`
    /// outside a run with workers. It is the run's, not the test's: dropping it deletes
    /// nothing, and no other test runs on it at the same time. Under nextest orbtest's target
    /// runner has checked it already (`ORBTEST_WORKER`); otherwise it is found from the test
    /// runner's worker id (see `machines::workers`), checked, and replaced if broken.
    pub fn worker(&self) -> Result<Option<Machine>, crate::worker_machines::WorkerError> {
        let get = |k: &str| std::env::var(k).ok();
        let name = match crate::worker_machines::assigned(get) {
            None => return Ok(None),
            Some(Err(e)) => return Err(e),
            Some(Ok(name)) => name,
        };
        let checked = std::env::var_os(crate::worker_machines::ENV_WORKER).is_some();
        if let (Machines::Run(run), false) = (self, checked) {
            let set = std::env::var_os(crate::env::RUN_DIR)
                .map(|dir| crate::worker_machines::WorkerSet::read(std::path::Path::new(&dir)))
                .transpose()?
                .flatten();
            if let Some(set) = set {
                crate::worker_machines::ensure_healthy(run.as_ref(), &name, &set.source)?;
            }
        }
        Ok(Some(Machine {
            client: self.clone(),
            name,
            armed: false,
        }))
    }
}

impl From<&Client> for Machines {
    fn from(client: &Client) -> Self {
        Machines::Direct(client.clone())
    }
}

impl From<&Machines> for Machines {
    fn from(m: &Machines) -> Self {
        m.clone()
    }
}

/// A machine this process made. Dropping it deletes it (`delete -f`, same policy); call
/// [`Machine::keep`] to leave it behind.
#[derive(Debug)]
pub struct Machine {
    client: Machines,
    name: String,
    armed: bool,
}

/// What a command run in a machine printed, and how it exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_code: Option<i32>,
}

impl RunOutput {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

impl Machine {
    /// `orbctl create IMAGE NAME`; returns once the machine runs.
    pub fn create(client: impl Into<Machines>, image: &str, name: &str) -> Result<Machine, MachinesError> {
        Self::create_with(client, Op::create(image, name))
    }

    /// Any create-class op (create with flags, clone, import with `-n`).
    pub fn create_with(client: impl Into<Machines>, op: Op) -> Result<Machine, MachinesError> {
        let client = client.into();
        let name = op
            .created_machine()
            .map(str::to_string)
            .ok_or_else(|| MachinesError::Unnamed { op: op.to_string() })?;
        client.execute(&op)?.into_result()?;
        Ok(Machine {
            client,
            name,
            armed: true,
        })
    }

    /// `orbctl clone SRC NAME`. The copy is stopped, as orbctl leaves it; [`Machine::run`]
    /// starts it.
    pub fn clone_from(client: impl Into<Machines>, src: &str, name: &str) -> Result<Machine, MachinesError> {
        Self::create_with(
            client,
            Op::Clone {
                src: src.to_string(),
                dst: name.to_string(),
            },
        )
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn info(&self) -> Result<MachineInfo, MachinesError> {
        let op = Op::Info {
            name: self.name.clone(),
            format: Some("json".into()),
        };
        let r = self.client.execute(&op)?.into_result()?;
        parse_info(&r.stdout).map_err(|source| MachinesError::Output {
            op: op.to_string(),
            source,
        })
    }

    /// Runs `command` in the machine as its default user (auto-starts it). A non-zero exit of
    /// the command is not an error; it is in the result.
    pub fn run(&self, command: &[&str]) -> Result<RunOutput, MachinesError> {
        let op = Op::Run {
            machine: Some(self.name.clone()),
            user: None,
            workdir: None,
            shell: false,
            path: false,
            command: command.iter().map(|s| s.to_string()).collect(),
        };
        let r = self.client.execute(&op)?;
        Ok(RunOutput {
            stdout: r.stdout,
            stderr: r.stderr,
            exit_code: r.exit_code,
        })
    }

    pub fn start(&self) -> Result<(), MachinesError> {
        self.lifecycle(Op::Start {
            names: vec![self.name.clone()],
            all: false,
        })
    }

    pub fn stop(&self) -> Result<(), MachinesError> {
        self.lifecycle(Op::Stop {
            names: vec![self.name.clone()],
            all: false,
            force: false,
        })
    }

    fn lifecycle(&self, op: Op) -> Result<(), MachinesError> {
        self.client.execute(&op)?.into_result().map(|_| ())
    }

    /// Deletes the machine now and reports how that went.
    pub fn delete(mut self) -> Result<(), MachinesError> {
        self.armed = false;
        self.delete_now()
    }

    /// Leaves the machine in place and returns its name.
    pub fn keep(mut self) -> String {
        self.armed = false;
        std::mem::take(&mut self.name)
    }

    fn delete_now(&self) -> Result<(), MachinesError> {
        let op = Op::Delete {
            names: vec![self.name.clone()],
            force: true,
            all: false,
        };
        self.client.execute(&op)?.into_result().map(|_| ())
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        if self.armed
            && let Err(e) = self.delete_now()
        {
            tracing::warn!(machine = %self.name, error = %e, "could not delete machine on drop; it is left behind");
        }
    }
}
