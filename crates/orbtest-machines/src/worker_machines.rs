//! Worker machines: warm machines a run provides (`[machines.workers]`), one per test slot, so
//! tests that need "a machine" skip creating one. This is what every process of the run shares
//! about them: their names, how a broken one is remade, which one the calling process has, and
//! the health check (`orbctl run -m NAME true` within 5 s).
//!
//! Which worker a process has (the documented mapping):
//! 1. `ORBTEST_WORKER`, when set (nextest tiers: orbtest's target runner sets it per test from
//!    `NEXTEST_TEST_GLOBAL_SLOT`);
//! 2. else index `N` of `ORBTEST_WORKERS` (comma-separated) from `NEXTEST_TEST_GLOBAL_SLOT=N`,
//!    pytest-xdist's `PYTEST_XDIST_WORKER=gwN`, or jest's `JEST_WORKER_ID=N+1`;
//! 3. else the first worker (a runner without parallel workers).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::client::{MachinesError, OpResult};
use crate::provider::Provider;
use orbctl::op::Op;
use orbtest_process::StdinMode;

pub const ENV_WORKERS: &str = crate::env::WORKERS;
pub const ENV_WORKER: &str = crate::env::WORKER;
/// How long a healthy worker may take to run `true`.
pub(crate) const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);
/// Replacements tried for one broken worker before giving up.
pub(crate) const MAX_REPLACEMENTS: u32 = 2;

/// What went wrong with a worker machine.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Set(#[from] crate::files::ReadJsonError),
    #[error("{var}={value:?} is not {expected}")]
    WorkerId {
        var: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error(
        "this process is worker {index} of its test runner but the run has {count} worker machines \
         ([machines.workers] count); raise count or run fewer tests at once"
    )]
    TooFew { index: usize, count: usize },
    #[error("worker machine `{name}` is broken and {MAX_REPLACEMENTS} replacements did not help: {problem}")]
    Broken {
        name: String,
        #[source]
        problem: Box<WorkerError>,
    },
    #[error(transparent)]
    Machine(#[from] MachinesError),
    #[error("could not delete the broken worker `{name}`: {stderr}")]
    Delete { name: String, stderr: String },
    #[error("`orbctl run -m {name} true` could not run: {source}")]
    Check {
        name: String,
        #[source]
        source: orbtest_process::SuperviseError,
    },
    #[error(
        "`orbctl run -m {name} true` did not finish within {}",
        humantime::format_duration(HEALTH_TIMEOUT)
    )]
    Slow { name: String },
    #[error(
        "`orbctl run -m {name} true` exited with {}{}",
        .code.map_or("no code".to_string(), |c| c.to_string()),
        if .said.is_empty() { String::new() } else { format!(": {}", .said) }
    )]
    Unhealthy {
        name: String,
        code: Option<i32>,
        /// The first line of its stderr.
        said: String,
    },
}

/// The run's workers, as its settings record them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerSet {
    /// Index = test slot.
    pub names: Vec<String>,
    pub source: WorkerSource,
}

/// How a worker is made (and remade).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerSource {
    /// `clone BASELINE NAME` + `start NAME`.
    Clone { baseline: String },
    /// `create IMAGE NAME`.
    Create { image: String },
}

impl WorkerSet {
    /// Kept beside the run's settings (`$ORBTEST_RUN_DIR/workers.json`).
    pub const FILE_NAME: &'static str = "workers.json";

    pub fn write(&self, run_dir: &std::path::Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::files::write_atomic(&run_dir.join(Self::FILE_NAME), &bytes)
    }

    /// The run's workers; `Ok(None)` for a run without any.
    pub fn read(run_dir: &std::path::Path) -> Result<Option<Self>, crate::files::ReadJsonError> {
        match crate::files::read_json(&run_dir.join(Self::FILE_NAME)) {
            Ok(set) => Ok(Some(set)),
            Err(e) if e.is_missing() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// What the health check and replacement need: operations journaled for the run (ownership
/// claimed before a machine can appear), and `run -m NAME true` bounded by [`HEALTH_TIMEOUT`].
pub trait WorkerOps {
    fn execute(&self, op: &Op) -> Result<OpResult, MachinesError>;
    fn check(&self, name: &str) -> Result<(), WorkerError>;
}

/// The worker index of the calling process from its runner's worker id (see module docs).
pub(crate) fn index_from_env(get: impl Fn(&str) -> Option<String>) -> Result<usize, WorkerError> {
    let bad = |var: &'static str, value: String, expected: &'static str| WorkerError::WorkerId { var, value, expected };
    if let Some(slot) = get("NEXTEST_TEST_GLOBAL_SLOT") {
        return slot
            .trim()
            .parse()
            .map_err(|_| bad("NEXTEST_TEST_GLOBAL_SLOT", slot.clone(), "a number"));
    }
    if let Some(id) = get("PYTEST_XDIST_WORKER") {
        return id
            .trim()
            .strip_prefix("gw")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| bad("PYTEST_XDIST_WORKER", id.clone(), "of the form gwN"));
    }
    if let Some(id) = get("JEST_WORKER_ID") {
        return id
            .trim()
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .ok_or_else(|| bad("JEST_WORKER_ID", id.clone(), "a number from 1"));
    }
    Ok(0)
}

/// The calling process's worker name, or `None` outside a run with workers.
pub fn assigned(get: impl Fn(&str) -> Option<String>) -> Option<Result<String, WorkerError>> {
    if let Some(name) = get(ENV_WORKER).filter(|n| !n.is_empty()) {
        return Some(Ok(name));
    }
    let names: Vec<String> = get(ENV_WORKERS)?
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        return None;
    }
    Some(index_from_env(&get).and_then(|i| {
        names.get(i).cloned().ok_or(WorkerError::TooFew {
            index: i,
            count: names.len(),
        })
    }))
}

/// Checks `name`; if it is broken, deletes it and makes it again (same name), up to
/// [`MAX_REPLACEMENTS`] times. Returns how many replacements it took.
pub fn ensure_healthy(ops: &dyn WorkerOps, name: &str, source: &WorkerSource) -> Result<u32, WorkerError> {
    let mut problem = match ops.check(name) {
        Ok(()) => return Ok(0),
        Err(e) => e,
    };
    for replacement in 1..=MAX_REPLACEMENTS {
        tracing::warn!(worker = name, problem = %problem, "replacing a broken worker machine");
        match replace(ops, name, source).and_then(|()| ops.check(name)) {
            Ok(()) => return Ok(replacement),
            Err(e) => problem = e,
        }
    }
    Err(WorkerError::Broken {
        name: name.to_string(),
        problem: Box::new(problem),
    })
}

/// Makes worker `name` from its source.
pub fn provide(ops: &dyn WorkerOps, name: &str, source: &WorkerSource) -> Result<(), WorkerError> {
    let run = |op: Op| -> Result<(), WorkerError> {
        ops.execute(&op).and_then(|r| r.into_result())?;
        Ok(())
    };
    match source {
        WorkerSource::Clone { baseline } => {
            run(Op::Clone {
                src: baseline.clone(),
                dst: name.to_string(),
            })?;
            run(Op::Start {
                names: vec![name.to_string()],
                all: false,
            })
        }
        WorkerSource::Create { image } => run(Op::Create {
            image: image.clone(),
            name: Some(name.to_string()),
            arch: None,
            user: None,
            user_data: None,
            set_password: false,
        }),
    }
}

/// Deletes `name` (gone already is fine) and makes it again.
fn replace(ops: &dyn WorkerOps, name: &str, source: &WorkerSource) -> Result<(), WorkerError> {
    let deleted = ops.execute(&Op::Delete {
        names: vec![name.to_string()],
        force: true,
        all: false,
    })?;
    let gone = deleted.is_success() || deleted.error_kind() == Some(crate::ErrorKind::NotFound);
    if !gone {
        return Err(WorkerError::Delete {
            name: name.to_string(),
            stderr: deleted.stderr_text().trim().to_string(),
        });
    }
    provide(ops, name, source)
}

/// The health check: `orbctl run -m NAME true` must exit 0 within [`HEALTH_TIMEOUT`]. It goes
/// straight to the provider (stdin closed, no retries: a slow worker is a broken one).
pub fn check(provider: &dyn Provider, name: &str) -> Result<(), WorkerError> {
    let mut inv = provider.invocation(&health_op(name).to_argv());
    inv.stdin = StdinMode::Null;
    let c = orbtest_process::capture(&inv, Some(HEALTH_TIMEOUT)).map_err(|source| WorkerError::Check {
        name: name.to_string(),
        source,
    })?;
    if c.timed_out {
        return Err(WorkerError::Slow { name: name.to_string() });
    }
    if c.code == Some(0) {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&c.stderr);
    Err(WorkerError::Unhealthy {
        name: name.to_string(),
        code: c.code,
        said: said.lines().next().unwrap_or("").trim().to_string(),
    })
}

/// `run -m NAME true`.
pub(crate) fn health_op(name: &str) -> Op {
    Op::Run {
        machine: Some(name.to_string()),
        user: None,
        workdir: None,
        shell: false,
        path: false,
        command: vec!["true".into()],
    }
}

/// Worker operations on behalf of a run: its policy, admission and journal (a replacement is
/// claimed before it is created, like any create of the run's tests). The orchestrator's own
/// go straight to the broker's executor.
impl WorkerOps for crate::tracked::Tracked {
    fn execute(&self, op: &Op) -> Result<OpResult, MachinesError> {
        crate::tracked::Tracked::execute(self, op, &op.to_argv())
    }

    fn check(&self, name: &str) -> Result<(), WorkerError> {
        check(self.client().provider().as_ref(), name)
    }
}

/// A test process's, through the run's broker.
impl WorkerOps for crate::broker::remote::Remote {
    fn execute(&self, op: &Op) -> Result<OpResult, MachinesError> {
        crate::broker::remote::Remote::execute(self, op)
    }

    fn check(&self, name: &str) -> Result<(), WorkerError> {
        check(&self.settings().provider(), name)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::*;
    use crate::client::Outcome;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn the_worker_follows_the_runners_worker_id() {
        let all = "w-0,w-1,w-2";
        fn assigned(get: impl Fn(&str) -> Option<String>) -> Option<Result<String, String>> {
            super::assigned(get).map(|r| r.map_err(|e| e.to_string()))
        }
        assert_eq!(assigned(env(&[])), None);
        assert_eq!(assigned(env(&[(ENV_WORKERS, all)])), Some(Ok("w-0".into())));
        assert_eq!(
            assigned(env(&[(ENV_WORKERS, all), ("NEXTEST_TEST_GLOBAL_SLOT", "2")])),
            Some(Ok("w-2".into()))
        );
        assert_eq!(
            assigned(env(&[(ENV_WORKERS, all), ("PYTEST_XDIST_WORKER", "gw1")])),
            Some(Ok("w-1".into()))
        );
        assert_eq!(
            assigned(env(&[(ENV_WORKERS, all), ("JEST_WORKER_ID", "3")])),
            Some(Ok("w-2".into()))
        );
        assert_eq!(
            assigned(env(&[
                (ENV_WORKERS, all),
                (ENV_WORKER, "w-1"),
                ("PYTEST_XDIST_WORKER", "gw0")
            ])),
            Some(Ok("w-1".into()))
        );
        let too_many = assigned(env(&[(ENV_WORKERS, all), ("PYTEST_XDIST_WORKER", "gw3")])).unwrap();
        assert!(too_many.unwrap_err().contains("3 worker machines"));
        assert!(index_from_env(env(&[("PYTEST_XDIST_WORKER", "master")])).is_err());
    }

    /// A provider where machines break on demand.
    #[derive(Default)]
    struct Fake {
        broken: RefCell<HashMap<String, u32>>,
        log: RefCell<Vec<String>>,
    }

    impl WorkerOps for Fake {
        fn execute(&self, op: &Op) -> Result<OpResult, MachinesError> {
            self.log.borrow_mut().push(op.to_string());
            Ok(OpResult {
                op: op.clone(),
                outcome: Outcome::Succeeded,
                stdout: Vec::new(),
                stderr: Vec::new(),
                exit_code: Some(0),
                attempts: 1,
                retries: 0,
                recovered: false,
                timeout: None,
                duration: Duration::ZERO,
                admission_wait: Duration::ZERO,
                attempt_durations: Vec::new(),
            })
        }

        fn check(&self, name: &str) -> Result<(), WorkerError> {
            self.log.borrow_mut().push(format!("check {name}"));
            let mut broken = self.broken.borrow_mut();
            match broken.get_mut(name) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    Err(WorkerError::Unhealthy {
                        name: name.to_string(),
                        code: Some(1),
                        said: String::new(),
                    })
                }
                _ => Ok(()),
            }
        }
    }

    #[test]
    fn a_broken_worker_is_deleted_and_remade_under_its_name() {
        let fake = Fake::default();
        let source = WorkerSource::Clone {
            baseline: "base".into(),
        };
        let ensure_healthy = |fake: &Fake, name: &str, source: &WorkerSource| {
            super::ensure_healthy(fake, name, source).map_err(|e| e.to_string())
        };
        assert_eq!(ensure_healthy(&fake, "w-0", &source), Ok(0));
        fake.broken.borrow_mut().insert("w-1".into(), 1);
        fake.log.borrow_mut().clear();
        assert_eq!(ensure_healthy(&fake, "w-1", &source), Ok(1));
        assert_eq!(
            *fake.log.borrow(),
            [
                "check w-1",
                "orbctl delete --force w-1",
                "orbctl clone base w-1",
                "orbctl start w-1",
                "check w-1"
            ]
        );
        fake.broken.borrow_mut().insert("w-2".into(), 10);
        let e = ensure_healthy(&fake, "w-2", &WorkerSource::Create { image: "ubuntu".into() }).unwrap_err();
        assert!(e.contains("2 replacements did not help"), "{e}");
    }
}
