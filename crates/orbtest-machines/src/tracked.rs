//! Machine operations on behalf of a run's tests (the orbctl shim and the Rust helper API):
//! the run's policy and admission, every attempt journaled, ownership claimed before a machine
//! can appear and released when it is gone, and a create matching a baseline carried out as
//! clone + start. The caller sees what `orbctl create` would have shown: a running machine,
//! exit 0, no output.

use std::path::Path;
use std::sync::Arc;

use crate::client::{Client, MachinesError, OpResult, Outcome};
use crate::journal::{Journal, JournalView};
use crate::settings::{BaselineRef, RunSettings};
use orbctl::errors::ErrorKind;
use orbctl::images::canonical;
use orbctl::op::{Op, OpClass};

/// The run a process works for.
#[derive(Debug)]
pub struct Tracked {
    client: Client,
    journal: Arc<Journal>,
    settings: RunSettings,
}

/// Who is calling, for the journal: nextest's test name, or pytest's current test.
pub fn caller_from_env() -> Option<String> {
    if let Ok(test) = std::env::var("NEXTEST_TEST_NAME") {
        return Some(match std::env::var("NEXTEST_BINARY_ID") {
            Ok(binary) => format!("{binary}::{test}"),
            Err(_) => test,
        });
    }
    std::env::var("PYTEST_CURRENT_TEST").ok().map(|t| {
        t.trim_end_matches(" (call)")
            .trim_end_matches(" (setup)")
            .trim_end_matches(" (teardown)")
            .to_string()
    })
}

/// Why a run's executor could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("the run's settings: {0}")]
    Settings(#[from] crate::files::ReadJsonError),
    #[error("cannot open the run journal {}: {source}", .path.display())]
    Journal {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Tracked {
    /// The run of `$ORBTEST_RUN_DIR`; `None` outside a cargo orbtest machine tier.
    pub fn from_env() -> Result<Option<Self>, OpenError> {
        let Some(dir) = std::env::var_os(crate::env::RUN_DIR).filter(|d| !d.is_empty()) else {
            return Ok(None);
        };
        Self::open(Path::new(&dir), caller_from_env()).map(Some)
    }

    pub fn open(run_dir: &Path, caller: Option<String>) -> Result<Self, OpenError> {
        let settings = RunSettings::read(run_dir)?;
        let journal =
            Journal::open(&settings.journal, &settings.run_id, caller).map_err(|source| OpenError::Journal {
                path: settings.journal.clone(),
                source,
            })?;
        let journal = Arc::new(journal);
        Ok(Self {
            client: settings.client(journal.clone()),
            journal,
            settings,
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn settings(&self) -> &RunSettings {
        &self.settings
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Runs `op` (parsed from `argv`) for the run.
    pub fn execute(&self, op: &Op, argv: &[String]) -> Result<OpResult, MachinesError> {
        match op {
            Op::Rename { old, new } => self.rename(op, argv, old, new),
            Op::Delete { names, all: false, .. } => {
                let result = self.client.execute_argv(op, argv)?;
                if result.is_success() {
                    for name in names {
                        self.release(name, "deleted");
                    }
                }
                Ok(result)
            }
            _ if op.class() == OpClass::Create => self.create(op, argv),
            _ => self.client.execute_argv(op, argv),
        }
    }

    fn create(&self, op: &Op, argv: &[String]) -> Result<OpResult, MachinesError> {
        let name = op.created_machine().map(str::to_string);
        if let Some(name) = &name {
            self.own(name);
        }
        if let (Some(name), Some(base)) = (&name, self.clone_source(op))
            && let Some(result) = self.clone_and_start(op, base, name)
        {
            self.record_id(name);
            return Ok(result);
        }
        let mut result = self.client.execute_argv(op, argv)?;
        if result.outcome == Outcome::Recovered {
            // What the create would have shown had it not hung: nothing.
            result.stdout.clear();
            result.stderr.clear();
        }
        if let Some(name) = &name {
            if result.is_success() {
                self.record_id(name);
            }
            match result.outcome {
                // The name was taken before we asked: that machine is someone else's.
                Outcome::Failed(ErrorKind::AlreadyExists) => self.release(name, "the name was already taken"),
                Outcome::Failed(ErrorKind::InvalidInput | ErrorKind::NotFound) => self.release(name, "never created"),
                // A timed-out or failed create may still finish in the daemon: keep the claim,
                // postflight deletes the machine if it appears.
                _ => {}
            }
        }
        Ok(result)
    }

    /// The baseline a `create` can be cloned from: same image (after version aliases), same
    /// user, and no flag a clone cannot honour.
    fn clone_source(&self, op: &Op) -> Option<&BaselineRef> {
        let Op::Create {
            image,
            arch: None,
            user,
            user_data: None,
            set_password: false,
            ..
        } = op
        else {
            return None;
        };
        let wanted = canonical(image)?;
        self.settings
            .clone_from
            .iter()
            .find(|b| canonical(&b.image).as_ref() == Some(&wanted) && &b.user == user)
    }

    /// clone + start; `None` (and nothing left behind) if that did not work, so the caller
    /// falls back to a real create and its exact output.
    fn clone_and_start(&self, create: &Op, base: &BaselineRef, name: &str) -> Option<OpResult> {
        let clone = Op::Clone {
            src: base.name.clone(),
            dst: name.to_string(),
        };
        let cloned = self.client.execute(&clone).ok().filter(OpResult::is_success)?;
        let start = Op::start(name);
        match self.client.execute(&start) {
            Ok(started) if started.is_success() => Some(OpResult {
                op: create.clone(),
                outcome: if cloned.recovered {
                    Outcome::Recovered
                } else {
                    Outcome::Succeeded
                },
                stdout: Vec::new(),
                stderr: Vec::new(),
                exit_code: Some(0),
                attempts: cloned.attempts,
                retries: cloned.retries + started.retries,
                recovered: cloned.recovered || started.recovered,
                timeout: cloned.timeout,
                duration: cloned.duration + started.duration,
                admission_wait: cloned.admission_wait,
                attempt_durations: cloned.attempt_durations,
            }),
            _ => {
                let _ = self.client.execute(&Op::delete(name));
                None
            }
        }
    }

    fn rename(&self, op: &Op, argv: &[String], old: &str, new: &str) -> Result<OpResult, MachinesError> {
        // A renamed machine stays ours if it was, with its original creation time.
        let owned = JournalView::read(self.journal.path())
            .ok()
            .and_then(|v| v.owned.get(old).cloned());
        let since = owned.as_ref().map(|o| o.since_ms);
        if since.is_some() {
            self.own_since(new, since);
            if let Some(id) = owned.as_ref().and_then(|o| o.id.as_deref()) {
                let _ = self.journal.created(new, id);
            }
        }
        let result = self.client.execute_argv(op, argv)?;
        if since.is_some() {
            if result.is_success() {
                self.release(old, "renamed");
            } else {
                self.release(new, "rename failed");
            }
        }
        Ok(result)
    }

    /// Notes the id of a machine we just made, so that only that exact machine stays ours.
    fn record_id(&self, name: &str) {
        match self.client.machine_info(name) {
            Ok(info) => {
                if let Err(e) = self.journal.created(name, &info.record.id) {
                    tracing::warn!(machine = name, "cannot record the machine's id in the run journal: {e}");
                }
            }
            // Without the id, its creation time still tells it from older machines.
            Err(e) => tracing::warn!(machine = name, "cannot read the new machine's id: {e}"),
        }
    }

    fn own(&self, name: &str) {
        self.own_since(name, None);
    }

    fn own_since(&self, name: &str, since: Option<u64>) {
        if let Err(e) = self.journal.own_since(name, since) {
            tracing::warn!(machine = name, "cannot record ownership in the run journal: {e}");
        }
    }

    fn release(&self, name: &str, why: &str) {
        if let Err(e) = self.journal.release(name, why) {
            tracing::warn!(machine = name, "cannot record release in the run journal: {e}");
        }
    }
}
