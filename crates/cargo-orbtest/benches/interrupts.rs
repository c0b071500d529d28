//! How fast an interrupt is honoured (issue "every promise": Ctrl-C interrupts provisioning and
//! everything else within 1 s and says "stopping…" at once). For each moment — a provisioning
//! step, a command tier holding a machine, a run waiting for the provider's run lock — a run is
//! started against orbsim and sent SIGINT (to its process group, as a terminal does), SIGTERM
//! or SIGHUP once it is there, and two times are measured:
//!
//! - notice: from the signal to the `stopping…` line on stderr (bound 1 s);
//! - exit: from the signal to the process's exit, postflight and reports included (bound 1 s
//!   of stopping plus postflight, here a delete of one machine at time scale 0.001: 2 s).
//!
//! Run: `cargo bench --bench interrupts` (`INTERRUPTS_REPEAT`, default 5, per moment and
//! signal; exits non-zero if a bound is missed).

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const NOTICE_BOUND: Duration = Duration::from_secs(1);
const EXIT_BOUND: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy)]
enum Moment {
    Provisioning,
    CommandTier,
    WaitingForTheLock,
}

fn main() {
    let repeat: usize = std::env::var("INTERRUPTS_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-interrupts");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("bench dir");
    let mut ok = true;
    println!("moment              signal   notice p50/max      exit p50/max");
    for moment in [Moment::Provisioning, Moment::CommandTier, Moment::WaitingForTheLock] {
        for (signal, name) in [
            (libc::SIGINT, "SIGINT"),
            (libc::SIGTERM, "SIGTERM"),
            (libc::SIGHUP, "SIGHUP"),
        ] {
            let mut notices = Vec::new();
            let mut exits = Vec::new();
            for i in 0..repeat {
                let dir = root.join(format!("{moment:?}-{name}-{i}"));
                let (notice, exit) = once(&dir, moment, signal);
                notices.push(notice);
                exits.push(exit);
            }
            let (n50, nmax) = p50_max(&mut notices);
            let (e50, emax) = p50_max(&mut exits);
            let pass = nmax <= NOTICE_BOUND && emax <= EXIT_BOUND;
            ok &= pass;
            println!(
                "{:<19} {name:<8} {:>6.0} ms / {:>5.0} ms  {:>6.0} ms / {:>5.0} ms  {}",
                format!("{moment:?}"),
                ms(n50),
                ms(nmax),
                ms(e50),
                ms(emax),
                if pass { "ok" } else { "OVER BOUND" }
            );
        }
    }
    if !ok {
        eprintln!("an interrupt took longer than its bound (notice 1 s, exit 2 s)");
        std::process::exit(1);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn p50_max(v: &mut [Duration]) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[v.len() - 1])
}

fn config(dir: &Path, moment: Moment) -> String {
    let mut text = format!(
        "[machines]\nprovider = \"sim\"\nauto_baselines = false\n[machines.sim]\nscenario = {:?}\n",
        dir.join("scenario.toml").display().to_string()
    );
    let ready = dir.join("ready").display().to_string();
    match moment {
        Moment::Provisioning => text.push_str(&format!(
            "[[machines.baseline]]\nname = \"slow-base\"\nimage = \"ubuntu:22.04\"\n\
             provision = [\"touch {ready} && sleep 120\"]\n\
             [tiers.cmd]\ncommand = [\"true\"]\nmachines = true\n"
        )),
        Moment::CommandTier | Moment::WaitingForTheLock => text.push_str(&format!(
            "[tiers.cmd]\ncommand = [\"sh\", \"-c\", \"orbctl create ubuntu:22.04 held-vm && touch {ready} && sleep 120\"]\n\
             machines = true\n"
        )),
    }
    text
}

fn command(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-orbtest"));
    cmd.arg("orbtest").current_dir(dir);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("NEXTEST_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("ORBTEST_HOME", dir.join("home"))
        .env("ORBSIM_STATE", dir.join("sim"))
        .env("NO_COLOR", "1")
        .env_remove("ORBSIM_SCENARIO")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("ORBTEST_RUN_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    cmd
}

/// Each stderr line with the moment it arrived.
fn lines(child: &mut Child) -> mpsc::Receiver<(Instant, String)> {
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                return;
            }
        }
    });
    rx
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(60), "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One interrupted run: (signal → `stopping…`, signal → exit).
fn once(dir: &Path, moment: Moment, signal: i32) -> (Duration, Duration) {
    std::fs::create_dir_all(dir.join("sim")).expect("dir");
    std::fs::write(dir.join("scenario.toml"), "time_scale = 0.001\n").expect("scenario");
    std::fs::write(dir.join("orchestrator.toml"), config(dir, moment)).expect("config");
    let ready: PathBuf = dir.join("ready");
    // The run that holds the lock, when the one interrupted waits for it.
    let holder = match moment {
        Moment::WaitingForTheLock => {
            let first = command(dir).stderr(Stdio::null()).spawn().expect("spawn the holder");
            wait_for("the holder's machine", || ready.exists());
            Some(first)
        }
        _ => None,
    };
    let mut run = command(dir).spawn().expect("spawn cargo-orbtest");
    let rx = lines(&mut run);
    let mut seen = Vec::new();
    match moment {
        Moment::WaitingForTheLock => wait_for("the waiting line", || {
            seen.extend(rx.try_iter());
            seen.iter().any(|(_, l)| l.contains("waiting for run"))
        }),
        _ => wait_for("the moment", || ready.exists()),
    }
    let sent = Instant::now();
    // SAFETY: signals to the process group we started (SIGINT as a terminal sends it) or to
    // the process (SIGTERM, SIGHUP as `kill` and a closed terminal send them).
    unsafe {
        if signal == libc::SIGINT {
            libc::killpg(run.id() as i32, signal);
        } else {
            libc::kill(run.id() as i32, signal);
        }
    }
    run.wait().expect("wait");
    let exit = sent.elapsed();
    seen.extend(rx.iter());
    let notice = seen
        .iter()
        .find(|(_, l)| l.contains("stopping…"))
        .map(|(at, _)| at.saturating_duration_since(sent))
        .unwrap_or_else(|| panic!("{moment:?}: no stopping notice: {seen:?}"));
    if let Some(mut first) = holder {
        // SAFETY: the holder's process group, which we started.
        unsafe {
            libc::killpg(first.id() as i32, libc::SIGTERM);
        }
        first.wait().expect("wait for the holder");
    }
    (notice, exit)
}
