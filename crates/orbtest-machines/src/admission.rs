//! Admission for create-class operations (create, clone, import) of a run's tests, in the run's
//! broker: how many may run at once, and none while the host is under memory pressure. Time
//! spent here does not count against the operation's timeout.
//!
//! The queue exists to protect the host, not to hold tests. Without an explicit cap
//! (`max_concurrent_creates`) the number follows the host: as many creates as there is
//! memory headroom for (machines that fit under the pressure limits, from the pressure
//! source's sizes), at least one; when the source gives no sizes, creates are admitted at
//! once. Callers are served in arrival order.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::client::{Admission, Permit};
use crate::provider::{MemoryMib, Pressure, PressureSource};
use orbctl::op::Op;

/// Pressure limits applied before each create (from `[pressure]`).
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

    /// How many more machines fit before a limit is reached: free memory plus swap up to its
    /// limit, and no more than the memory limit allows, divided by a machine's size.
    pub(crate) fn machines_that_fit(&self, mib: &MemoryMib) -> u64 {
        if mib.per_machine == 0 {
            return u64::MAX;
        }
        let free = mib.memory.saturating_sub(mib.memory_used);
        let swap_room = if mib.swap == 0 {
            0
        } else {
            ((mib.swap as f64 * self.swap_limit_percent / 100.0) as u64).saturating_sub(mib.swap_used)
        };
        let mut room = free + swap_room;
        if let Some(limit) = self.memory_limit_percent {
            room = room.min(((mib.memory as f64 * limit / 100.0) as u64).saturating_sub(mib.memory_used));
        }
        room / mib.per_machine
    }
}

/// Creates admitted and not yet done, over every gate of this process (the orchestrator has
/// one: its broker's), for the resource monitor.
static IN_FLIGHT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Creates in flight in this process's gates.
pub fn creates_in_flight() -> usize {
    IN_FLIGHT.load(std::sync::atomic::Ordering::Relaxed)
}

/// How long a pressure sample is trusted; creates admitted since are counted on top of it.
const SAMPLE_FOR: Duration = Duration::from_millis(250);
/// How often a waiting caller looks again (pressure changes without anyone telling us).
const RECHECK: Duration = Duration::from_millis(200);

/// The create gate of one run.
pub struct CreateGate {
    /// `max_concurrent_creates`, when set: never more at once, whatever the host.
    cap: Option<usize>,
    limits: Option<PressureLimits>,
    source: Option<Arc<dyn PressureSource>>,
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    in_flight: usize,
    /// Arrival order of waiting callers (tickets).
    queue: VecDeque<u64>,
    next_ticket: u64,
    sample: Option<(Instant, Option<Pressure>)>,
    /// Creates admitted since `sample` was taken (it cannot show them yet).
    admitted_since_sample: u64,
    /// The run is ending: nobody waiting gets in any more.
    closed: bool,
}

/// Why a create was not admitted.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(String);

/// Held while a create runs; dropping it lets the next one in.
pub struct GatePermit {
    gate: Arc<CreateGate>,
}

impl Drop for GatePermit {
    fn drop(&mut self) {
        let mut st = self.gate.lock();
        st.in_flight = st.in_flight.saturating_sub(1);
        drop(st);
        IN_FLIGHT.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.gate.changed.notify_all();
    }
}

impl std::fmt::Debug for CreateGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateGate")
            .field("cap", &self.cap)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl CreateGate {
    pub fn new(
        cap: Option<usize>,
        limits: Option<PressureLimits>,
        source: Option<Arc<dyn PressureSource>>,
    ) -> Arc<Self> {
        Arc::new(CreateGate {
            cap: cap.map(|c| c.max(1)),
            limits,
            source,
            state: Mutex::new(GateState::default()),
            changed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates running now.
    pub fn in_flight(&self) -> usize {
        self.lock().in_flight
    }

    /// The explicit cap, if any.
    pub fn cap(&self) -> Option<usize> {
        self.cap
    }

    /// Ends admission: creates still waiting are refused, and so is any that arrives.
    pub fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Whether a create arriving now would be admitted without waiting.
    pub(crate) fn would_admit_now(&self) -> bool {
        let mut st = self.lock();
        st.queue.is_empty() && self.room(&mut st).is_ok()
    }

    /// A fresh enough sample, taken under the lock (cheap for the sources we have). It is
    /// taken anew once creates admitted since the last one have finished: their machines
    /// count now.
    fn sample(&self, st: &mut GateState) -> Option<Pressure> {
        if let Some((at, p)) = st.sample
            && at.elapsed() < SAMPLE_FOR
            && (st.admitted_since_sample == 0 || st.in_flight > 0)
        {
            return p;
        }
        let p = self.source.as_ref().and_then(|s| s.sample());
        st.sample = Some((Instant::now(), p));
        st.admitted_since_sample = 0;
        p
    }

    /// Whether one more create may start now: `Ok`, or why not (`Err(Some(reason))` for
    /// pressure over a limit, `Err(None)` for a full cap or no headroom).
    fn room(&self, st: &mut GateState) -> Result<(), Option<String>> {
        if self.cap.is_some_and(|cap| st.in_flight >= cap) {
            return Err(None);
        }
        let Some(limits) = &self.limits else {
            return Ok(());
        };
        let Some(pressure) = self.sample(st) else {
            return Ok(());
        };
        if let Some(reason) = limits.over(&pressure) {
            return Err(Some(reason));
        }
        // The host's headroom decides how many run at once; one may always run.
        match pressure.mib {
            Some(mib) if st.in_flight > 0 && st.admitted_since_sample >= limits.machines_that_fit(&mib) => Err(None),
            _ => Ok(()),
        }
    }

    /// Waits for room, in arrival order. Over a pressure limit for longer than `max_wait`, it
    /// gives up or goes ahead as the limits say.
    pub fn admit(self: &Arc<Self>, op: &Op) -> Result<GatePermit, Refused> {
        let start = Instant::now();
        let mut st = self.lock();
        let ticket = st.next_ticket;
        st.next_ticket += 1;
        st.queue.push_back(ticket);
        loop {
            if st.closed {
                st.queue.retain(|t| *t != ticket);
                return Err(Refused(format!("`{op}` was not started: the run is ending")));
            }
            let first = st.queue.front() == Some(&ticket);
            let verdict = if first { self.room(&mut st) } else { Err(None) };
            let go = match verdict {
                Ok(()) => true,
                Err(Some(reason)) => match &self.limits {
                    Some(limits) if start.elapsed() >= limits.max_wait => {
                        if limits.fail_after_wait {
                            st.queue.retain(|t| *t != ticket);
                            drop(st);
                            self.changed.notify_all();
                            return Err(Refused(format!(
                                "`{op}` waited {} for host pressure to drop and gave up: {reason}",
                                humantime::format_duration(limits.max_wait)
                            )));
                        }
                        tracing::warn!(op = %op, "going ahead under pressure: {reason}");
                        true
                    }
                    _ => false,
                },
                Err(None) => false,
            };
            if go {
                st.queue.retain(|t| *t != ticket);
                st.in_flight += 1;
                st.admitted_since_sample += 1;
                IN_FLIGHT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                drop(st);
                self.changed.notify_all();
                return Ok(GatePermit { gate: self.clone() });
            }
            st = self
                .changed
                .wait_timeout(st, RECHECK)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}

/// The gate as the client's admission hook.
pub(crate) struct GateAdmission(pub Arc<CreateGate>);

impl Admission for GateAdmission {
    fn admit(&self, op: &Op) -> Result<Permit, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Box::new(self.0.admit(op)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op() -> Op {
        Op::create("ubuntu", "test-a")
    }

    struct Fixed(Mutex<Pressure>);

    impl PressureSource for Fixed {
        fn sample(&self) -> Option<Pressure> {
            Some(*self.0.lock().unwrap())
        }
    }

    fn limits() -> PressureLimits {
        PressureLimits {
            swap_limit_percent: 80.0,
            memory_limit_percent: None,
            max_wait: Duration::from_secs(3600),
            fail_after_wait: true,
        }
    }

    /// The seed host: 16 GiB full, 3 GiB of 8 in swap, 512 MiB a machine: six fit under 80%.
    fn seed_host(machines: u64) -> Pressure {
        let used = 19456 + machines * 512;
        Pressure {
            memory_percent: 100.0,
            swap_percent: (used - 16384) as f64 * 100.0 / 8192.0,
            mib: Some(MemoryMib {
                memory: 16384,
                memory_used: 16384,
                swap: 8192,
                swap_used: used - 16384,
                per_machine: 512,
            }),
        }
    }

    #[test]
    fn no_more_than_an_explicit_cap_at_once_and_dropping_frees_one() {
        let gate = CreateGate::new(Some(2), None, None);
        let a = gate.admit(&op()).unwrap();
        let _b = gate.admit(&op()).unwrap();
        assert!(!gate.would_admit_now());
        let (tx, rx) = std::sync::mpsc::channel();
        let waiting = gate.clone();
        let handle = std::thread::spawn(move || {
            let c = waiting.admit(&op()).unwrap();
            tx.send(()).unwrap();
            drop(c);
        });
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err(), "a third got in");
        drop(a);
        rx.recv_timeout(Duration::from_secs(30)).unwrap();
        handle.join().unwrap();
    }

    #[test]
    fn without_a_cap_the_hosts_headroom_decides() {
        let source = Arc::new(Fixed(Mutex::new(seed_host(0))));
        let gate = CreateGate::new(None, Some(limits()), Some(source.clone()));
        // Six machines fit: six creates go at once, the seventh waits.
        let permits: Vec<_> = (0..6).map(|_| gate.admit(&op()).unwrap()).collect();
        assert_eq!(gate.in_flight(), 6);
        assert!(!gate.would_admit_now(), "a seventh would not fit");
        // The host shows the six; when they are done and gone, there is room again.
        *source.0.lock().unwrap() = seed_host(6);
        std::thread::sleep(SAMPLE_FOR);
        assert!(!gate.would_admit_now());
        *source.0.lock().unwrap() = seed_host(0);
        drop(permits);
        std::thread::sleep(SAMPLE_FOR);
        assert!(gate.would_admit_now());
    }

    #[test]
    fn one_create_may_always_run_under_the_limit_but_none_over_it() {
        let source = Arc::new(Fixed(Mutex::new(seed_host(6))));
        let gate = CreateGate::new(None, Some(limits()), Some(source.clone()));
        // No headroom left, but under the limit: one at a time.
        let one = gate.admit(&op()).unwrap();
        assert!(!gate.would_admit_now());
        drop(one);
        *source.0.lock().unwrap() = seed_host(8);
        std::thread::sleep(SAMPLE_FOR);
        assert!(!gate.would_admit_now(), "swap over the limit");
        let strict = CreateGate::new(
            None,
            Some(PressureLimits {
                max_wait: Duration::from_millis(50),
                ..limits()
            }),
            Some(source),
        );
        let e = strict.admit(&op()).err().expect("refused after max_wait");
        assert!(e.to_string().contains("swap 88% over the 80% limit"), "{e}");
    }

    #[test]
    fn a_host_that_gives_no_sizes_admits_at_once() {
        let gate = CreateGate::new(None, Some(limits()), None);
        let _held: Vec<_> = (0..20).map(|_| gate.admit(&op()).unwrap()).collect();
        assert!(gate.would_admit_now());
    }

    #[test]
    fn machines_that_fit_counts_swap_up_to_its_limit_and_memory_limits() {
        let l = limits();
        assert_eq!(l.machines_that_fit(&seed_host(0).mib.unwrap()), 6);
        assert_eq!(l.machines_that_fit(&seed_host(6).mib.unwrap()), 0);
        let roomy = MemoryMib {
            memory: 65536,
            memory_used: 8192,
            swap: 0,
            swap_used: 0,
            per_machine: 512,
        };
        assert_eq!(l.machines_that_fit(&roomy), 112);
        let capped = PressureLimits {
            memory_limit_percent: Some(50.0),
            ..limits()
        };
        assert_eq!(capped.machines_that_fit(&roomy), 48);
    }
}
