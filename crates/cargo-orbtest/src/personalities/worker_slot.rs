//! Handing each test its worker machine, as this binary under two more names (links in the
//! run's `bin/`, which machine tiers have first on PATH):
//!
//! * `orbtest-runner TEST-BINARY ARGS...`: the target runner of nextest machine tiers with
//!   workers (see `nextest::target_runner`). For a test (`NEXTEST_TEST_GLOBAL_SLOT` set) it
//!   checks the slot's worker, replaces it if broken, sets `ORBTEST_WORKER` and executes the
//!   test through the user's own runner if one was chained. Listing passes straight through.
//! * `orbtest-worker [--no-check]`: prints the calling process's worker (the mapping in
//!   `machines::workers`), checked and replaced if broken first. For suites that are not
//!   nextest's, e.g. a pytest fixture: `subprocess.check_output(["orbtest-worker"])`.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tiers::nextest::target_runner::CHAINED_ENV;
use orbtest_machines::broker::remote::Remote;
use orbtest_machines::worker_machines::{self as workers, ENV_WORKER, WorkerSet};

pub const RUNNER: &str = "orbtest-runner";
pub const HELPER: &str = "orbtest-worker";

/// Links both names in `dir` to this executable.
pub fn link(dir: &Path) -> std::io::Result<PathBuf> {
    let me = std::fs::canonicalize(std::env::current_exe()?)?;
    for name in [RUNNER, HELPER] {
        let link = dir.join(name);
        match std::fs::symlink_metadata(&link) {
            Ok(_) => std::fs::remove_file(&link)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::os::unix::fs::symlink(&me, &link)?;
    }
    Ok(dir.join(RUNNER))
}

/// Entry point for both names; returns the exit code (the runner only returns on failure).
pub fn main(name: &str, args: Vec<OsString>) -> i32 {
    match name {
        RUNNER => runner(args),
        _ => helper(&args),
    }
}

fn fail(who: &str, message: impl std::fmt::Display) -> i32 {
    crate::errln!("{who} (cargo orbtest): {message}");
    1
}

/// Why a test's worker machine cannot be given to it.
#[derive(Debug, thiserror::Error)]
enum SlotError {
    #[error(transparent)]
    Workers(#[from] orbtest_machines::files::ReadJsonError),
    #[error(transparent)]
    Run(#[from] orbtest_machines::MachinesError),
    #[error("NEXTEST_TEST_GLOBAL_SLOT={0:?} is not a number")]
    Slot(String),
    #[error("test slot {index} has no worker machine: the run has {count} ([machines.workers] count)")]
    NoWorker { index: usize, count: usize },
    #[error("this test's worker (slot {index}): {source}")]
    Unhealthy {
        index: usize,
        #[source]
        source: workers::WorkerError,
    },
}

/// The run's workers and an executor for its machine operations.
fn run_workers() -> Result<Option<(Remote, WorkerSet)>, SlotError> {
    let Some(dir) = std::env::var_os(crate::env::RUN_DIR).filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    let Some(set) = WorkerSet::read(Path::new(&dir))? else {
        return Ok(None);
    };
    let run = Remote::open(Path::new(&dir), orbtest_machines::tracked::caller_from_env())?;
    Ok(Some((run, set)))
}

fn runner(args: Vec<OsString>) -> i32 {
    let Some((program, rest)) = args.split_first() else {
        return fail(
            RUNNER,
            "expected a test binary to run (this is nextest's target runner)",
        );
    };
    let chained: Vec<String> = match std::env::var(CHAINED_ENV) {
        Ok(json) if !json.is_empty() => match serde_json::from_str(&json) {
            Ok(c) => c,
            Err(e) => return fail(RUNNER, format!("{CHAINED_ENV} is not a JSON list of strings: {e}")),
        },
        _ => Vec::new(),
    };
    let mut cmd = match chained.split_first() {
        Some((user_runner, user_args)) => {
            let mut c = Command::new(user_runner);
            c.args(user_args).arg(program);
            c
        }
        None => Command::new(program),
    };
    cmd.args(rest);
    // Only tests have a slot; listing the binary's tests needs no worker.
    if let Ok(slot) = std::env::var("NEXTEST_TEST_GLOBAL_SLOT") {
        match worker_for_slot(&slot) {
            Ok(Some(name)) => {
                cmd.env(ENV_WORKER, name);
            }
            Ok(None) => {}
            Err(e) => return fail(RUNNER, e),
        }
    }
    let e = cmd.exec();
    fail(
        RUNNER,
        format!("cannot run {}: {e}", cmd.get_program().to_string_lossy()),
    )
}

fn worker_for_slot(slot: &str) -> Result<Option<String>, SlotError> {
    let Some((tracked, set)) = run_workers()? else {
        return Ok(None);
    };
    let index: usize = slot.trim().parse().map_err(|_| SlotError::Slot(slot.to_string()))?;
    let name = set.names.get(index).ok_or(SlotError::NoWorker {
        index,
        count: set.names.len(),
    })?;
    workers::ensure_healthy(&tracked, name, &set.source).map_err(|source| SlotError::Unhealthy { index, source })?;
    Ok(Some(name.clone()))
}

fn helper(args: &[OsString]) -> i32 {
    let check = match args.first().and_then(|a| a.to_str()) {
        None => true,
        Some("--no-check") => false,
        Some("-h" | "--help") => {
            crate::outln!(
                "usage: {HELPER} [--no-check]\n\nPrints the worker machine of the calling test process during a \
                 cargo orbtest machine tier:\n$ORBTEST_WORKER, else entry N of $ORBTEST_WORKERS for \
                 NEXTEST_TEST_GLOBAL_SLOT=N, PYTEST_XDIST_WORKER=gwN or JEST_WORKER_ID=N+1 (else the first).\nIt \
                 checks the machine first (`orbctl run -m NAME true` within 5s) and replaces it if it is broken."
            );
            return 0;
        }
        Some(other) => return fail(HELPER, format!("unknown argument `{other}` (try --help)")),
    };
    let name = match workers::assigned(|k| std::env::var(k).ok()) {
        None => {
            return fail(
                HELPER,
                "this run has no worker machines ([machines.workers]) or this is not a machine tier",
            );
        }
        Some(Err(e)) => return fail(HELPER, e),
        Some(Ok(name)) => name,
    };
    if check {
        match run_workers() {
            Ok(Some((tracked, set))) => {
                if let Err(e) = workers::ensure_healthy(&tracked, &name, &set.source) {
                    return fail(HELPER, e);
                }
            }
            Ok(None) => {}
            Err(e) => return fail(HELPER, e),
        }
    }
    crate::outln!("{name}");
    0
}
