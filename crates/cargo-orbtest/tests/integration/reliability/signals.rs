//! Signals handled promptly: SIGHUP like SIGTERM, Ctrl-C that stops provisioning and says so at
//! once, interrupted tests that are not retried, a double Ctrl-C that keeps what is known, and
//! the processes a SIGKILLed run left running ended by the next run.
//!
//! Timing is asserted with wide margins (a loaded 2-core machine): "within 1 s" is measured in
//! the benchmarks, here "well before what the bug took".

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::pysuite::{Scenario, alive, wait_until};

fn spawn(mut cmd: Command, log: &Path) -> Child {
    let out = std::fs::File::create(log).expect("log");
    // Its own process group: a signal to the group is what a terminal sends.
    cmd.process_group(0)
        .stdout(Stdio::null())
        .stderr(out)
        .spawn()
        .expect("spawn cargo-orbtest")
}

fn signal_group(child: &Child, signal: i32) {
    // SAFETY: killpg(2) on the process group we started.
    unsafe {
        libc::killpg(child.id() as i32, signal);
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

const MACHINES: &str = "[machines]\nprovider = \"sim\"\n[machines.sim]\nscenario = \"{scenario}\"\n";

#[test]
fn sighup_is_handled_like_sigterm() {
    let config = format!(
        "{MACHINES}[tiers.hold]\ncommand = [\"sh\", \"-c\", \"orbctl create ubuntu:22.04 hup-vm && touch \\\"$PYSUITE_STATE/held\\\" && sleep 60\"]\nmachines = true\n"
    );
    let s = Scenario::new(&config, None, Some("time_scale = 0.001\n"));
    std::fs::create_dir_all(s.state()).expect("state");
    let log = s.path().join("run.log");
    let mut run = spawn(s.command(&[]), &log);
    wait_until("the machine", || s.state().join("held").exists());
    // SAFETY: kill(2) on the process we started.
    unsafe {
        libc::kill(run.id() as i32, libc::SIGHUP);
    }
    let status = run.wait().expect("wait");
    assert_eq!(status.code(), Some(129), "{}", read(&log));
    let summary = s.summary();
    assert_eq!(summary["interrupted"], "SIGHUP");
    assert_eq!(summary["exit_code"], 129);
    assert!(s.machines().is_empty(), "postflight ran: {:?}", s.machines());
}

#[test]
fn ctrl_c_stops_provisioning_at_once_and_says_stopping() {
    let s = Scenario::new("", None, Some("time_scale = 0.001\n"));
    std::fs::create_dir_all(s.state()).expect("state");
    let mark = s.state().join("provisioning");
    let config = format!(
        "{MACHINES}[[machines.baseline]]\nname = \"slow-base\"\nimage = \"ubuntu:22.04\"\nprovision = [\"touch {} && sleep 120\"]\n\
         [tiers.cmd]\ncommand = [\"true\"]\nmachines = true\n",
        mark.display()
    )
    .replace("{scenario}", &s.path().join("scenario.toml").display().to_string());
    std::fs::write(s.path().join("orchestrator.toml"), config).expect("config");
    let log = s.path().join("run.log");
    let mut run = spawn(s.command(&[]), &log);
    wait_until("provisioning", || mark.exists());
    let sent = Instant::now();
    signal_group(&run, libc::SIGINT);
    let status = run.wait().expect("wait");
    let took = sent.elapsed();
    let text = read(&log);
    assert_eq!(status.code(), Some(130), "{text}");
    assert!(
        took < Duration::from_secs(10),
        "took {took:?} (the step would run 120 s): {text}"
    );
    let stopping = text
        .find("stopping…")
        .unwrap_or_else(|| panic!("no stopping notice: {text}"));
    let verdict = text.find("INTERRUPTED").expect("verdict");
    assert!(stopping < verdict, "said before the run ended: {text}");
    assert!(
        text.contains("tier cmd: skipped: the run was interrupted (SIGINT)"),
        "{text}"
    );
}

/// The fixture's tests under nextest: `hangs_on_request` hangs (FIXTURE_HANG), `passes` passes.
fn basic(config: &str) -> crate::support::cli::Scenario {
    crate::support::cli::Scenario::new("basic", config)
}

/// The run's nextest.log for a tier, once it exists.
fn nextest_log(s: &crate::support::cli::Scenario, tier: &str) -> String {
    let runs = crate::support::cli::fixture_target().join("orbtest/runs");
    let Ok(summary) = std::fs::read_to_string(s.reports().join("summary.json")) else {
        return String::new();
    };
    let v: serde_json::Value = serde_json::from_str(&summary).unwrap_or_default();
    read(
        &runs
            .join(v["run_id"].as_str().unwrap_or_default())
            .join("tiers")
            .join(tier)
            .join("nextest.log"),
    )
}

/// nextest, cancelling after Ctrl-C, scheduled a retry of the test the interrupt ended and sat
/// out its delay (here 30 s) before exiting.
#[test]
fn an_interrupted_test_is_not_retried() {
    let s = basic(
        "[tiers.unit]\nfilter = \"test(=tests::hangs_on_request) | test(=tests::passes)\"\n\
         retries = { count = 3, delay = \"30s\" }\n",
    );
    let log = s.path().join("run.log");
    let mut cmd = s.command(["--report-dir".as_ref(), s.reports().as_os_str()]);
    cmd.env("FIXTURE_HANG", "1");
    let mut run = spawn(cmd, &log);
    wait_until("the tier to start", || read(&log).contains("tier unit: 2 tests"));
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    signal_group(&run, libc::SIGINT);
    let status = run.wait().expect("wait");
    let took = sent.elapsed();
    assert_eq!(status.code(), Some(130), "{}", read(&log));
    assert!(
        took < Duration::from_secs(20),
        "took {took:?}: a 30 s retry delay was sat out"
    );
    let nextest = nextest_log(&s, "unit");
    assert!(!nextest.contains("TRY 2"), "a retry ran: {nextest}");
    let unit = s.tier("unit");
    assert_eq!(unit["tests"]["not_run"], 1, "{unit}");
}

/// A second Ctrl-C kills nextest before it writes its JUnit: what it had already printed as
/// final results is kept (it was all lost), the rest is counted as not run. The stubborn test
/// ignores SIGINT and SIGTERM, so nextest is still waiting for it when the second one comes.
#[test]
fn a_double_ctrl_c_keeps_the_results_already_known() {
    let s = basic(
        "[tiers.first]\nfilter = \"test(=tests::slow)\"\n\
         [tiers.second]\nfilter = \"test(=tests::stubborn_on_request) | test(=tests::passes)\"\nthreads = 2\n",
    );
    let stubborn_dir = s.path().join("stubborn");
    std::fs::create_dir_all(&stubborn_dir).expect("dir");
    let log = s.path().join("run.log");
    let mut cmd = s.command(["--report-dir".as_ref(), s.reports().as_os_str()]);
    cmd.env("FIXTURE_STUBBORN_DIR", &stubborn_dir);
    let mut run = spawn(cmd, &log);
    let pid_file = stubborn_dir.join("stubborn_on_request.pid");
    wait_until("the stubborn test", || read(&pid_file).trim().parse::<i32>().is_ok());
    let runs = crate::support::cli::fixture_target().join("orbtest/runs");
    wait_until("`passes` to pass", || {
        std::fs::read_dir(&runs).is_ok_and(|d| {
            d.flatten().any(|r| {
                let log = read(&r.path().join("tiers/second/nextest.log"));
                log.contains("PASS") && log.contains("tests::passes") && !r.path().join("summary.json").exists()
            })
        })
    });
    signal_group(&run, libc::SIGINT);
    wait_until("the stopping notice", || read(&log).contains("stopping…"));
    std::thread::sleep(Duration::from_millis(300));
    signal_group(&run, libc::SIGINT);
    let status = run.wait().expect("wait");
    let text = read(&log);
    assert_eq!(status.code(), Some(130), "{text}");
    assert!(text.contains("stopping at once"), "{text}");
    let stubborn: i32 = read(&pid_file).trim().parse().expect("pid");
    wait_until("the stubborn test to be killed", || !alive(stubborn));
    let first = s.tier("first");
    assert_eq!(first["tests"]["passed"], 1, "an earlier tier's results stay: {first}");
    let second = s.tier("second");
    assert_eq!(second["tests"]["passed"], 1, "{second}");
    assert_eq!(second["tests"]["not_run"], 1, "{second}");
    assert!(
        second["reason"].as_str().unwrap_or_default().contains("second SIGINT"),
        "{second}"
    );
}

/// A SIGKILLed run's direct children die with it, but not what they started: a command tier's
/// background worker kept calling `orbctl` for a run that was gone. The next run ends it.
#[test]
fn the_next_run_ends_what_a_sigkilled_run_left_running() {
    let worker = "sh -c 'while :; do orbctl list -q >/dev/null 2>&1; sleep 0.1; done' & echo $! > \\\"$PYSUITE_STATE/stray\\\"; wait";
    let config = format!(
        "{MACHINES}[tiers.strays]\ncommand = [\"sh\", \"-c\", \"{worker}\"]\nmachines = true\n\
         [tiers.quiet]\ncommand = [\"true\"]\n"
    );
    let s = Scenario::new(&config, None, Some("time_scale = 0.001\n"));
    std::fs::create_dir_all(s.state()).expect("state");
    let log = s.path().join("run.log");
    let mut run = spawn(s.command(&["--tier", "strays"]), &log);
    let stray_file = s.state().join("stray");
    wait_until("the background worker", || {
        read(&stray_file).trim().parse::<i32>().is_ok()
    });
    let stray: i32 = read(&stray_file).trim().parse().expect("pid");
    assert!(
        marked_processes(&s).contains(&stray),
        "the worker carries its run's mark"
    );
    signal_group_kill_leader(&run);
    run.wait().expect("wait");

    // Its run is dead: any run that starts ends the worker (in a parallel test suite, maybe
    // another test's run does it first, and then this one has nothing to say).
    let out = s.run(&["--tier", "quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    wait_until("the worker to end", || !alive(stray));
    let said = String::from_utf8_lossy(&out.stderr).contains("processes that a killed run had left running");
    println!("the next run said it ended it: {said}");
}

/// SIGKILL to the orchestrator alone (its children are told by PDEATHSIG).
fn signal_group_kill_leader(run: &Child) {
    // SAFETY: kill(2) on the process we started.
    unsafe {
        libc::kill(run.id() as i32, libc::SIGKILL);
    }
}

/// Live processes carrying this scenario's run marks.
fn marked_processes(s: &Scenario) -> Vec<i32> {
    let needle = format!("{}=", "ORBTEST_RUN_ALIVE");
    let root = s.path().to_string_lossy().into_owned();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        let env = String::from_utf8_lossy(&env);
        if env.split('\0').any(|v| v.starts_with(&needle) && v.contains(&root)) && alive(pid) {
            out.push(pid);
        }
    }
    out
}

/// The moment a signal comes at: while the tier's create is under way (the daemon goes on
/// without its client), or while postflight's deletes are (some done, some not).
#[derive(Debug, Clone, Copy)]
enum Worst {
    CreateInFlight,
    PostflightDeletes,
}

/// A signal at the worst moment: the run still ends with its signal's exit code and a complete
/// summary.json, leaves no process of its own behind, counts nothing as passed, and the next run
/// leaves none of its machines (their names are no prefix's: only the journal knows them).
fn signal_at_the_worst_moment(signal: i32, moment: Worst) {
    let (script, latency) = match moment {
        Worst::CreateInFlight => (
            "orbctl create ubuntu:22.04 scratch-flight; sleep 60",
            "create = \\\"200s\\\"",
        ),
        Worst::PostflightDeletes => (
            "for i in 0 1 2 3 4 5; do orbctl create ubuntu:22.04 scratch-del-$i || exit 1; done",
            "delete = { dist = \\\"uniform\\\", min = \\\"40s\\\", max = \\\"150s\\\" }",
        ),
    };
    // No automatic baseline from the six creates: the next run would build one and keep it.
    let config = format!(
        "{}[tiers.main]\ncommand = [\"sh\", \"-c\", \"{script}\"]\nmachines = true\n\
         [tiers.quiet]\ncommand = [\"true\"]\nmachines = true\n",
        MACHINES.replace("[machines.sim]", "auto_baselines = false\n[machines.sim]")
    );
    let scenario = format!("time_scale = 0.01\n[latency]\n{}\n", latency.replace("\\\"", "\""));
    let s = Scenario::new(&config, None, Some(&scenario));
    std::fs::create_dir_all(s.state()).expect("state");
    let log = s.path().join("run.log");
    let mut run = spawn(s.command(&["--tier", "main"]), &log);
    let stat = |key: &str| s.stats()[key].as_u64().unwrap_or(0);
    match moment {
        Worst::CreateInFlight => wait_until("a create in flight", || stat("creates_in_flight") >= 1),
        Worst::PostflightDeletes => wait_until("postflight's deletes half done", || {
            stat("deletes") >= 1 && stat("machines") >= 1
        }),
    }
    // SAFETY: kill(2) on the process we started (as `kill PID` or a closed terminal sends it).
    unsafe {
        libc::kill(run.id() as i32, signal);
    }
    let status = run.wait().expect("wait");
    let text = read(&log);
    let (code, name) = match signal {
        libc::SIGHUP => (129, "SIGHUP"),
        libc::SIGTERM => (143, "SIGTERM"),
        _ => (130, "SIGINT"),
    };
    assert_eq!(status.code(), Some(code), "{moment:?}: {text}");
    let summary = s.summary();
    assert_eq!(summary["exit_code"], code, "{summary}");
    assert_eq!(summary["interrupted"], name, "{summary}");
    if matches!(moment, Worst::CreateInFlight) {
        assert_eq!(s.tier("main")["tests"]["passed"], 0, "{summary}");
    }
    wait_until("no process of the run left", || marked_processes(&s).is_empty());

    let out = s.run(&["--tier", "quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(s.machines().is_empty(), "{moment:?}: left {:?}\n{text}", s.machines());
}

#[test]
fn sigterm_while_a_create_is_in_flight_leaves_nothing_behind() {
    signal_at_the_worst_moment(libc::SIGTERM, Worst::CreateInFlight);
}

#[test]
fn sighup_while_a_create_is_in_flight_leaves_nothing_behind() {
    signal_at_the_worst_moment(libc::SIGHUP, Worst::CreateInFlight);
}

#[test]
fn sigterm_while_postflight_deletes_leaves_nothing_behind() {
    signal_at_the_worst_moment(libc::SIGTERM, Worst::PostflightDeletes);
}

#[test]
fn sigint_while_postflight_deletes_leaves_nothing_behind() {
    signal_at_the_worst_moment(libc::SIGINT, Worst::PostflightDeletes);
}
