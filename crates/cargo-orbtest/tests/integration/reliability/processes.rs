//! Processes dying at bad moments: the orchestrator gets SIGINT, SIGTERM or SIGKILL at random
//! (seeded) points of preflight, a tier and postflight; nextest is killed; two runs start at
//! once against one provider.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rand::{Rng, SeedableRng};

use crate::reliability::harness::{
    assert_honest, assert_next_run_reaps, assert_passes_are_real, config, faults_dir, main_run, paused,
};
use crate::support::lifecycle::{Sim, wait_until};

/// A baseline to build (preflight takes a while), four tests that each leave a machine
/// (postflight has deletes to do).
fn slow_phases() -> Sim {
    let machines = "[[machines.baseline]]\nname = \"orbtest-base\"\nimage = \"ubuntu:22.04\"\n\
                    provision = [\"sleep 0.2\", \"true\"]\n";
    let scenario = "time_scale = 0.01\n[latency]\ncreate = \"40s\"\nprovisioning = \"10s\"\nclone = \"20s\"\n\
                    start = \"5s\"\ndelete = \"60s\"\n";
    Sim::new(
        &config("binary(faults) & test(/^leaves_a_machine_/)", machines, 2),
        Some(scenario),
    )
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Preflight,
    Tier,
    Postflight,
}

impl Phase {
    /// The progress line after which the phase is under way, and how long it surely lasts (ms).
    fn marker(self) -> (&'static str, u64) {
        match self {
            // The first tier needs machines: preflight starts right after the build.
            Phase::Preflight => ("orbtest: built in", 700),
            Phase::Tier => ("orbtest: tier main: starting", 300),
            // Printed right after the tier, before postflight's deletes (600 ms).
            Phase::Postflight => ("orbtest: tier main: machines:", 400),
        }
    }
}

/// `RELIABILITY_SEED`, or a fresh one; printed either way so a failure can be replayed.
fn seed() -> u64 {
    let seed = std::env::var("RELIABILITY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::random::<u32>() as u64);
    println!("seed {seed} (set RELIABILITY_SEED={seed} to replay)");
    seed
}

fn spawn_in_own_group(sim: &Sim, name: &str, mut cmd: Command) -> Child {
    let out = std::fs::File::create(sim.path().join(format!("{name}.out"))).expect("output file");
    // Its own process group, so a SIGINT to the group is what Ctrl-C in a terminal sends.
    cmd.process_group(0).stdout(Stdio::null()).stderr(out);
    cmd.spawn().expect("spawn cargo-orbtest")
}

fn interrupt_at_random_point(phase: Phase, signal: i32) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed() ^ (phase as u64) << 8 ^ signal as u64);
    let (marker, lasts) = phase.marker();
    let delay = rng.random_range(0..lasts);
    println!("phase {phase:?}, signal {signal}, {delay} ms after {marker:?}");

    let sim = slow_phases();
    let mut run = spawn_in_own_group(&sim, "run", main_run(&sim, &[]));
    wait_until(marker, || sim.output_of("run").contains(marker));
    std::thread::sleep(Duration::from_millis(delay));
    assert!(
        run.try_wait().expect("try_wait").is_none(),
        "the run ended before the signal: {}",
        sim.output_of("run")
    );
    // SAFETY: kill(2)/killpg(2) on the process (group) we started.
    unsafe {
        if signal == libc::SIGINT {
            libc::killpg(run.id() as i32, signal);
        } else {
            libc::kill(run.id() as i32, signal);
        }
    }
    let status = run.wait().expect("wait");
    let log = sim.output_of("run");
    match signal {
        libc::SIGKILL => {
            assert_eq!(status.signal(), Some(libc::SIGKILL), "{log}");
            // Killed before its reports: none, or (killed while publishing) a whole one.
            if let Ok(text) = std::fs::read_to_string(sim.reports().join("summary.json")) {
                serde_json::from_str::<serde_json::Value>(&text).expect("a whole summary.json");
            }
            assert_passes_are_real(&sim, &sim.reports());
        }
        _ => {
            let (code, name) = if signal == libc::SIGINT {
                (130, "SIGINT")
            } else {
                (143, "SIGTERM")
            };
            let summary = assert_honest(&sim, status.code().unwrap_or(-1), &log, code);
            assert_eq!(summary["interrupted"], name, "{log}");
            assert_eq!(summary["outcome"], "error");
        }
    }
    assert_next_run_reaps(&sim);
}

#[test]
fn sigint_at_a_random_point_of_preflight() {
    interrupt_at_random_point(Phase::Preflight, libc::SIGINT);
}

#[test]
fn sigterm_at_a_random_point_of_preflight() {
    interrupt_at_random_point(Phase::Preflight, libc::SIGTERM);
}

#[test]
fn sigkill_at_a_random_point_of_preflight() {
    interrupt_at_random_point(Phase::Preflight, libc::SIGKILL);
}

#[test]
fn sigint_at_a_random_point_of_a_tier() {
    interrupt_at_random_point(Phase::Tier, libc::SIGINT);
}

#[test]
fn sigterm_at_a_random_point_of_a_tier() {
    interrupt_at_random_point(Phase::Tier, libc::SIGTERM);
}

#[test]
fn sigkill_at_a_random_point_of_a_tier() {
    interrupt_at_random_point(Phase::Tier, libc::SIGKILL);
}

#[test]
fn sigint_at_a_random_point_of_postflight() {
    interrupt_at_random_point(Phase::Postflight, libc::SIGINT);
}

#[test]
fn sigterm_at_a_random_point_of_postflight() {
    interrupt_at_random_point(Phase::Postflight, libc::SIGTERM);
}

#[test]
fn sigkill_at_a_random_point_of_postflight() {
    interrupt_at_random_point(Phase::Postflight, libc::SIGKILL);
}

fn parent_of(pid: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    // `pid (comm) state ppid ...`; comm may contain spaces, so count from the last `)`.
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    after
        .split_whitespace()
        .nth(1)
        .expect("ppid")
        .parse()
        .expect("ppid number")
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only probes.
    unsafe { libc::kill(pid, 0) == 0 }
}

#[test]
fn nextest_killed_mid_tier_is_an_infrastructure_error_not_a_pass() {
    let sim = Sim::new(
        &config("binary(faults) & test(=pauses_with_a_machine)", "", 1),
        Some("time_scale = 0.01\n"),
    );
    let mut run = sim.spawn("run", main_run(&sim, &[]));
    let (test_pid, _) = paused(&sim);
    let nextest = parent_of(test_pid);
    // SAFETY: kill(2) on cargo-nextest, which our run started.
    unsafe { libc::kill(nextest, libc::SIGKILL) };
    let status = run.wait().expect("wait");
    let log = sim.output_of("run");
    let summary = assert_honest(&sim, status.code().unwrap_or(-1), &log, 3);
    assert_eq!(summary["outcome"], "error");
    let tier = &summary["tiers"][0];
    assert_eq!(tier["outcome"], "failed", "{summary}");
    assert_eq!(tier["tests"]["passed"], 0, "{summary}");
    assert!(
        tier["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("killed by a signal"),
        "{summary}"
    );
    // Its tests would run on as orphans (this one forever): the run stopped them.
    assert!(log.contains("stopped 1 processes cargo-nextest left running"), "{log}");
    wait_until("the orphaned test to be gone", || !alive(test_pid));
    assert_next_run_reaps(&sim);
}

#[test]
fn two_runs_started_at_once_take_turns_and_both_report() {
    let sim = Sim::new(
        &config("binary(faults) & test(/^faulty_[0-2]$/)", "", 2),
        // Creates slow enough that the first run still holds the provider when the second,
        // whose build waited for the first's, reaches its preflight.
        Some("time_scale = 0.01\n[latency]\ncreate = \"60s\"\n"),
    );
    let start = |name: &str| {
        let reports = sim.path().join(name);
        let mut cmd = sim.command(&["--tier", "main", "--report-dir", reports.to_str().expect("utf-8")]);
        std::fs::create_dir_all(faults_dir(&sim)).expect("faults dir");
        cmd.env("FIXTURE_FAULTS_DIR", faults_dir(&sim))
            .env("FIXTURE_PREFIX", crate::reliability::harness::PREFIX);
        sim.spawn(name, cmd)
    };
    let (mut a, mut b) = (start("a"), start("b"));
    let (sa, sb) = (a.wait().expect("a"), b.wait().expect("b"));
    let (la, lb) = (sim.output_of("a"), sim.output_of("b"));
    assert_eq!(sa.code(), Some(0), "{la}");
    assert_eq!(sb.code(), Some(0), "{lb}");
    assert!(
        // "waiting for run ID (pid …)", or "waiting for another cargo orbtest run" when the
        // holder had not yet written who it is.
        la.contains("orbtest: waiting for") || lb.contains("orbtest: waiting for"),
        "one run waited for the other:\n{la}\n{lb}"
    );
    for name in ["a", "b"] {
        let text = std::fs::read_to_string(sim.path().join(name).join("summary.json")).expect("summary.json");
        let summary: serde_json::Value = serde_json::from_str(&text).expect("whole JSON");
        assert_eq!(summary["tiers"][0]["tests"]["passed"], 3, "{name}: {summary}");
        assert_passes_are_real(&sim, &sim.path().join(name));
    }
    assert_next_run_reaps(&sim);
}

/// Two runs of one workspace finishing together both publish to `latest/`: each must succeed,
/// and `latest/` must be one run's reports, whole.
#[test]
fn concurrent_publishing_to_latest_never_fails_or_mixes_runs() {
    use orbtest::report::RunDir;
    let root = tempfile::tempdir().expect("tempdir");
    let mut handles = Vec::new();
    for t in 0..4 {
        let root = root.path().to_path_buf();
        handles.push(std::thread::spawn(move || {
            for i in 0..25 {
                let dir = RunDir::create(&root, None, std::time::SystemTime::now()).expect("run dir");
                let mark = format!("{t}-{i}");
                for name in ["summary.json", "junit.xml", "report.html"] {
                    std::fs::write(dir.file(name), &mark).expect("write");
                }
                dir.publish().unwrap_or_else(|e| panic!("publish {mark}: {e}"));
            }
        }));
    }
    for h in handles {
        h.join().expect("publisher");
    }
    let latest = root.path().join("latest");
    let read = |n: &str| std::fs::read_to_string(latest.join(n)).expect("report in latest/");
    let summary = read("summary.json");
    assert_eq!(read("junit.xml"), summary, "latest/ mixes two runs");
    assert_eq!(read("report.html"), summary, "latest/ mixes two runs");
    let leftovers: Vec<_> = std::fs::read_dir(root.path())
        .expect("root")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".latest"))
        .collect();
    assert!(leftovers.is_empty(), "staging directories left behind: {leftovers:?}");
}
