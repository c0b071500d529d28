//! Admission for create-class operations across every test process of a run: at most N at
//! once (one lock file per slot; a killed process frees its slot), and none while the host is
//! under memory pressure. Time spent here does not count against the operation's timeout.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::client::{Admission, Permit};
use crate::provider::{Pressure, Provider};
use orbctl::op::Op;

/// `slot-<i>.lock` files in a directory shared by the run's processes.
#[derive(Debug, Clone)]
pub struct Slots {
    dir: PathBuf,
    count: usize,
    poll: Duration,
}

/// A held slot; dropping it (or dying) frees it.
#[derive(Debug)]
pub struct SlotGuard {
    _file: File,
    pub index: usize,
}

impl Slots {
    pub fn new(dir: impl Into<PathBuf>, count: usize) -> Self {
        Self {
            dir: dir.into(),
            count: count.max(1),
            poll: Duration::from_millis(20),
        }
    }

    /// How many slots are held right now (creates in flight across the run). Probing takes
    /// each free slot for an instant; a create that races it simply takes another or waits.
    pub fn held(&self) -> usize {
        (0..self.count)
            .filter(|index| {
                let Ok(file) = OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(self.dir.join(format!("slot-{index}.lock")))
                else {
                    return false;
                };
                matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
            })
            .count()
    }

    /// Takes a free slot, waiting as long as it takes.
    pub fn acquire(&self) -> std::io::Result<SlotGuard> {
        loop {
            for index in 0..self.count {
                let file = OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(self.dir.join(format!("slot-{index}.lock")))?;
                match file.try_lock() {
                    Ok(()) => return Ok(SlotGuard { _file: file, index }),
                    Err(std::fs::TryLockError::WouldBlock) => {}
                    Err(std::fs::TryLockError::Error(e)) => return Err(e),
                }
            }
            std::thread::sleep(self.poll);
        }
    }
}

/// Pressure limits the shim applies before each create (from `[pressure]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PressureLimits {
    pub swap_limit_percent: f64,
    pub memory_limit_percent: Option<f64>,
    /// Longest wait before giving up.
    #[serde(with = "crate::policy::duration")]
    pub max_wait: Duration,
    /// After `max_wait`: fail the create (`on_pressure = "fail"` or `"wait"`), or go ahead.
    pub fail_after_wait: bool,
}

impl PressureLimits {
    pub fn over(&self, p: &Pressure) -> Option<String> {
        if p.swap_percent > self.swap_limit_percent {
            return Some(format!(
                "swap {:.0}% over the {:.0}% limit",
                p.swap_percent, self.swap_limit_percent
            ));
        }
        match self.memory_limit_percent {
            Some(m) if p.memory_percent > m => Some(format!("memory {:.0}% over the {m:.0}% limit", p.memory_percent)),
            _ => None,
        }
    }
}

/// Slots plus backpressure, as the client's admission hook.
pub struct CreateAdmission {
    pub slots: Slots,
    pub pressure: Option<(PressureLimits, Arc<dyn Provider>)>,
    /// Samples pressure (the provider's own, else the host's).
    pub sample: fn(&dyn Provider) -> Pressure,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

impl Admission for CreateAdmission {
    fn admit(&self, op: &Op) -> Result<Permit, Box<dyn std::error::Error + Send + Sync>> {
        if let Some((limits, provider)) = &self.pressure {
            let start = Instant::now();
            while let Some(reason) = limits.over(&(self.sample)(provider.as_ref())) {
                if start.elapsed() >= limits.max_wait {
                    if limits.fail_after_wait {
                        return Err(Box::new(Refused(format!(
                            "`{op}` waited {} for host pressure to drop and gave up: {reason}",
                            humantime::format_duration(limits.max_wait)
                        ))));
                    }
                    tracing::warn!(op = %op, "going ahead under pressure: {reason}");
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        let guard = self.slots.acquire()?;
        Ok(Box::new(guard))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_more_than_n_slots_at_once_and_dropping_frees_one() {
        let dir = tempfile::tempdir().unwrap();
        let slots = Slots::new(dir.path(), 2);
        let a = slots.acquire().unwrap();
        let b = slots.acquire().unwrap();
        assert_ne!(a.index, b.index);
        let (tx, rx) = std::sync::mpsc::channel();
        let waiting = slots.clone();
        let handle = std::thread::spawn(move || {
            let c = waiting.acquire().unwrap();
            tx.send(c.index).unwrap();
        });
        // The third waits while both are held...
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        drop(a);
        // ...and gets the freed one.
        assert_eq!(rx.recv_timeout(Duration::from_secs(30)).unwrap(), 0);
        handle.join().unwrap();
        drop(b);
    }
}
