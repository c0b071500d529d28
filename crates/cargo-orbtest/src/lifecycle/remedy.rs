//! Restarting OrbStack when it has grown too big: long runs leave its helper (the VM process)
//! holding many GiB and the host swapping, which slows every machine operation. When the
//! helper's memory or host swap is over `[machines.restart]`'s limits, `cargo orbtest doctor
//! --fix` and preflight with `--restart-orbstack` quit OrbStack, start it, and wait until
//! `orbctl status` says Running (within the configured timeout), then say what they did.
//!
//! The decision and the restart sequence are plain functions over the [`OrbStack`] trait so
//! they can be tested anywhere; [`ProviderOrbStack`] is the real one: `orbctl stop`/`start`/
//! `status` through the provider (orbsim simulates all three), plus quitting the app on macOS.

use std::time::{Duration, Instant};

use crate::config::{ProviderKind, RestartConfig};
use orbtest_machines::{Client, MachinesError, Op};

/// Why a restart did not bring OrbStack back.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RestartError {
    #[error("quitting it failed: {0}")]
    Quit(#[source] MachinesError),
    #[error("starting it again failed: {0}")]
    Start(#[source] MachinesError),
    #[error(
        "`orbctl status` still said {last:?} after {} ([machines.restart] timeout)",
        humantime::format_duration(*.timeout)
    )]
    NotRunning { last: String, timeout: Duration },
    #[error("interrupted while waiting for OrbStack to start")]
    Interrupted,
}

/// OrbStack was over a limit and could not be restarted.
#[derive(Debug, thiserror::Error)]
#[error("{reason}, but restarting OrbStack failed: {source}")]
pub(crate) struct RemedyError {
    /// Why it was due.
    pub reason: String,
    #[source]
    pub source: RestartError,
}

/// What the host and OrbStack look like now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct OrbStackLoad {
    /// Resident memory of OrbStack's helper processes, when visible (macOS).
    pub helper_mib: Option<u64>,
    pub swap_percent: f64,
}

/// OrbStack as the remedy sees it.
pub(crate) trait OrbStack {
    fn probe(&self) -> OrbStackLoad;
    /// Stops OrbStack (and its VM) and quits the app where there is one.
    fn quit(&self) -> Result<(), MachinesError>;
    fn start(&self) -> Result<(), MachinesError>;
    /// `orbctl status`: Running, Starting or Stopped.
    fn status(&self) -> Result<String, MachinesError>;
}

/// What a remedy did.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Remedy {
    /// Under the limits: nothing done (the figures, as a sentence).
    NotNeeded(String),
    Restarted {
        reason: String,
        took: Duration,
    },
}

impl std::fmt::Display for Remedy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Remedy::NotNeeded(figures) => write!(f, "no restart needed ({figures})"),
            Remedy::Restarted { reason, took } => write!(
                f,
                "restarted OrbStack because {reason}; it was Running again after {}",
                crate::report::human_duration(*took)
            ),
        }
    }
}

/// Why OrbStack should be restarted, if it should.
pub(crate) fn due(probe: &OrbStackLoad, limits: &RestartConfig) -> Option<String> {
    if let Some(mib) = probe.helper_mib.filter(|m| *m > limits.helper_memory_mib) {
        return Some(format!(
            "its helper uses {mib} MiB, over the {} MiB limit",
            limits.helper_memory_mib
        ));
    }
    (probe.swap_percent > limits.swap_percent).then(|| {
        format!(
            "swap is at {:.0}%, over the {:.0}% limit",
            probe.swap_percent, limits.swap_percent
        )
    })
}

fn figures(probe: &OrbStackLoad) -> String {
    match probe.helper_mib {
        Some(mib) => format!("helper {mib} MiB, swap {:.0}%", probe.swap_percent),
        None => format!("swap {:.0}%", probe.swap_percent),
    }
}

/// Restarts OrbStack if it is over the limits.
pub(crate) fn remedy(o: &dyn OrbStack, limits: &RestartConfig, poll: Duration) -> Result<Remedy, RemedyError> {
    let probe = o.probe();
    let Some(reason) = due(&probe, limits) else {
        return Ok(Remedy::NotNeeded(figures(&probe)));
    };
    let took = match restart(o, limits.timeout, poll) {
        Ok(took) => took,
        Err(source) => return Err(RemedyError { reason, source }),
    };
    Ok(Remedy::Restarted { reason, took })
}

/// Quits and starts OrbStack, then polls `status` until Running or `timeout`.
pub(crate) fn restart(o: &dyn OrbStack, timeout: Duration, poll: Duration) -> Result<Duration, RestartError> {
    let clock = Instant::now();
    o.quit().map_err(RestartError::Quit)?;
    o.start().map_err(RestartError::Start)?;
    loop {
        let last = match o.status() {
            Ok(s) if s == "Running" => return Ok(clock.elapsed()),
            Ok(s) => s,
            Err(e) => e.to_string(),
        };
        if clock.elapsed() >= timeout {
            return Err(RestartError::NotRunning { last, timeout });
        }
        if crate::signals::received().is_some() {
            return Err(RestartError::Interrupted);
        }
        std::thread::sleep(poll);
    }
}

/// The provider's OrbStack (the real one, or orbsim).
pub(crate) struct ProviderOrbStack {
    pub client: Client,
    pub kind: ProviderKind,
}

impl OrbStack for ProviderOrbStack {
    fn probe(&self) -> OrbStackLoad {
        let pressure = self
            .client
            .provider()
            .pressure()
            .unwrap_or_else(crate::monitor::host_pressure);
        OrbStackLoad {
            helper_mib: match self.kind {
                ProviderKind::Orbstack => helper_mib(),
                ProviderKind::Sim | ProviderKind::Docker => None,
            },
            swap_percent: pressure.swap_percent,
        }
    }

    fn quit(&self) -> Result<(), MachinesError> {
        self.run(Op::Stop {
            names: Vec::new(),
            all: false,
            force: false,
        })?;
        if cfg!(target_os = "macos") && self.kind == ProviderKind::Orbstack {
            // The app outlives a stopped VM; quitting it releases the rest. Best effort.
            let osascript = orbtest_process::Invocation::new("osascript").args(["-e", "quit app \"OrbStack\""]);
            let quit = orbtest_process::capture(&osascript, Some(Duration::from_secs(30)));
            if let Ok(out) = quit
                && !out.success()
            {
                tracing::warn!(
                    "osascript could not quit OrbStack: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
        }
        Ok(())
    }

    fn start(&self) -> Result<(), MachinesError> {
        self.run(Op::Start {
            names: Vec::new(),
            all: false,
        })
    }

    fn status(&self) -> Result<String, MachinesError> {
        self.client
            .execute(&Op::Status)
            .map(|r| r.stdout_text().trim().to_string())
    }
}

impl ProviderOrbStack {
    fn run(&self, op: Op) -> Result<(), MachinesError> {
        self.client.execute(&op).and_then(|r| r.into_result()).map(drop)
    }
}

/// Resident memory of OrbStack's helper processes (macOS; none elsewhere).
pub(crate) fn helper_mib() -> Option<u64> {
    let mut sys = sysinfo::System::new().ok()?;
    sys.refresh_processes(sysinfo::ProcessesToUpdate::All, true);
    let total: u64 = sys
        .processes()
        .values()
        .filter(|p| p.name().to_string_lossy().contains("OrbStack Helper"))
        .map(|p| p.memory())
        .sum();
    (total > 0).then_some(total / (1024 * 1024))
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    struct Fake {
        probe: OrbStackLoad,
        statuses: RefCell<Vec<&'static str>>,
        log: RefCell<Vec<&'static str>>,
    }

    impl Fake {
        fn new(helper_mib: Option<u64>, swap_percent: f64, statuses: &[&'static str]) -> Self {
            Self {
                probe: OrbStackLoad {
                    helper_mib,
                    swap_percent,
                },
                statuses: RefCell::new(statuses.iter().rev().copied().collect()),
                log: RefCell::default(),
            }
        }
    }

    impl OrbStack for Fake {
        fn probe(&self) -> OrbStackLoad {
            self.probe
        }
        fn quit(&self) -> Result<(), MachinesError> {
            self.log.borrow_mut().push("quit");
            Ok(())
        }
        fn start(&self) -> Result<(), MachinesError> {
            self.log.borrow_mut().push("start");
            Ok(())
        }
        fn status(&self) -> Result<String, MachinesError> {
            self.log.borrow_mut().push("status");
            let mut s = self.statuses.borrow_mut();
            let next = if s.len() > 1 { s.pop() } else { s.last().copied() };
            Ok(next.unwrap_or("Stopped").to_string())
        }
    }

    const LIMITS: RestartConfig = RestartConfig {
        helper_memory_mib: 8192,
        swap_percent: 50.0,
        timeout: Duration::from_millis(300),
    };

    #[test]
    fn restarts_only_over_a_limit() {
        let calm = Fake::new(Some(2048), 10.0, &["Running"]);
        assert_eq!(
            remedy(&calm, &LIMITS, Duration::ZERO).unwrap(),
            Remedy::NotNeeded("helper 2048 MiB, swap 10%".into())
        );
        assert!(calm.log.borrow().is_empty());
        assert!(
            due(
                &OrbStackLoad {
                    helper_mib: Some(9000),
                    swap_percent: 0.0
                },
                &LIMITS
            )
            .unwrap()
            .contains("9000 MiB")
        );
        assert!(
            due(
                &OrbStackLoad {
                    helper_mib: None,
                    swap_percent: 51.0
                },
                &LIMITS
            )
            .unwrap()
            .contains("51%")
        );
    }

    #[test]
    fn waits_through_starting_until_running() {
        let fat = Fake::new(Some(12000), 10.0, &["Stopped", "Starting", "Starting", "Running"]);
        let done = remedy(&fat, &LIMITS, Duration::from_millis(1)).unwrap();
        assert!(
            matches!(&done, Remedy::Restarted { reason, .. } if reason.contains("12000 MiB")),
            "{done}"
        );
        assert_eq!(
            *fat.log.borrow(),
            ["quit", "start", "status", "status", "status", "status"]
        );
        assert!(
            done.to_string()
                .starts_with("restarted OrbStack because its helper uses 12000 MiB")
        );
    }

    #[test]
    fn gives_up_after_the_timeout_and_says_what_it_saw() {
        let stuck = Fake::new(None, 90.0, &["Starting"]);
        let e = remedy(&stuck, &LIMITS, Duration::from_millis(20))
            .unwrap_err()
            .to_string();
        assert!(e.contains("swap is at 90%"), "{e}");
        assert!(e.contains("still said \"Starting\""), "{e}");
    }
}
