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
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);
/// Replacements tried for one broken worker before giving up.
pub const MAX_REPLACEMENTS: u32 = 2;

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
    pub fn read(run_dir: &std::path::Path) -> Result<Option<Self>, String> {
        let path = run_dir.join(Self::FILE_NAME);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{} is not valid: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }
}

/// What the health check and replacement need: operations journaled for the run (ownership
/// claimed before a machine can appear), and `run -m NAME true` bounded by [`HEALTH_TIMEOUT`].
pub trait WorkerOps {
    fn execute(&self, op: &Op) -> Result<OpResult, MachinesError>;
    fn check(&self, name: &str) -> Result<(), String>;
}

/// The worker index of the calling process from its runner's worker id (see module docs).
pub fn index_from_env(get: impl Fn(&str) -> Option<String>) -> Result<usize, String> {
    if let Some(slot) = get("NEXTEST_TEST_GLOBAL_SLOT") {
        return slot
            .trim()
            .parse()
            .map_err(|_| format!("NEXTEST_TEST_GLOBAL_SLOT={slot:?} is not a number"));
    }
    if let Some(id) = get("PYTEST_XDIST_WORKER") {
        return id
            .trim()
            .strip_prefix("gw")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("PYTEST_XDIST_WORKER={id:?} is not of the form gwN"));
    }
    if let Some(id) = get("JEST_WORKER_ID") {
        return id
            .trim()
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .ok_or_else(|| format!("JEST_WORKER_ID={id:?} is not a number from 1"));
    }
    Ok(0)
}

/// The calling process's worker name, or `None` outside a run with workers.
pub fn assigned(get: impl Fn(&str) -> Option<String>) -> Option<Result<String, String>> {
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
        names.get(i).cloned().ok_or_else(|| {
            format!(
                "this process is worker {i} of its test runner but the run has {} worker machines \
                 ([machines.workers] count); raise count or run fewer tests at once",
                names.len()
            )
        })
    }))
}

/// Checks `name`; if it is broken, deletes it and makes it again (same name), up to
/// [`MAX_REPLACEMENTS`] times. Returns how many replacements it took.
pub fn ensure_healthy(ops: &dyn WorkerOps, name: &str, source: &WorkerSource) -> Result<u32, String> {
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
    Err(format!(
        "worker machine `{name}` is broken and {MAX_REPLACEMENTS} replacements did not help: {problem}"
    ))
}

/// Makes worker `name` from its source.
pub fn provide(ops: &dyn WorkerOps, name: &str, source: &WorkerSource) -> Result<(), String> {
    let run = |op: Op| -> Result<(), String> {
        ops.execute(&op)
            .and_then(|r| r.into_result())
            .map(drop)
            .map_err(|e| e.to_string())
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
fn replace(ops: &dyn WorkerOps, name: &str, source: &WorkerSource) -> Result<(), String> {
    let deleted = ops
        .execute(&Op::Delete {
            names: vec![name.to_string()],
            force: true,
            all: false,
        })
        .map_err(|e| e.to_string())?;
    let gone = deleted.is_success() || deleted.error_kind() == Some(crate::ErrorKind::NotFound);
    if !gone {
        return Err(format!(
            "could not delete the broken worker `{name}`: {}",
            deleted.stderr_text().trim()
        ));
    }
    provide(ops, name, source)
}

/// The health check: `orbctl run -m NAME true` must exit 0 within [`HEALTH_TIMEOUT`]. It goes
/// straight to the provider (stdin closed, no retries: a slow worker is a broken one).
pub fn check(provider: &dyn Provider, name: &str) -> Result<(), String> {
    let mut inv = provider.invocation(&health_op(name).to_argv());
    inv.stdin = StdinMode::Null;
    let shown = format!("`orbctl run -m {name} true`");
    let c = orbtest_process::capture(&inv, Some(HEALTH_TIMEOUT)).map_err(|e| format!("{shown} could not run: {e}"))?;
    if c.timed_out {
        return Err(format!(
            "{shown} did not finish within {}",
            humantime::format_duration(HEALTH_TIMEOUT)
        ));
    }
    if c.code == Some(0) {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&c.stderr);
    let said = said.lines().next().unwrap_or("").trim();
    Err(format!(
        "{shown} exited with {}{}",
        c.code.map_or("no code".to_string(), |c| c.to_string()),
        if said.is_empty() {
            String::new()
        } else {
            format!(": {said}")
        }
    ))
}

/// `run -m NAME true`.
pub fn health_op(name: &str) -> Op {
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

    fn check(&self, name: &str) -> Result<(), String> {
        check(self.client().provider().as_ref(), name)
    }
}

/// A test process's, through the run's broker.
impl WorkerOps for crate::broker::remote::Remote {
    fn execute(&self, op: &Op) -> Result<OpResult, MachinesError> {
        crate::broker::remote::Remote::execute(self, op)
    }

    fn check(&self, name: &str) -> Result<(), String> {
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

        fn check(&self, name: &str) -> Result<(), String> {
            self.log.borrow_mut().push(format!("check {name}"));
            let mut broken = self.broken.borrow_mut();
            match broken.get_mut(name) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    Err("exited with 1".into())
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
