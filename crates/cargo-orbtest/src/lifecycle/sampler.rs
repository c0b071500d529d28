//! The provider's figures for the resource monitor: running machines, creates in flight, and
//! (for orbsim) the scenario's memory and swap.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::provider::ResolvedProvider;
use crate::config::ProviderKind;
use crate::monitor::{MachineSample, MachineSource};
use orbtest_machines::{Client, Op, OrbctlProvider};
use orbtest_process::Invocation;

/// Real OrbStack is asked for its machine list at most this often.
const LIST_EVERY: Duration = Duration::from_secs(10);

pub(crate) struct ProviderSampler {
    kind: ProviderKind,
    provider: Arc<OrbctlProvider>,
    last_count: Mutex<Option<(Instant, u64)>>,
}

impl ProviderSampler {
    pub(crate) fn new(resolved: &ResolvedProvider) -> Self {
        Self {
            kind: resolved.kind,
            provider: resolved.provider.clone(),
            last_count: Mutex::new(None),
        }
    }

    fn orbsim_stats(&self) -> Option<MachineSample> {
        let bin = self.provider.sim_binary()?;
        let inv = Invocation {
            env: self.provider.env().to_vec(),
            ..Invocation::new(bin).arg("stats")
        };
        let out = orbtest_process::capture(&inv, Some(Duration::from_secs(5))).ok()?;
        #[derive(serde::Deserialize)]
        struct Stats {
            running_machines: u64,
            creates_in_flight: u64,
            memory_percent: f64,
            swap_percent: f64,
        }
        let s: Stats = serde_json::from_slice(&out.stdout).ok()?;
        Some(MachineSample {
            running: s.running_machines,
            creates_in_flight: s.creates_in_flight,
            memory_percent: Some(s.memory_percent),
            swap_percent: Some(s.swap_percent),
        })
    }

    fn running_machines(&self) -> Option<u64> {
        let mut last = self.last_count.lock().ok()?;
        if let Some((at, n)) = *last
            && at.elapsed() < LIST_EVERY
        {
            return Some(n);
        }
        let client = Client::new(self.provider.clone());
        let op = Op::List {
            running: true,
            quiet: true,
            format: None,
        };
        let out = client.execute(&op).ok().filter(|r| r.is_success())?;
        let n = out.stdout_text().lines().filter(|l| !l.trim().is_empty()).count() as u64;
        *last = Some((Instant::now(), n));
        Some(n)
    }
}

impl MachineSource for ProviderSampler {
    fn sample(&self) -> Option<MachineSample> {
        match self.kind {
            ProviderKind::Sim => self.orbsim_stats(),
            ProviderKind::Orbstack | ProviderKind::Docker => Some(MachineSample {
                running: self.running_machines()?,
                // The run's broker admits every create of its tests, in this process.
                creates_in_flight: orbtest_machines::admission::creates_in_flight() as u64,
                memory_percent: None,
                swap_percent: None,
            }),
        }
    }
}
