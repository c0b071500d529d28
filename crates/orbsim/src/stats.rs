//! `orbsim stats`: counters for tests and benchmarks. Field names are a contract (see
//! `docs/orbsim.md`); add fields, never rename them.

use serde::{Deserialize, Serialize};

use crate::daemon::OrbStatus;
use crate::state::{MState, Txn};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Simulated seconds since the state directory was created.
    pub simulated_now_s: f64,
    /// `running`, `starting`, `stopped` or `restarting`.
    pub orbstack: String,
    /// Machines that exist (any state), and those running.
    pub machines: u64,
    pub running_machines: u64,
    /// `create` calls the daemon accepted (validation passed).
    pub creates_started: u64,
    /// Creates that reached `running` (whether or not their client was still there).
    pub creates_finished: u64,
    /// Create-class operations that failed or were canceled after being accepted.
    pub creates_failed: u64,
    /// Create-class operations (create, clone, import) under way now.
    pub creates_in_flight: u64,
    pub clones_started: u64,
    pub clones_finished: u64,
    pub imports_started: u64,
    pub imports_finished: u64,
    pub exports: u64,
    /// Machines removed by `delete`.
    pub deletes: u64,
    /// Largest number of create-class operations under way at the same moment.
    pub peak_concurrent_creates: u64,
    pub hangs_injected: u64,
    pub transient_failures_injected: u64,
    /// Calls whose process `[faults.kill]` killed.
    #[serde(default)]
    pub kills_injected: u64,
    pub memory_percent: f64,
    pub swap_percent: f64,
    /// Latency factor from swap pressure right now (1 = none).
    pub slowdown: f64,
    /// The simulated host's memory and swap in MiB, used now and in all, and what one machine
    /// takes (the scenario's `[host]`): what a client's create headroom is computed from.
    #[serde(default)]
    pub memory_mib: u64,
    #[serde(default)]
    pub memory_used_mib: u64,
    #[serde(default)]
    pub swap_mib: u64,
    #[serde(default)]
    pub swap_used_mib: u64,
    #[serde(default)]
    pub machine_mib: u64,
    pub peak_memory_percent: f64,
    pub peak_swap_percent: f64,
    /// Calls that drew from the random stream (the stream index of the next one).
    pub random_draws: u64,
}

impl Txn<'_> {
    pub(crate) fn stats(&self) -> Stats {
        let now = self.now;
        let c = &self.state.counters;
        let mem = self.memory_at(now);
        let alive: Vec<MState> = self
            .state
            .machines
            .iter()
            .map(|m| m.state_at(now))
            .filter(|s| *s != MState::Gone)
            .collect();
        Stats {
            simulated_now_s: now,
            orbstack: match self.orb_status(now) {
                OrbStatus::Running => "running",
                OrbStatus::Starting { .. } => "starting",
                OrbStatus::Stopped => "stopped",
                OrbStatus::Restarting { .. } => "restarting",
            }
            .into(),
            machines: alive.len() as u64,
            running_machines: alive.iter().filter(|s| **s == MState::Running).count() as u64,
            creates_started: c.creates_started,
            creates_finished: c.creates_finished,
            creates_failed: c.creates_failed,
            creates_in_flight: self
                .state
                .live_creates
                .iter()
                .filter(|&&(s, e)| s <= now && now < e)
                .count() as u64,
            clones_started: c.clones_started,
            clones_finished: c.clones_finished,
            imports_started: c.imports_started,
            imports_finished: c.imports_finished,
            exports: c.exports,
            deletes: c.deletes,
            peak_concurrent_creates: c.peak_concurrent_creates,
            hangs_injected: c.hangs_injected,
            transient_failures_injected: c.transient_failures_injected,
            kills_injected: c.kills_injected,
            memory_percent: round2(mem.memory_percent),
            swap_percent: round2(mem.swap_percent),
            slowdown: round2(mem.slowdown),
            memory_mib: self.scenario.host.memory_mib,
            memory_used_mib: mem.memory_used_mib,
            swap_mib: self.scenario.host.swap_mib,
            swap_used_mib: mem.swap_used_mib,
            machine_mib: self.scenario.host.machine_mib,
            peak_memory_percent: round2(c.peak_memory_percent.max(mem.memory_percent)),
            peak_swap_percent: round2(c.peak_swap_percent.max(mem.swap_percent)),
            random_draws: self.state.draws,
        }
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}
