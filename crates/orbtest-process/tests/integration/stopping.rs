//! Deadlines, watches, lingering output and marked orphans.

use std::time::{Duration, Instant};

use orbtest_process::{Mark, Output, Stop, Supervision, Watch, capture, run};

use crate::{alive, read_pid, sh, wait_until};

#[test]
fn a_timeout_kills_the_whole_group_including_grandchildren() {
    // The grandchild keeps stdout open; if it survived, reading output would never end.
    let c = capture(&sh("sleep 30 & sleep 30; echo never"), Some(Duration::from_millis(200))).unwrap();
    assert!(c.timed_out);
    assert_eq!(c.code, None);
    assert_eq!(c.signal, Some(libc::SIGKILL));
    assert!(c.stdout.is_empty());
}

#[test]
fn the_deadline_terms_then_kills_a_group_that_ignores_term() {
    let start = Instant::now();
    let exit = run(
        &sh("trap '' TERM; sleep 30 & sleep 30"),
        &Supervision::new().timeout(Duration::from_millis(300)).stop(Stop::Term {
            grace: Duration::from_millis(200),
        }),
        Output::Lines(&mut |_| {}),
    )
    .unwrap();
    assert!(exit.timed_out && !exit.success());
    assert_eq!(exit.signal, Some(libc::SIGKILL), "{exit:?}");
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_command_that_never_stops_talking_still_times_out() {
    let mut lines = 0;
    let exit = run(
        &sh("while :; do echo chatter; done"),
        &Supervision::new().timeout(Duration::from_millis(300)),
        Output::Lines(&mut |_| lines += 1),
    )
    .unwrap();
    assert!(exit.timed_out);
    assert!(lines > 10);
}

#[test]
fn a_watch_that_finds_the_work_done_stops_a_hanging_child() {
    let looks = std::cell::Cell::new(0);
    let done_on_second_look = || {
        looks.set(looks.get() + 1);
        looks.get() >= 2
    };
    let watch = Watch {
        every: Duration::from_millis(20),
        settled: &done_on_second_look,
    };
    let start = Instant::now();
    let supervision = Supervision::new().timeout(Duration::from_secs(60)).watch(watch);
    let c = run(&sh("sleep 30 & sleep 30"), &supervision, Output::Capture).unwrap();
    assert!(c.settled && !c.timed_out);
    assert_eq!(c.signal, Some(libc::SIGKILL));
    assert_eq!(looks.get(), 2);
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_watched_child_that_finishes_by_itself_is_not_settled() {
    let never = || false;
    let watch = Watch {
        every: Duration::from_millis(5),
        settled: &never,
    };
    let c = run(
        &sh("sleep 0.05; echo done"),
        &Supervision::new().watch(watch),
        Output::Capture,
    )
    .unwrap();
    assert!(!c.settled && !c.timed_out);
    assert_eq!((c.code, c.stdout.as_slice()), (Some(0), &b"done\n"[..]));
}

#[test]
fn output_held_open_after_exit_is_cut_off_and_its_holder_killed() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("bg.pid");
    let script = format!("sleep 60 & echo $! > '{}'; echo bye", pid_file.display());
    let start = Instant::now();
    let mut lines = Vec::new();
    let exit = run(
        &sh(&script),
        &Supervision::new(),
        Output::Lines(&mut |l| lines.push(l.to_vec())),
    )
    .unwrap();
    assert_eq!(exit.code, Some(0));
    assert_eq!(lines, [b"bye\n".to_vec()]);
    assert!(start.elapsed() < Duration::from_secs(30));
    let bg = read_pid(&pid_file).unwrap();
    wait_until("the background holder to die", || !alive(bg));
}

#[test]
fn marked_processes_that_left_the_group_die_after_a_forced_end() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("escaped.pid");
    // setsid: a new session and group, out of reach of the group kill; only the mark finds it.
    let script = format!(
        "setsid sh -c 'echo $$ > \"{}\"; exec sleep 60' </dev/null >/dev/null 2>&1 & sleep 60",
        pid_file.display()
    );
    // The child is killed (a forced end) once the escapee is up.
    let escaped = || read_pid(&pid_file).is_some_and(alive);
    let watch = Watch {
        every: Duration::from_millis(20),
        settled: &escaped,
    };
    let supervision = Supervision::new()
        .timeout(Duration::from_secs(60))
        .watch(watch)
        .mark(Mark::new("ORBTEST_PROCESS_TEST_MARK"));
    let exit = run(&sh(&script), &supervision, Output::Capture).unwrap();
    assert!(exit.settled, "{exit:?}");
    assert!(exit.orphans >= 1, "{exit:?}");
    let pid = read_pid(&pid_file).unwrap();
    wait_until("the escaped process to die", || !alive(pid));
}

#[test]
fn an_unmarked_escapee_of_a_normal_exit_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("daemon.pid");
    let script = format!(
        "setsid sh -c 'echo $$ > \"{}\"; exec sleep 60' </dev/null >/dev/null 2>&1 &",
        pid_file.display()
    );
    let supervision = Supervision::new().mark(Mark::new("ORBTEST_PROCESS_TEST_MARK"));
    let exit = run(&sh(&script), &supervision, Output::Capture).unwrap();
    assert_eq!((exit.code, exit.orphans), (Some(0), 0));
    wait_until("the daemon to start", || read_pid(&pid_file).is_some());
    let pid = read_pid(&pid_file).unwrap();
    assert!(
        alive(pid),
        "a child that ended normally keeps what it started on purpose"
    );
    // SAFETY: kill(2) on the process this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

#[test]
fn leave_stops_waiting_without_killing() {
    let start = Instant::now();
    let exit = run(
        &sh("sleep 30"),
        &Supervision::new()
            .timeout(Duration::from_millis(100))
            .stop(Stop::Leave)
            .outlives_us(),
        Output::Capture,
    )
    .unwrap();
    assert!(exit.timed_out && exit.code.is_none() && exit.signal.is_none());
    assert!(start.elapsed() < Duration::from_secs(10));
}
