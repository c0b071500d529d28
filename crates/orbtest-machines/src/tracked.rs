//! Machine operations on behalf of a run's tests, as the run's broker carries them out: the
//! run's policy and admission, every attempt journaled, ownership claimed before a machine can
//! appear and released when it is gone, and a create matching a baseline carried out as a
//! clone and a start. The caller sees what `orbctl create` would have shown: a running machine,
//! exit 0, no output.
//!
//! A claim the run already holds is kept: a retry that meets `machine already exists` for a
//! machine the run made, a create or clone onto a name the run owns, a rename onto an owned
//! name that fails. An `import` without `-n` claims the name it produced.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use crate::client::{Client, MachinesError, OpResult, Outcome};
use crate::journal::{Journal, JournalView, Owned};
use crate::settings::BaselineRef;
use orbctl::errors::ErrorKind;
use orbctl::images::canonical;
use orbctl::op::{Op, OpClass};
use orbctl::output::parse_list;

/// One caller's executor: the run's client (policy, admission) journaling as that caller.
#[derive(Debug, Clone)]
pub struct Tracked {
    client: Client,
    journal: Journal,
    clone_from: Arc<Vec<BaselineRef>>,
    /// Imports that do not name their machine run one at a time, so the machine that
    /// appeared is known to be theirs.
    unnamed_imports: Arc<Mutex<()>>,
}

/// Who is calling, for the journal: nextest's test name (`binary-id::test`), or pytest's
/// current test named as its JUnit report names it (`classname::name`), so a test's machine
/// calls and its result meet.
pub fn caller_from_env() -> Option<String> {
    if let Ok(test) = std::env::var("NEXTEST_TEST_NAME") {
        return Some(match std::env::var("NEXTEST_BINARY_ID") {
            Ok(binary) => format!("{binary}::{test}"),
            Err(_) => test,
        });
    }
    std::env::var("PYTEST_CURRENT_TEST").ok().map(|t| pytest_junit_name(&t))
}

/// `tests/test_x.py::TestGroup::test_a[1] (call)` → `tests.test_x.TestGroup::test_a[1]`: the
/// node id pytest puts in `PYTEST_CURRENT_TEST`, as its JUnit XML names the test case.
pub(crate) fn pytest_junit_name(current: &str) -> String {
    let node = current
        .trim_end_matches(" (call)")
        .trim_end_matches(" (setup)")
        .trim_end_matches(" (teardown)");
    // Parameters (`[...]`) may hold anything, `::` included: they stay with the name.
    let (node, params) = node.split_at(node.find('[').unwrap_or(node.len()));
    let mut parts = node.split("::");
    let file = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let Some((name, classes)) = rest.split_last() else {
        return format!("{node}{params}");
    };
    let mut classname = file.strip_suffix(".py").unwrap_or(file).replace('/', ".");
    for class in classes {
        classname.push('.');
        classname.push_str(class);
    }
    format!("{classname}::{name}{params}")
}

impl Tracked {
    /// `client` journals through its observer; pass the same `journal` (the caller's view).
    pub fn new(client: Client, journal: Journal, clone_from: Arc<Vec<BaselineRef>>, unnamed: Arc<Mutex<()>>) -> Self {
        Tracked {
            client,
            journal,
            clone_from,
            unnamed_imports: unnamed,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
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
            Op::Import { .. } if op.created_machine().is_none() => self.unnamed_import(op, argv),
            _ if op.class() == OpClass::Create => self.create(op, argv),
            _ => self.client.execute_argv(op, argv),
        }
    }

    fn owned(&self) -> JournalView {
        JournalView::read(self.journal.path()).unwrap_or_default()
    }

    fn create(&self, op: &Op, argv: &[String]) -> Result<OpResult, MachinesError> {
        let name = op.created_machine().map(str::to_string);
        // A name the run owns stays owned whatever this call meets: the machine under it may be
        // the run's own (an earlier attempt of this very call that its caller gave up on).
        let held = name.as_deref().is_some_and(|n| self.owned().owned.contains_key(n));
        if let Some(name) = &name
            && !held
        {
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
                Outcome::Failed(ErrorKind::AlreadyExists) if !held => self.release(name, "the name was already taken"),
                Outcome::Failed(ErrorKind::InvalidInput | ErrorKind::NotFound) if !held => {
                    self.release(name, "never created")
                }
                // OrbStack answered with a failure (a download error after the retries, …):
                // the call is over, so what exists under the name now says what came of it.
                Outcome::Failed(_) if !held && result.exit_code.is_some() => self.settle_failed_create(name),
                // A timed-out create (or one whose client was killed) may still finish in the
                // daemon: keep the claim, postflight deletes the machine if it appears.
                _ => {}
            }
        }
        Ok(result)
    }

    /// `import` without `-n`: the machine is named inside the archive. It runs alone among
    /// such imports, and afterwards the one machine that appeared, newer than the call and
    /// claimed by nobody in the run, is claimed. When that is not exactly one machine,
    /// nothing is claimed (never a machine that may be someone else's).
    fn unnamed_import(&self, op: &Op, argv: &[String]) -> Result<OpResult, MachinesError> {
        let _alone = self.unnamed_imports.lock().unwrap_or_else(|e| e.into_inner());
        let since = crate::journal::now_ms();
        let before = self.names();
        let result = self.client.execute_argv(op, argv)?;
        if !result.is_success() {
            return Ok(result);
        }
        let Some(listed) = self.listing() else {
            tracing::warn!(op = %op, "cannot list machines after an import without -n: its machine is not claimed");
            return Ok(result);
        };
        let owned = self.owned();
        let candidates: Vec<_> = listed
            .iter()
            .filter(|m| !before.as_ref().is_some_and(|b| b.contains(&m.name)))
            .filter(|m| !owned.owned.contains_key(&m.name))
            .filter(|m| {
                Owned {
                    test: None,
                    since_ms: since,
                    id: None,
                }
                .matches_id(&m.id)
            })
            .collect();
        match candidates.as_slice() {
            [made] => {
                self.own_since(&made.name, Some(since));
                if let Err(e) = self.journal.created(&made.name, &made.id) {
                    tracing::warn!(machine = %made.name, "cannot record the machine's id in the run journal: {e}");
                }
            }
            other => tracing::warn!(
                op = %op,
                candidates = other.len(),
                "cannot tell which machine an import without -n made: not claimed"
            ),
        }
        Ok(result)
    }

    fn listing(&self) -> Option<Vec<orbctl::output::MachineRecord>> {
        let op = Op::List {
            running: false,
            quiet: false,
            format: Some("json".into()),
        };
        let r = self.client.execute(&op).ok().filter(OpResult::is_success)?;
        parse_list(&r.stdout).ok()
    }

    fn names(&self) -> Option<BTreeSet<String>> {
        self.listing().map(|l| l.into_iter().map(|m| m.name).collect())
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
        self.clone_from
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
        // A renamed machine stays ours if it was, with its original creation time and id. A
        // claim on the new name that the run already held is left as it is if the rename fails
        // (the machine under that name is still the run's).
        let view = self.owned();
        let moved = view.owned.get(old).cloned();
        let held = view.owned.contains_key(new);
        let claim = |this: &Self, owned: &Owned| {
            this.own_since(new, Some(owned.since_ms));
            if let Some(id) = owned.id.as_deref() {
                let _ = this.journal.created(new, id);
            }
        };
        if let (Some(owned), false) = (&moved, held) {
            claim(self, owned);
        }
        let result = self.client.execute_argv(op, argv)?;
        match (&moved, result.is_success()) {
            (Some(owned), true) => {
                if held {
                    claim(self, owned);
                }
                self.release(old, "renamed");
            }
            (Some(_), false) if !held => self.release(new, "rename failed"),
            // Someone else's machine now has a name the run held (its machine was gone).
            (None, true) if held => self.release(new, "another machine was renamed to it"),
            _ => {}
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

    /// After a create OrbStack answered with a failure: the machine under `name`, if any, is
    /// the run's only if it was made during the call (an earlier attempt that timed out may
    /// have finished); then its id pins the claim. Otherwise nothing of ours is there and the
    /// claim ends: kept without an id, it would pass any machine someone makes under that name
    /// later for the run's, and postflight (or the next run) would delete it.
    fn settle_failed_create(&self, name: &str) {
        let ended = crate::journal::now_ms();
        let Some(owned) = self.owned().owned.get(name).cloned() else {
            return;
        };
        match self.client.machine_info(name) {
            Ok(info) => {
                let made_during_the_call = owned.matches_id(&info.record.id)
                    && ulid::Ulid::from_string(&info.record.id)
                        .is_ok_and(|u| u.timestamp_ms() <= ended + crate::clock::CLOCK_SLACK_MS);
                if made_during_the_call {
                    if let Err(e) = self.journal.created(name, &info.record.id) {
                        tracing::warn!(machine = name, "cannot record the machine's id in the run journal: {e}");
                    }
                } else {
                    self.release(name, "the create failed; the machine under its name is not the run's");
                }
            }
            Err(MachinesError::Failed(r)) if r.error_kind() == Some(ErrorKind::NotFound) => {
                self.release(name, "the create failed; no machine was made")
            }
            // Unknown: keep the claim (postflight looks again).
            Err(e) => tracing::warn!(machine = name, "cannot tell what a failed create left: {e}"),
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

#[cfg(test)]
mod tests {
    use super::pytest_junit_name;

    #[test]
    fn pytest_node_ids_become_junit_names() {
        assert_eq!(
            pytest_junit_name("tests/test_vm.py::test_create (call)"),
            "tests.test_vm::test_create"
        );
        assert_eq!(
            pytest_junit_name("tests/test_x.py::TestGroup::test_in_class (setup)"),
            "tests.test_x.TestGroup::test_in_class"
        );
        assert_eq!(
            pytest_junit_name("test_x.py::test_p[a::b] (call)"),
            "test_x::test_p[a::b]"
        );
        assert_eq!(pytest_junit_name("odd"), "odd");
    }
}
