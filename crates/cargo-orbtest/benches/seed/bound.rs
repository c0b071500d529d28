//! The lower bound on the suite's simulated wall time, from the suite's plan and the scenario's
//! expected (mean, unslowed) latencies. No schedule beats any of:
//!
//! * machine work ÷ machines: the expected latency of every machine operation the suite needs
//!   (the baseline build; per test clone, start, readiness poll, its own commands, delete)
//!   divided by the machines that fit under the swap limit;
//! * create work ÷ create slots: the baseline's create and one clone per test, divided by the
//!   create-class operations that can run at once (as many as machines fit: the default create
//!   cap follows the host's memory headroom);
//! * the critical path: the baseline build, then the longest single test.
//!
//! A warm run (the baseline already exists) has no baseline build in any of the three.
//!
//! It assumes the cheapest way to get each machine (a clone of a baseline), perfect packing,
//! no hangs and no process overhead.

use orbsim::scenario::{Dist, Scenario};

use super::fixture::{MachineTest, Step, Suite};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Bound {
    pub machine_work: f64,
    /// The part of `machine_work` spent deleting: orbsim frees a machine's memory when its
    /// delete starts, so a schedule that overlapped deletes perfectly could save at most this
    /// much ÷ machines.
    pub delete_work: f64,
    pub machines: u64,
    pub create_work: f64,
    pub slots: u64,
    pub critical_path: f64,
}

impl Bound {
    pub(crate) fn seconds(&self) -> f64 {
        (self.machine_work / self.machines as f64)
            .max(self.create_work / self.slots as f64)
            .max(self.critical_path)
    }
}

/// Expected latency of `key` in simulated seconds (0 when the scenario has none).
pub(crate) fn mean(s: &Scenario, key: &str) -> f64 {
    match s.latency(key) {
        Some(Dist::Fixed(v)) => *v,
        Some(Dist::Uniform { min, max }) => (min + max) / 2.0,
        Some(Dist::Normal { mean, .. }) => *mean,
        None => 0.0,
    }
}

/// The most machines that can exist while swap stays at or under `swap_limit` percent.
pub(crate) fn machines_under(s: &Scenario, swap_limit: f64) -> u64 {
    let h = &s.host;
    let swap = |n: u64| {
        let used = h.base_mib + n * h.machine_mib;
        used.saturating_sub(h.memory_mib) as f64 * 100.0 / h.swap_mib.max(1) as f64
    };
    (0..1000).take_while(|&n| swap(n) <= swap_limit).last().unwrap_or(0)
}

/// One test's machine work: the client's health check (`list`), create as clone + start (a
/// worker's extra start finds it running and costs nothing), the first readiness poll, its
/// steps, the client's look before deleting (`list`) and the delete at its end.
fn test_work(s: &Scenario, t: &MachineTest) -> f64 {
    let l = |k: &str| mean(s, k);
    let steps: f64 = t
        .steps
        .iter()
        .map(|step| match step {
            Step::Run => l("run"),
            Step::Info => l("info"),
            // The test checks the state after stopping.
            Step::Stop => l("stop") + l("info"),
            Step::Start => l("start"),
            Step::Restart => l("restart"),
        })
        .sum();
    l("list") + l("clone") + l("start") + l("info") + steps + l("list") + l("delete")
}

/// `warm`: the baseline exists already (a later run on the same host), so building it is not
/// part of the work.
pub(crate) fn bound(s: &Scenario, suite: &Suite, provision_steps: usize, swap_limit: f64, warm: bool) -> Bound {
    let l = |k: &str| mean(s, k);
    let cold = if warm { 0.0 } else { 1.0 };
    let baseline_create = cold * (l("create") + l("provisioning"));
    let baseline = baseline_create + cold * (provision_steps as f64 * l("run") + l("stop"));
    let works: Vec<f64> = suite.machine_tests.iter().map(|t| test_work(s, t)).collect();
    let machines = machines_under(s, swap_limit).max(1);
    Bound {
        machine_work: baseline + works.iter().sum::<f64>(),
        delete_work: suite.machine_tests.len() as f64 * l("delete"),
        machines,
        create_work: baseline_create + suite.machine_tests.len() as f64 * l("clone"),
        slots: machines,
        critical_path: baseline + works.iter().copied().fold(0.0, f64::max),
    }
}
