//! The resource monitor: host memory, swap and CPU (sysinfo), machines from the provider, and the
//! tests running in the current tier, sampled on a background thread. Every sample goes to the
//! live view; every `sample_every` one is also appended to `timeline.jsonl` in the run
//! directory, and the peaks in summary.json are the maxima of those lines.
//!
//! The provider seam is [`MachineSource`]: the machines layer implements it for OrbStack and the
//! simulator. When it reports memory/swap (the simulator does, from its scenario), those replace
//! the host's figures, so a simulated run shows simulated pressure.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::config::MonitorConfig;
use crate::events::{Event, Observer};
use crate::results::ResourcePeaks;
use orbtest_machines::{MemoryMib, Pressure};

/// The timeline's file name in the run directory.
pub const TIMELINE_FILE: &str = "timeline.jsonl";

/// The live view's status line refreshes at least this often.
pub const LIVE_REFRESH: Duration = Duration::from_secs(1);

/// What the provider says about machines right now.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MachineSample {
    /// Machines in the running state.
    pub running: u64,
    /// create/clone/import operations under way.
    pub creates_in_flight: u64,
    /// Memory and swap use as the provider sees them (the simulator's scenario); `None` means
    /// "use the host's".
    pub memory_percent: Option<f64>,
    pub swap_percent: Option<f64>,
}

/// Implemented by the machines layer for each provider. Called from the monitor's thread once
/// per sample, so it should answer in well under a second (read a counter file, not `orbctl
/// list`, when possible).
pub trait MachineSource: Send + Sync {
    /// `None` when the provider cannot be asked right now; the sample then records `null`.
    fn sample(&self) -> Option<MachineSample>;
}

pub use crate::results::Sample;

/// Reads a timeline, skipping lines that do not parse (a run killed mid-write leaves half a line).
pub fn read_timeline(path: &Path) -> std::io::Result<Vec<Sample>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for line in BufReader::new(file).lines() {
        if let Ok(sample) = serde_json::from_str::<Sample>(&line?) {
            out.push(sample);
        }
    }
    Ok(out)
}

/// The peaks summary.json reports, over the timeline's samples.
pub fn peaks(samples: &[Sample]) -> ResourcePeaks {
    let max = |f: fn(&Sample) -> f64| samples.iter().map(f).reduce(f64::max);
    ResourcePeaks {
        peak_memory_percent: max(|s| s.memory_percent),
        peak_swap_percent: max(|s| s.swap_percent),
    }
}

/// Host figures through sysinfo, and the children of a process.
/// What one machine is expected to take on a real host, for create headroom: OrbStack's
/// machines share the Mac's memory dynamically; a freshly created Linux machine settles at a
/// few hundred MiB.
pub const MACHINE_MIB: u64 = 512;

/// The real host's memory and swap use, with the sizes (zero when the platform cannot tell).
pub fn host_pressure() -> Pressure {
    let Ok(mut sys) = sysinfo::System::new() else {
        return Pressure::percent(0.0, 0.0);
    };
    sys.refresh_memory();
    const MIB: u64 = 1024 * 1024;
    Pressure {
        memory_percent: percent(sys.used_memory(), sys.total_memory()),
        swap_percent: percent(sys.used_swap(), sys.total_swap()),
        mib: (sys.total_memory() > 0).then(|| MemoryMib {
            memory: sys.total_memory() / MIB,
            memory_used: sys.used_memory() / MIB,
            swap: sys.total_swap() / MIB,
            swap_used: sys.used_swap() / MIB,
            per_machine: MACHINE_MIB,
        }),
    }
}

/// `used` as a percentage of `total` (0 when the total is unknown).
fn percent(used: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        used as f64 * 100.0 / total as f64
    }
}

pub struct Probe {
    sys: Option<sysinfo::System>,
}

impl Default for Probe {
    fn default() -> Self {
        Self::new()
    }
}

impl Probe {
    pub fn new() -> Self {
        let mut sys = sysinfo::System::new().ok();
        if let Some(s) = sys.as_mut() {
            // CPU use is a difference between two readings: take the first now.
            s.refresh_cpu_usage();
        }
        Self { sys }
    }

    /// (memory %, swap %, CPU %) of the host; zeros when sysinfo is unavailable.
    pub fn host(&mut self) -> (f64, f64, f64) {
        let Some(sys) = self.sys.as_mut() else {
            return (0.0, 0.0, 0.0);
        };
        sys.refresh_memory();
        sys.refresh_cpu_usage();
        (
            percent(sys.used_memory(), sys.total_memory()),
            percent(sys.used_swap(), sys.total_swap()),
            f64::from(sys.global_cpu_usage()),
        )
    }

    /// How many direct children `pid` has: nextest runs each test as its own child process.
    pub fn children(&mut self, pid: u32) -> u64 {
        #[cfg(target_os = "linux")]
        if let Some(n) = proc_children(pid) {
            return n;
        }
        let Some(sys) = self.sys.as_mut() else { return 0 };
        sys.refresh_processes_specifics(
            sysinfo::ProcessesToUpdate::All,
            true,
            sysinfo::ProcessRefreshKind::nothing(),
        );
        let parent = sysinfo::Pid::from_u32(pid);
        sys.processes().values().filter(|p| p.parent() == Some(parent)).count() as u64
    }
}

/// Linux: `/proc/<pid>/task/*/children` lists each thread's children; reading a few small files
/// is far cheaper than scanning every process. `None` if the kernel does not offer it.
#[cfg(target_os = "linux")]
fn proc_children(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut n = 0;
    let mut any = false;
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            any = true;
            n += text.split_whitespace().count() as u64;
        }
    }
    any.then_some(n)
}

/// Samples resources on the thread that calls [`Monitor::run`], from the `RunStarted` event
/// until [`Monitor::stop`]. It is also an [`Observer`]: it learns the run directory, the current
/// tier and nextest's pid from the runner's events.
pub struct Monitor<'a> {
    /// Interval between timeline lines.
    every: Duration,
    /// Interval between samples (shorter than `every` when a live view needs fresh figures).
    tick: Duration,
    source: Option<&'a dyn MachineSource>,
    view: &'a dyn Observer,
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    run: Option<Running>,
    tier: Option<String>,
    nextest_pid: Option<u32>,
    stopped: bool,
    /// The samples written to the timeline (peaks are computed over these).
    samples: Vec<Sample>,
    error: Option<String>,
}

struct Running {
    clock: Instant,
    path: PathBuf,
    timeline: Option<BufWriter<File>>,
    last_written: Option<Duration>,
}

/// What the monitor leaves behind when it stops.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonitorReport {
    pub peaks: ResourcePeaks,
    /// Lines written to the timeline.
    pub samples: usize,
    /// Why the timeline is incomplete, if it is.
    pub error: Option<String>,
}

impl<'a> Monitor<'a> {
    /// `live`: a live view shows the samples, so sample at least once a second.
    pub fn new(
        config: &MonitorConfig,
        live: bool,
        source: Option<&'a dyn MachineSource>,
        view: &'a dyn Observer,
    ) -> Self {
        let every = config.sample_every;
        let tick = if live { every.min(LIVE_REFRESH) } else { every };
        Self {
            every,
            tick,
            source,
            view,
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The sampling loop; returns after [`Monitor::stop`], having written a last sample.
    pub fn run(&self) {
        let mut probe = Probe::new();
        let mut state = self.lock();
        while state.run.is_none() && !state.stopped {
            state = self.wake.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        loop {
            let stopped = state.stopped;
            if state.run.is_none() {
                return;
            }
            let (tier, pid) = (state.tier.clone(), state.nextest_pid);
            drop(state);
            let Some(sample) = self.take(&mut probe, tier, pid) else {
                return;
            };
            // Outside our lock: the view draws, and the runner's events must not wait on that.
            self.view.event(&Event::Resources { sample: &sample });
            state = self.lock();
            record(&mut state, &sample, self.every.saturating_sub(self.tick / 2), stopped);
            if stopped {
                return;
            }
            let (guard, _) = self
                .wake
                .wait_timeout_while(state, self.tick, |s| !s.stopped)
                .unwrap_or_else(|p| p.into_inner());
            state = guard;
        }
    }

    fn take(&self, probe: &mut Probe, tier: Option<String>, pid: Option<u32>) -> Option<Sample> {
        let t = self.lock().run.as_ref()?.clock.elapsed();
        let (mut memory, mut swap, cpu) = probe.host();
        let machines = self.source.and_then(|s| s.sample());
        let mut pressure_from = "host".to_string();
        if let Some(m) = machines {
            if let Some(p) = m.memory_percent {
                memory = p;
                pressure_from = "provider".into();
            }
            if let Some(p) = m.swap_percent {
                swap = p;
                pressure_from = "provider".into();
            }
        }
        Some(Sample {
            t_ms: t.as_millis() as u64,
            memory_percent: round1(memory),
            swap_percent: round1(swap),
            cpu_percent: round1(cpu),
            machines: machines.map(|m| m.running),
            creates_in_flight: machines.map(|m| m.creates_in_flight),
            running_tests: pid.map_or(0, |p| probe.children(p)),
            tier,
            pressure_from,
        })
    }

    /// Ends sampling (the loop takes one last sample first).
    pub fn stop(&self) {
        self.lock().stopped = true;
        self.wake.notify_all();
    }

    /// Flushes the timeline and returns the peaks. Call after `run` returned.
    pub fn finish(&self) -> MonitorReport {
        let mut state = self.lock();
        if let Some(run) = state.run.as_mut()
            && let Some(mut w) = run.timeline.take()
            && let Err(e) = w.flush()
        {
            let path = run.path.display().to_string();
            state.error.get_or_insert(format!("cannot write {path}: {e}"));
        }
        MonitorReport {
            peaks: peaks(&state.samples),
            samples: state.samples.len(),
            error: state.error.clone(),
        }
    }
}

/// Appends the sample to the timeline when one is due (and always the last one).
fn record(state: &mut State, sample: &Sample, min_gap: Duration, last: bool) {
    let Some(run) = state.run.as_mut() else { return };
    let t = Duration::from_millis(sample.t_ms);
    if !last && run.last_written.is_some_and(|w| t.saturating_sub(w) < min_gap) {
        return;
    }
    run.last_written = Some(t);
    state.samples.push(sample.clone());
    let Some(w) = run.timeline.as_mut() else { return };
    let line = serde_json::to_string(sample).unwrap_or_default();
    // Flushed per line: a killed run still leaves its timeline up to the last sample.
    if let Err(e) = writeln!(w, "{line}").and_then(|()| w.flush()) {
        let path = run.path.display().to_string();
        run.timeline = None;
        state.error.get_or_insert(format!("cannot write {path}: {e}"));
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

impl Observer for Monitor<'_> {
    fn event(&self, event: &Event<'_>) {
        let mut state = self.lock();
        match event {
            Event::RunStarted { dir, .. } => {
                let path = dir.join(TIMELINE_FILE);
                let timeline = match orbtest_machines::files::create_private_file(&path) {
                    Ok(f) => Some(BufWriter::new(f)),
                    Err(e) => {
                        state.error = Some(format!("cannot create {}: {e}", path.display()));
                        None
                    }
                };
                state.run = Some(Running {
                    clock: Instant::now(),
                    path,
                    timeline,
                    last_written: None,
                });
                self.wake.notify_all();
            }
            Event::TierStarted { tier, .. } => {
                state.tier = Some(tier.to_string());
                state.nextest_pid = None;
            }
            Event::TierProcess { pid, .. } => state.nextest_pid = Some(*pid),
            Event::TierFinished { .. } => {
                state.tier = None;
                state.nextest_pid = None;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Silent;

    struct Sim;
    impl MachineSource for Sim {
        fn sample(&self) -> Option<MachineSample> {
            Some(MachineSample {
                running: 3,
                creates_in_flight: 1,
                memory_percent: Some(91.0),
                swap_percent: Some(42.5),
            })
        }
    }

    #[test]
    fn provider_pressure_replaces_the_hosts_and_lands_in_the_timeline() {
        let dir = tempfile::tempdir().unwrap();
        let config = MonitorConfig {
            sample_every: Duration::from_millis(100),
        };
        let monitor = Monitor::new(&config, false, Some(&Sim), &Silent);
        std::thread::scope(|s| {
            s.spawn(|| monitor.run());
            monitor.event(&Event::RunStarted {
                run_id: "r",
                dir: dir.path(),
            });
            monitor.event(&Event::TierStarted {
                tier: "e2e",
                machines: true,
            });
            monitor.stop();
        });
        let report = monitor.finish();
        let samples = read_timeline(&dir.path().join(TIMELINE_FILE)).unwrap();
        assert!(!samples.is_empty());
        assert_eq!(report.samples, samples.len());
        let last = samples.last().unwrap();
        assert_eq!(last.memory_percent, 91.0);
        assert_eq!(last.swap_percent, 42.5);
        assert_eq!(last.machines, Some(3));
        assert_eq!(last.creates_in_flight, Some(1));
        assert_eq!(last.pressure_from, "provider");
        assert_eq!(report.peaks, peaks(&samples));
        assert_eq!(report.peaks.peak_swap_percent, Some(42.5));
    }

    #[test]
    fn counts_the_children_of_a_process() {
        let mut children: Vec<_> = (0..3)
            .map(|_| std::process::Command::new("sleep").arg("30").spawn().unwrap())
            .collect();
        let n = Probe::new().children(std::process::id());
        for c in &mut children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Other tests of this binary may have children of their own at the same moment.
        assert!(n >= 3, "{n}");
    }

    #[test]
    fn a_timeline_with_a_torn_last_line_still_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TIMELINE_FILE);
        std::fs::write(
            &path,
            "{\"t_ms\":0,\"memory_percent\":10.0,\"swap_percent\":1.0,\"cpu_percent\":5.0,\"machines\":null,\"creates_in_flight\":null,\"running_tests\":0,\"tier\":null}\n{\"t_ms\":20",
        )
        .unwrap();
        let samples = read_timeline(&path).unwrap();
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].pressure_from, "host");
        assert_eq!(peaks(&samples).peak_memory_percent, Some(10.0));
    }
}
