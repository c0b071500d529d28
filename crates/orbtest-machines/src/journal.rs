//! The run journal: an append-only JSONL file per run recording every machine operation attempt
//! and every change of ownership. It is how a later run finds the machines a crashed or killed
//! run left behind, whatever their names.
//!
//! Ownership is recorded *before* a create-class operation starts and synced to disk (the
//! daemon outlives its client: a machine can appear after we were killed). Lines are appended
//! whole with `O_APPEND` under an advisory lock, so several processes can share one journal;
//! a reader skips a torn last line. During machine tiers the run's broker writes on behalf of
//! every test (each record names its test and process), beside the orchestrator's own lines.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::client::{AttemptObserver, AttemptOutcome, CallAttempt};
use crate::redact::Redactor;

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Record {
    /// The first line: which run this is.
    Run {
        ts_ms: u64,
        run_id: String,
        pid: u32,
        provider: String,
        workspace: String,
    },
    /// `machine` is ours from now on (written before the create-class call starts). Only a
    /// machine created at or after `since_ms` (its ULID id tells) can be ours: a name that was
    /// already taken stays its owner's. `since_ms` is `ts_ms` except after a rename.
    Own {
        ts_ms: u64,
        pid: u32,
        machine: String,
        #[serde(default)]
        test: Option<String>,
        #[serde(default)]
        since_ms: Option<u64>,
    },
    /// The machine we claimed now exists, with this id: from here on only that exact machine
    /// is ours (one deleted and made again under the same name by someone else is not).
    Created {
        ts_ms: u64,
        pid: u32,
        machine: String,
        id: String,
    },
    /// `machine` is no longer ours: deleted, never created, or renamed away.
    Release {
        ts_ms: u64,
        pid: u32,
        machine: String,
        reason: String,
    },
    /// One attempt of one orbctl operation (the report's latency table reads these).
    Op(OpRecord),
    /// The run's broker started: from here on tests' machine calls go through it, and caller
    /// departures are recorded (`caller-gone`). `cap` is the explicit create cap, if any.
    Broker {
        ts_ms: u64,
        pid: u32,
        #[serde(default)]
        cap: Option<u64>,
    },
    /// A caller went away (killed by its own timeout, its pipe closed) while its call waited
    /// for admission (`phase` "queued") or was being carried out ("running"). The call goes
    /// on; a retry of it by the same test joins it.
    CallerGone {
        ts_ms: u64,
        pid: u32,
        #[serde(default)]
        test: Option<String>,
        op: String,
        #[serde(default)]
        machine: Option<String>,
        phase: String,
        /// How long the caller had waited for this call when it went.
        waited_ms: u64,
    },
    /// A test's call found the same call of the same test already under way (or finished
    /// after its caller went away) and took its result instead of starting another.
    Joined {
        ts_ms: u64,
        pid: u32,
        #[serde(default)]
        test: Option<String>,
        op: String,
        #[serde(default)]
        machine: Option<String>,
        /// ok | failed | timed-out, as the joined call ended.
        outcome: String,
    },
    /// A test asked for a machine name another test of the run was making, or had made: it
    /// got orbctl's `machine already exists` at once.
    Collision {
        ts_ms: u64,
        pid: u32,
        #[serde(default)]
        test: Option<String>,
        machine: String,
        #[serde(default)]
        other: Option<String>,
    },
    /// The shim would not carry out a call (e.g. a delete of a protected machine or a
    /// baseline) and answered as orbctl would about it.
    Refused {
        ts_ms: u64,
        pid: u32,
        #[serde(default)]
        test: Option<String>,
        op: String,
        machine: String,
        reason: String,
    },
    /// Postflight finished; everything still owned was kept on purpose.
    End { ts_ms: u64, kept: Vec<String> },
}

impl Record {
    /// A journal record with its free text masked. Machine names in ownership records stay as
    /// they are: they must match the machine for cleanup to find it.
    pub fn redacted(&self, redactor: &Redactor) -> Record {
        let r = |s: &str| redactor.redact(s).into_owned();
        let mut out = self.clone();
        match &mut out {
            Record::Run { workspace, .. } => *workspace = r(workspace),
            Record::Own { test, .. } => *test = test.as_deref().map(r),
            Record::Release { reason, .. } => *reason = r(reason),
            Record::Op(op) => {
                op.test = op.test.as_deref().map(r);
                op.machine = op.machine.as_deref().map(r);
                op.error = op.error.as_deref().map(r);
            }
            Record::CallerGone { test, .. } | Record::Joined { test, .. } | Record::Collision { test, .. } => {
                *test = test.as_deref().map(r)
            }
            Record::Refused { test, reason, .. } => {
                *test = test.as_deref().map(r);
                *reason = r(reason);
            }
            Record::Created { .. } | Record::End { .. } | Record::Broker { .. } => {}
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpRecord {
    pub ts_ms: u64,
    pub run_id: String,
    pub pid: u32,
    pub test: Option<String>,
    pub op: String,
    pub machine: Option<String>,
    pub attempt: u32,
    pub timeout_ms: Option<u64>,
    /// Time waiting for admission (a create slot, pressure), not counted against the timeout.
    pub waited_ms: u64,
    /// Time waiting for a machine a killed attempt left behind.
    #[serde(default)]
    pub recovery_ms: u64,
    pub duration_ms: u64,
    /// ok | failed | timed-out
    pub outcome: String,
    pub recovered: bool,
    #[serde(default)]
    pub error: Option<String>,
    pub exit_code: Option<i32>,
}

pub use crate::clock::{CLOCK_SLACK_MS, now_ms};

/// Appends to one run's journal on behalf of one caller. Shared by threads; other processes
/// open the same file.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
    run_id: String,
    /// The test these records are for (`NEXTEST_TEST_NAME`, `PYTEST_CURRENT_TEST`).
    test: Option<String>,
    /// The process they are for (the caller's, when the broker writes for a test).
    pid: u32,
    file: Arc<Mutex<File>>,
}

impl Journal {
    pub fn open(path: &Path, run_id: &str, test: Option<String>) -> std::io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .mode(0o600)
            .open(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            run_id: run_id.to_string(),
            test,
            pid: std::process::id(),
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// The same journal, writing for another caller (the broker serves many tests).
    pub(crate) fn for_caller(&self, test: Option<String>, pid: u32) -> Journal {
        Journal {
            test,
            pid,
            ..self.clone()
        }
    }

    /// The test these records are for.
    pub fn test(&self) -> Option<&str> {
        self.test.as_deref()
    }

    /// The process these records are for.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Appends one record; `sync` for ownership changes, which must survive a crash.
    pub fn append(&self, record: &Record, sync: bool) -> std::io::Result<()> {
        let record = record.redacted(crate::redact::global());
        let mut line = serde_json::to_vec(&record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        // The lock makes the torn-line check exact: without it, another process's write still
        // in progress looks like a torn line and this record would start with a blank one.
        // A file system without locks still gets whole lines from O_APPEND.
        let locked = file.lock().is_ok();
        let written = (|| {
            // A torn last line (a crash or a full disk mid-write): start a new line first, or
            // this record would be glued to the torn one and lost with it.
            if ends_torn(&file)? {
                line.insert(0, b'\n');
            }
            // One write per line: O_APPEND places it whole at the end.
            file.write_all(&line)
        })();
        if locked {
            let _ = file.unlock();
        }
        written?;
        if sync {
            file.sync_data()?;
        }
        Ok(())
    }

    /// Records `machine` as ours before the call that creates it.
    pub fn own(&self, machine: &str) -> std::io::Result<()> {
        self.own_since(machine, None)
    }

    /// Records `machine` as ours, created no earlier than `since_ms` (a renamed machine keeps
    /// the time of its original creation).
    pub(crate) fn own_since(&self, machine: &str, since_ms: Option<u64>) -> std::io::Result<()> {
        self.append(
            &Record::Own {
                ts_ms: now_ms(),
                pid: self.pid,
                machine: machine.to_string(),
                test: self.test.clone(),
                since_ms,
            },
            true,
        )
    }

    /// Records the id of a machine we claimed, once it exists.
    pub fn created(&self, machine: &str, id: &str) -> std::io::Result<()> {
        self.append(
            &Record::Created {
                ts_ms: now_ms(),
                pid: self.pid,
                machine: machine.to_string(),
                id: id.to_string(),
            },
            true,
        )
    }

    pub fn release(&self, machine: &str, reason: &str) -> std::io::Result<()> {
        self.append(
            &Record::Release {
                ts_ms: now_ms(),
                pid: self.pid,
                machine: machine.to_string(),
                reason: reason.to_string(),
            },
            true,
        )
    }

    fn op_record(&self, a: &CallAttempt<'_>) -> OpRecord {
        let ms = |d: Duration| d.as_millis() as u64;
        let (outcome, recovered, error) = match a.outcome {
            AttemptOutcome::Succeeded => ("ok", false, None),
            AttemptOutcome::Recovered => ("ok", true, None),
            AttemptOutcome::Failed(kind) => ("failed", false, Some(kind.to_string())),
            AttemptOutcome::TimedOut => ("timed-out", false, None),
            AttemptOutcome::OrbStackDown => ("timed-out", false, Some("OrbStack down".to_string())),
        };
        OpRecord {
            ts_ms: now_ms(),
            run_id: self.run_id.clone(),
            pid: self.pid,
            test: self.test.clone(),
            op: a.op.verb().to_string(),
            machine: a.machine.map(str::to_string),
            attempt: a.number,
            timeout_ms: a.timeout.map(ms),
            waited_ms: ms(a.admission_wait),
            recovery_ms: ms(a.recovery_wait),
            duration_ms: ms(a.duration),
            outcome: outcome.to_string(),
            recovered,
            error,
            exit_code: a.exit_code,
        }
    }
}

impl AttemptObserver for Journal {
    fn on_attempt(&self, attempt: &CallAttempt<'_>) {
        let record = Record::Op(self.op_record(attempt));
        if let Err(e) = self.append(&record, false) {
            tracing::warn!(journal = %self.path.display(), "cannot append to the run journal: {e}");
        }
    }
}

/// Whether a non-empty file's last byte is not a newline.
fn ends_torn(file: &File) -> std::io::Result<bool> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(false);
    }
    let mut last = [0u8; 1];
    file.read_exact_at(&mut last, len - 1)?;
    Ok(last[0] != b'\n')
}

/// A machine a run owns, as its journal says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    /// The test that created it, when a test did.
    pub test: Option<String>,
    /// It is ours only if it was created at or after this moment.
    pub since_ms: u64,
    /// Its id, once the create finished: then only that exact machine is ours.
    pub id: Option<String>,
}

impl Owned {
    /// Whether the machine with this id (a ULID, which carries its creation time) can be the
    /// one we created. An id we cannot read is never ours: when unsure, do not delete.
    pub fn matches_id(&self, id: &str) -> bool {
        match &self.id {
            Some(known) => known == id,
            None => ulid::Ulid::from_string(id).is_ok_and(|u| u.timestamp_ms() + CLOCK_SLACK_MS >= self.since_ms),
        }
    }
}

/// What a journal says, read back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JournalView {
    pub run_id: Option<String>,
    /// Machines owned and not released.
    pub owned: BTreeMap<String, Owned>,
    pub ended: bool,
    /// Machines the run kept on purpose at its end (`--keep-machines`, `keep_on_failure`):
    /// owned still, but never reaped by a later run.
    pub kept: std::collections::BTreeSet<String>,
    pub ops: Vec<OpRecord>,
    /// Whether a broker served the run's tests (so caller departures were watched).
    pub broker: bool,
    /// What the broker saw of its callers: departures, joins, collisions, refusals, in order.
    pub calls: Vec<Record>,
    /// Lines that could not be read (a torn last line after a crash, or damage).
    pub skipped_lines: usize,
}

impl JournalView {
    pub fn read(path: &Path) -> std::io::Result<Self> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e),
        };
        let mut view = Self::default();
        let mut reader = BufReader::new(file);
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Record>(&line) {
                Ok(record) => view.apply(record),
                Err(_) => view.skipped_lines += 1,
            }
        }
        Ok(view)
    }

    fn apply(&mut self, record: Record) {
        match record {
            Record::Run { run_id, .. } => self.run_id = Some(run_id),
            Record::Own {
                machine,
                test,
                ts_ms,
                since_ms,
                ..
            } => {
                let since_ms = since_ms.unwrap_or(ts_ms);
                self.owned.insert(
                    machine,
                    Owned {
                        test,
                        since_ms,
                        id: None,
                    },
                );
            }
            Record::Created { machine, id, .. } => {
                if let Some(owned) = self.owned.get_mut(&machine) {
                    owned.id = Some(id);
                }
            }
            Record::Release { machine, .. } => {
                self.kept.remove(&machine);
                self.owned.remove(&machine);
            }
            Record::Op(op) => self.ops.push(op),
            Record::End { kept, .. } => {
                self.ended = true;
                self.kept.extend(kept);
            }
            Record::Broker { .. } => self.broker = true,
            record @ (Record::CallerGone { .. }
            | Record::Joined { .. }
            | Record::Collision { .. }
            | Record::Refused { .. }) => self.calls.push(record),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_records_keep_machine_names_for_ownership() {
        let r = Redactor::from_vars([("RUN_TOKEN".into(), "test-s3cr3t".into())]);
        let own = Record::Own {
            ts_ms: 1,
            pid: 1,
            machine: "test-s3cr3t".into(),
            test: Some("bin::uses test-s3cr3t".into()),
            since_ms: None,
        };
        match own.redacted(&r) {
            Record::Own { machine, test, .. } => {
                assert_eq!(machine, "test-s3cr3t");
                assert_eq!(test.as_deref(), Some("bin::uses [REDACTED]"));
            }
            other => panic!("{other:?}"),
        }
    }

    /// Journals opened while another writer is mid-line (every shim opens one) must not
    /// take the line in progress for a torn one and leave blank lines in the file.
    #[test]
    fn concurrent_writers_leave_only_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        // Lines over several pages, so a write is visible half done for a while.
        let long = "t".repeat(256 * 1024);
        std::thread::scope(|s| {
            for w in 0..4 {
                let (path, long) = (&path, &long);
                s.spawn(move || {
                    for i in 0..25 {
                        let j = Journal::open(path, "run-1", Some(long.clone())).unwrap();
                        j.own(&format!("test-{w}-{i}")).unwrap();
                    }
                });
            }
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with('\n'));
        let blank = text.lines().filter(|l| l.is_empty()).count();
        assert_eq!(blank, 0, "blank lines in the journal");
        let view = JournalView::read(&path).unwrap();
        assert_eq!(view.owned.len(), 100);
        assert_eq!(view.skipped_lines, 0);
    }

    #[test]
    fn ownership_survives_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let j = Journal::open(&path, "run-1", Some("bin::t".into())).unwrap();
        j.append(
            &Record::Run {
                ts_ms: 1,
                run_id: "run-1".into(),
                pid: 1,
                provider: "orbsim".into(),
                workspace: "/ws".into(),
            },
            true,
        )
        .unwrap();
        j.own("test-a").unwrap();
        j.own("test-b").unwrap();
        j.release("test-a", "deleted").unwrap();
        drop(j);
        // A crash in the middle of a write.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"event":"own","ts_ms":5,"pid":1,"mach"#).unwrap();
        let view = JournalView::read(&path).unwrap();
        assert_eq!(view.run_id.as_deref(), Some("run-1"));
        assert_eq!(view.owned.keys().collect::<Vec<_>>(), ["test-b"]);
        assert_eq!(view.owned["test-b"].test.as_deref(), Some("bin::t"));
        assert_eq!(view.skipped_lines, 1);
        assert!(!view.ended);
    }

    #[test]
    fn only_machines_created_after_the_record_are_ours() {
        let owned = Owned {
            test: None,
            since_ms: 1_800_000_000_000,
            id: None,
        };
        let made = |ms: u64| ulid::Ulid::from_parts(ms, 7).to_string();
        assert!(owned.matches_id(&made(1_800_000_000_500)));
        assert!(
            owned.matches_id(&made(1_800_000_000_000 - 1_000)),
            "within the clock slack"
        );
        assert!(
            !owned.matches_id(&made(1_700_000_000_000)),
            "a machine that existed long before"
        );
        assert!(!owned.matches_id("not-a-ulid"));
        // Once the create is done, only that exact machine counts.
        let known = Owned {
            id: Some(made(1_800_000_000_500)),
            ..owned
        };
        assert!(known.matches_id(&made(1_800_000_000_500)));
        assert!(
            !known.matches_id(&made(1_800_000_000_900)),
            "a newer machine under our name is someone else's"
        );
    }

    #[test]
    fn a_missing_journal_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            JournalView::read(&dir.path().join("none.jsonl")).unwrap(),
            JournalView::default()
        );
    }
}
