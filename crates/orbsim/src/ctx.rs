//! What every orbsim command works with: the flavour, the state store, the scenario, and the
//! reply it prints.

use std::cell::Cell;
use std::path::PathBuf;

use crate::clock::Clock;
use crate::daemon::Gate;
use crate::scenario::{Scenario, SimSecs};
use crate::state::{Store, Txn};
use orbctl::argv;
use orbctl::op::Flavor;

/// What a command prints and how it exits.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub code: i32,
}

impl Reply {
    pub(crate) fn ok() -> Reply {
        Reply::default()
    }

    pub(crate) fn out(text: impl Into<String>) -> Reply {
        Reply {
            stdout: text.into().into_bytes(),
            ..Reply::default()
        }
    }

    pub(crate) fn err(text: impl Into<String>, code: i32) -> Reply {
        Reply {
            stderr: text.into().into_bytes(),
            code,
            ..Reply::default()
        }
    }

    /// A daemon (RPC) error as orbctl prints it: `[-32098] <message>`, exit 1.
    pub(crate) fn daemon(msg: &str) -> Reply {
        Reply::err(orbctl::checks::daemon_error(msg), 1)
    }

    /// orbsim's own trouble (state directory, scenario file): says it is orbsim talking.
    pub(crate) fn sim(msg: &str) -> Reply {
        Reply::err(format!("orbsim: {msg}\n"), 1)
    }
}

impl From<argv::Exit> for Reply {
    fn from(e: argv::Exit) -> Reply {
        Reply {
            stdout: e.stdout.into_bytes(),
            stderr: e.stderr.into_bytes(),
            code: e.code,
        }
    }
}

pub(crate) struct Ctx {
    pub flavor: Flavor,
    pub store: Store,
    pub scenario: Scenario,
    clock: Cell<Option<Clock>>,
}

impl Ctx {
    /// `ORBSIM_STATE` (required) and `ORBSIM_SCENARIO` (optional).
    pub(crate) fn from_env(flavor: Flavor) -> Result<Ctx, Reply> {
        let dir = std::env::var_os("ORBSIM_STATE")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| {
                Reply::sim("ORBSIM_STATE is not set; point it at a directory for the simulated OrbStack's state")
            })?;
        let scenario = Scenario::from_env().map_err(|e| Reply::sim(&e.to_string()))?;
        let store = Store::open(&dir).map_err(|e| Reply::sim(&e.to_string()))?;
        Ok(Ctx {
            flavor,
            store,
            scenario,
            clock: Cell::new(None),
        })
    }

    /// One locked transaction on the state.
    pub(crate) fn txn<R>(&self, f: impl FnOnce(&mut Txn<'_>) -> R) -> Result<R, Reply> {
        self.store
            .with(&self.scenario, |t| {
                self.clock.set(Some(t.clock));
                f(t)
            })
            .map_err(|e| Reply::sim(&e.to_string()))
    }

    /// A transaction that first auto-starts OrbStack (waiting, unlocked, while it starts), as
    /// most orbctl commands do. During a scripted restart it fails with the daemon's
    /// `machine manager is stopping`, after `prefix` (create uses `create 'N': `).
    pub(crate) fn daemon<R>(&self, prefix: &str, f: impl FnOnce(&mut Txn<'_>) -> R) -> Result<R, Reply> {
        enum Step<R> {
            Done(R),
            Wait(SimSecs),
            Stopping,
        }
        let mut f = Some(f);
        loop {
            let step = self.txn(|t| match t.ensure_started() {
                Gate::Ready => match f.take() {
                    Some(f) => Step::Done(f(t)),
                    None => Step::Stopping,
                },
                Gate::WaitUntil(at) => Step::Wait(at),
                Gate::Stopping => Step::Stopping,
            })?;
            match step {
                Step::Done(r) => return Ok(r),
                Step::Wait(at) => self.sleep_until(at),
                Step::Stopping => {
                    return Err(Reply::daemon(&format!("{prefix}machine manager is stopping")));
                }
            }
        }
    }

    /// Sleeps (unlocked) until simulated time `t`.
    pub(crate) fn sleep_until(&self, t: SimSecs) {
        if let Some(clock) = self.clock.get() {
            clock.sleep_until(t);
        }
    }

    /// Sleeps until simulated time `t`, but no longer than `max` of real time.
    pub(crate) fn sleep_until_at_most(&self, t: SimSecs, max: std::time::Duration) {
        if let Some(clock) = self.clock.get() {
            let left = clock.real(t - clock.now());
            if !left.is_zero() {
                std::thread::sleep(left.min(max));
            }
        }
    }

    /// Sleeps for a simulated span measured from now.
    pub(crate) fn sleep_for(&self, span: SimSecs) {
        if span > 0.0
            && let Some(clock) = self.clock.get()
        {
            std::thread::sleep(clock.real(span));
        }
    }

    /// cobra's `Error: <msg>` + usage for the command at `path`.
    pub(crate) fn usage_error(&self, path: &[&str], msg: &str) -> Reply {
        argv::usage_error(self.flavor, path, msg).into()
    }

    pub(crate) fn root(&self) -> &'static str {
        self.flavor.root()
    }
}

pub(crate) fn isatty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor number.
    unsafe { libc::isatty(fd) == 1 }
}

pub(crate) use orbctl::text::go_io_error;
