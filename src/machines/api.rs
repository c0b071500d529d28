//! A small Rust API for tests: machines that delete themselves when dropped.
//!
//! ```no_run
//! # fn demo(client: &orbtest::machines::Client) -> Result<(), orbtest::machines::MachinesError> {
//! use orbtest::machines::Machine;
//! let vm = Machine::create(client, "ubuntu:22.04", "test-web")?;
//! let out = vm.run(&["uname", "-a"])?;
//! assert_eq!(out.exit_code, Some(0));
//! # Ok(()) }
//! ```

use super::client::{Client, MachinesError};
use super::op::Op;
use super::output::MachineInfo;

/// A machine this process made. Dropping it deletes it (`delete -f`, same policy); call
/// [`Machine::keep`] to leave it behind.
#[derive(Debug)]
pub struct Machine {
    client: Client,
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
    pub fn create(client: &Client, image: &str, name: &str) -> Result<Machine, MachinesError> {
        Self::create_with(
            client,
            Op::Create {
                image: image.to_string(),
                name: Some(name.to_string()),
                arch: None,
                user: None,
                user_data: None,
                set_password: false,
            },
        )
    }

    /// Any create-class op (create with flags, clone, import with `-n`).
    pub fn create_with(client: &Client, op: Op) -> Result<Machine, MachinesError> {
        let name = op
            .created_machine()
            .map(str::to_string)
            .ok_or_else(|| MachinesError::Unnamed { op: op.to_string() })?;
        client.execute(&op)?.into_result()?;
        Ok(Machine {
            client: client.clone(),
            name,
            armed: true,
        })
    }

    /// `orbctl clone SRC NAME`. The copy is stopped, as orbctl leaves it; [`Machine::run`]
    /// starts it.
    pub fn clone_from(client: &Client, src: &str, name: &str) -> Result<Machine, MachinesError> {
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
        self.client.machine_info(&self.name)
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
