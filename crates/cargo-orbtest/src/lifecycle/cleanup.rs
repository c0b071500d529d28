//! Deleting machines: gathering who owns what (journals of live and dead runs), reaping what
//! the reap plan allows, and deleting many machines in parallel, bounded.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::reap::{self, Protect, ReapInput, ReapPlan, ReapReason};
use super::state::ProviderState;
use crate::config::MachinesConfig;
use orbtest_machines::{
    Client, ErrorKind, Journal, JournalView, MachineRecord, MachinesError, Op, OpClass, parse_list,
};

/// Why listing or deleting machines failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CleanupError {
    #[error("listing machines: {0}")]
    List(#[source] MachinesError),
    #[error("`orbctl list -f json` printed something unexpected: {0}")]
    ListOutput(#[source] orbctl::output::ParseError),
    #[error("[machines] protect: {0}")]
    Protect(#[source] globset::Error),
    #[error("{0}")]
    Delete(#[source] MachinesError),
    /// The bounded pool stopped before this machine's turn.
    #[error("not attempted")]
    NotAttempted,
}

/// Deletes run this many at a time by default: reaping 200 machines at 100 ms each takes about
/// 1.5 s instead of 20 s, without flooding OrbStack.
pub(crate) const DELETE_PARALLELISM: usize = 16;

/// The machines that exist now.
pub(crate) fn list(client: &Client) -> Result<Vec<MachineRecord>, CleanupError> {
    let op = Op::List {
        running: false,
        quiet: false,
        format: Some("json".into()),
    };
    let result = client
        .execute(&op)
        .and_then(|r| r.into_result())
        .map_err(CleanupError::List)?;
    parse_list(&result.stdout).map_err(CleanupError::ListOutput)
}

/// Who owns which machine according to the journals: runs still alive, and dead ones.
#[derive(Debug, Default)]
pub(crate) struct Ownership {
    /// machine → run id, for runs that are no longer alive.
    pub orphans: BTreeMap<String, String>,
    /// machine → run id, for runs that are alive (ours included).
    pub live: BTreeMap<String, String>,
    /// machine → run id, for machines a finished run kept on purpose (`--keep-machines`,
    /// `keep_on_failure`): never reaped, deleted by `cargo orbtest clean --kept`.
    pub kept: BTreeMap<String, String>,
    /// Journals of dead runs that still own machines: (run id, journal path).
    pub dead_journals: Vec<(String, PathBuf)>,
}

/// Reads every run's journal. A journaled machine counts as owned only if the machine that
/// exists under that name now was created after the run claimed it (its ULID says when).
pub(crate) fn ownership(state: &ProviderState, existing: &[MachineRecord]) -> Ownership {
    let ids: BTreeMap<&str, &str> = existing.iter().map(|m| (m.name.as_str(), m.id.as_str())).collect();
    let mut out = Ownership::default();
    let Ok(runs) = state.runs() else { return out };
    for (run_id, dir, alive) in runs {
        let path = dir.join("journal.jsonl");
        let Ok(view) = JournalView::read(&path) else { continue };
        if view.owned.is_empty() {
            continue;
        }
        for (machine, owned) in &view.owned {
            if !ids.get(machine.as_str()).is_some_and(|id| owned.matches_id(id)) {
                continue;
            }
            let map = if alive {
                &mut out.live
            } else if view.kept.contains(machine) {
                &mut out.kept
            } else {
                &mut out.orphans
            };
            map.insert(machine.clone(), run_id.clone());
        }
        if !alive {
            out.dead_journals.push((run_id, path));
        }
    }
    out
}

#[derive(Debug, Default)]
pub(crate) struct ReapReport {
    pub plan: ReapPlan,
    pub deleted: Vec<(String, ReapReason)>,
    pub failed: Vec<(String, CleanupError)>,
}

/// What `cargo orbtest clean` (and preflight) may do beyond reaping leftovers.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ReapOptions {
    /// Only say what would go.
    pub dry_run: bool,
    /// Also delete the machines finished runs kept on purpose (`clean --kept`).
    pub kept: bool,
}

/// The reap decision's input: what exists, who owns it, and the config's rules.
pub(crate) fn reap_input(
    state: &ProviderState,
    config: &MachinesConfig,
    existing: &[MachineRecord],
) -> (ReapInput, Ownership) {
    let owners = ownership(state, existing);
    let input = ReapInput {
        existing: existing.iter().map(|m| m.name.clone()).collect(),
        orphans: owners.orphans.clone(),
        live: owners.live.clone(),
        kept: owners.kept.clone(),
        prefixes: config.prefixes.clone(),
        baselines: state.baseline_names(&config.baselines),
    };
    (input, owners)
}

/// Preflight's reap step, and `cargo orbtest clean`.
pub(crate) fn reap(
    client: &Client,
    state: &ProviderState,
    config: &MachinesConfig,
    existing: &[MachineRecord],
    options: ReapOptions,
    parallelism: usize,
) -> Result<ReapReport, CleanupError> {
    let protect = Protect::new(&config.protect).map_err(CleanupError::Protect)?;
    let (mut input, owners) = reap_input(state, config, existing);
    if options.kept {
        // Asked for: what finished runs kept is theirs to delete now, like an orphan's.
        input.orphans.extend(std::mem::take(&mut input.kept));
    }
    let plan = reap::plan(&input, &protect);
    let dry_run = options.dry_run;
    let mut report = ReapReport {
        plan: plan.clone(),
        ..Default::default()
    };
    if dry_run {
        return Ok(report);
    }
    let names: Vec<String> = plan.delete.iter().map(|(n, _)| n.clone()).collect();
    // Machines of dead runs may still be in the making (their daemon goes on): wait for those.
    let results = delete_all(client, &names, parallelism);
    for ((name, reason), (_, result)) in plan.delete.into_iter().zip(results) {
        match result {
            Ok(()) => report.deleted.push((name, reason)),
            Err(e) => report.failed.push((name, e)),
        }
    }
    // Dead runs' journals: whatever they owned is now deleted or gone.
    let still_there: std::collections::BTreeSet<&str> = report.failed.iter().map(|(n, _)| n.as_str()).collect();
    for (run_id, path) in &owners.dead_journals {
        let Ok(view) = JournalView::read(path) else { continue };
        let Ok(journal) = Journal::open(path, run_id, None) else {
            continue;
        };
        for machine in view.owned.keys() {
            if !still_there.contains(machine.as_str()) && !plan.keep.iter().any(|(k, _)| k == machine) {
                let _ = journal.release(machine, "reaped by a later run");
            }
        }
    }
    Ok(report)
}

/// Deletes `names`, `parallelism` at a time. A machine that is already gone counts as deleted;
/// one still being made (its creator was killed, the daemon goes on) is waited for, up to a
/// create timeout, rather than left behind.
pub(crate) fn delete_all(
    client: &Client,
    names: &[String],
    parallelism: usize,
) -> Vec<(String, Result<(), CleanupError>)> {
    let results = super::parallel::map_bounded(names, parallelism, || false, |name| delete_one(client, name));
    names
        .iter()
        .cloned()
        .zip(
            results
                .into_iter()
                .map(|r| r.unwrap_or(Err(CleanupError::NotAttempted))),
        )
        .collect()
}

/// Deletes one machine; one already gone counts as deleted. A machine still being made for a
/// client that died (the daemon goes on) cannot be deleted yet (`operations are in progress`):
/// we wait for it to settle, up to a create timeout, instead of leaving it behind.
pub(crate) fn delete_one(client: &Client, name: &str) -> Result<(), CleanupError> {
    let op = Op::delete(name);
    let policy = client.policy();
    let deadline = Instant::now() + policy.timeout(OpClass::Create).unwrap_or(Duration::from_secs(180));
    loop {
        match client.execute(&op) {
            Ok(r) if r.is_success() => return Ok(()),
            Ok(r) if r.error_kind() == Some(ErrorKind::NotFound) => return Ok(()),
            Ok(r) if r.stderr_text().contains("operations are in progress") && Instant::now() < deadline => {
                std::thread::sleep(policy.poll_interval);
            }
            Ok(r) => return Err(CleanupError::Delete(MachinesError::Failed(Box::new(r)))),
            Err(e) => return Err(CleanupError::Delete(e)),
        }
    }
}
