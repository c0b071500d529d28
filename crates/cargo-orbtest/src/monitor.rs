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
pub(crate) const TIMELINE_FILE: &str = "timeline.jsonl";

/// The live view's status line refreshes at least this often.
pub(crate) const LIVE_REFRESH: Duration = Duration::from_secs(1);

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
pub(crate) fn read_timeline(path: &Path) -> std::io::Result<Vec<Sample>> {
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
pub(crate) fn peaks(samples: &[Sample]) -> ResourcePeaks {
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
pub(crate) const MACHINE_MIB: u64 = 512;

/// The real host's memory and swap use, with the sizes (zero when the platform cannot tell).
pub(crate) fn host_pressure() -> Pressure {
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
    proc_child_pids(pid).map(|p| p.len() as u64)
}

#[cfg(target_os = "linux")]
fn proc_child_pids(pid: u32) -> Option<Vec<u32>> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut out = Vec::new();
    let mut any = false;
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            any = true;
            out.extend(text.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
        }
    }
    any.then_some(out)
}

/// The tests nextest runs now as its children, each as `binary-id test-name` with how long it
/// has run: a test process's arguments are `BINARY --exact NAME ...` (after a runner's own
/// program, if one wraps it). Linux only (elsewhere: none, and the view shows counts).
#[cfg(target_os = "linux")]
fn proc_running_tests(pid: u32, binaries: &std::collections::HashMap<PathBuf, String>) -> Vec<(String, Duration)> {
    let Some(children) = proc_child_pids(pid) else {
        return Vec::new();
    };
    // SAFETY: sysconf has no memory-safety preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let uptime: Option<f64> = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok());
    children
        .into_iter()
        .filter_map(|child| {
            let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).ok()?;
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let exact = args.iter().position(|a| a == "--exact")?;
            let name = args.get(exact + 1)?;
            let binary = exact.checked_sub(1).and_then(|i| args.get(i))?;
            let id = binaries.get(Path::new(binary)).cloned().unwrap_or_else(|| {
                // Not in the build's list: its file name without cargo's hash.
                let file = Path::new(binary).file_name().map(|f| f.to_string_lossy().into_owned());
                let file = file.unwrap_or_default();
                file.rsplit_once('-').map_or(file.clone(), |(stem, _)| stem.to_string())
            });
            // Field 22 of stat, counted after the command's closing parenthesis.
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
            let started: f64 = stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()?;
            let ran = uptime.map_or(0.0, |u| (u - started / ticks).max(0.0));
            Some((format!("{id} {name}"), Duration::from_secs_f64(ran)))
        })
        .collect()
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
    /// Test binary paths and their ids, to name the running tests.
    binaries: std::collections::HashMap<PathBuf, String>,
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
            #[cfg(target_os = "linux")]
            let running = match (&tier, pid) {
                (Some(_), Some(pid)) => Some(proc_running_tests(pid, &state.binaries)),
                _ => None,
            };
            drop(state);
            let Some(sample) = self.take(&mut probe, tier.clone(), pid) else {
                return;
            };
            // Outside our lock: the view draws, and the runner's events must not wait on that.
            #[cfg(target_os = "linux")]
            if let (Some(tier), Some(tests)) = (&tier, &running) {
                self.view.event(&Event::TestsRunning { tier, tests });
            }
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
            Event::TestBinaries { binaries } => state.binaries = binaries.iter().cloned().collect(),
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
