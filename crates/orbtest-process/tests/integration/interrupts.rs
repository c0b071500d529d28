//! Interrupts passed in as a value: forwarded to the child's group, a second one kills, a
//! grace bounds how long a child may ignore one.

use std::time::{Duration, Instant};

use orbtest_process::{Interrupt, Interrupts, Output, Supervision, run};

use crate::{alive, read_pid, sh, wait_until};

/// Runs `script` (which writes `ready` when its traps are set) and raises `raise` once ready.
fn interrupted(
    script: &str,
    supervision: Supervision<'_>,
    raise: &[Interrupt],
) -> (orbtest_process::ChildExit, Vec<String>) {
    let interrupts = Interrupts::new();
    let supervision = supervision.interrupts(interrupts.clone());
    let mut lines = Vec::new();
    let exit = run(
        &sh(script),
        &supervision,
        Output::Lines(&mut |l| {
            let line = String::from_utf8_lossy(l).trim_end().to_string();
            if line == "ready" {
                for i in raise {
                    interrupts.raise(*i);
                }
            }
            lines.push(line);
        }),
    )
    .unwrap();
    (exit, lines)
}

#[test]
fn the_first_interrupt_reaches_the_whole_group() {
    let (exit, lines) = interrupted(
        "trap 'echo got-int; exit 7' INT; echo ready; sleep 30 & wait",
        Supervision::new(),
        &[Interrupt::Int],
    );
    assert_eq!(exit.code, Some(7), "{exit:?} {lines:?}");
    assert_eq!(exit.interrupted, Some(Interrupt::Int));
    assert!(lines.contains(&"got-int".to_string()), "{lines:?}");
}

#[test]
fn sigterm_is_forwarded_as_sigterm() {
    let (exit, lines) = interrupted(
        "trap 'echo got-term; exit 9' TERM; echo ready; sleep 30 & wait",
        Supervision::new(),
        &[Interrupt::Term],
    );
    assert_eq!(exit.code, Some(9), "{exit:?} {lines:?}");
    assert_eq!(exit.interrupted, Some(Interrupt::Term));
}

#[test]
fn a_second_interrupt_kills_a_child_that_ignores_the_first() {
    let start = Instant::now();
    let (exit, _) = interrupted(
        "trap '' INT; echo ready; sleep 30",
        Supervision::new(),
        &[Interrupt::Int, Interrupt::Int],
    );
    assert_eq!(exit.signal, Some(libc::SIGKILL), "{exit:?}");
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn an_interrupt_grace_bounds_a_child_that_ignores_the_interrupt() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("sleep.pid");
    let script = format!(
        "trap '' INT; sleep 60 & echo $! > '{}'; echo ready; wait",
        pid_file.display()
    );
    let start = Instant::now();
    let (exit, _) = interrupted(
        &script,
        Supervision::new().interrupt_grace(Duration::from_millis(300)),
        &[Interrupt::Int],
    );
    // Margins for a loaded machine: the promise is well under a second.
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
    assert_eq!(exit.signal, Some(libc::SIGKILL), "{exit:?}");
    let sleeper = read_pid(&pid_file).unwrap();
    wait_until("the group's sleeper to die", || !alive(sleeper));
}

#[test]
fn interrupts_from_before_the_child_started_are_not_forwarded() {
    let interrupts = Interrupts::new();
    interrupts.raise(Interrupt::Int);
    let exit = run(
        &sh("sleep 0.2; echo finished"),
        &Supervision::new().interrupts(interrupts),
        Output::Capture,
    )
    .unwrap();
    assert_eq!((exit.code, exit.interrupted), (Some(0), None));
    assert_eq!(exit.stdout, b"finished\n");
}

#[test]
fn a_child_in_our_group_gets_the_interrupt_alone() {
    let (exit, lines) = interrupted(
        "trap 'echo got-int; exit 5' INT; echo ready; while :; do sleep 0.05; done",
        Supervision::new().in_our_group(),
        &[Interrupt::Int],
    );
    assert_eq!(exit.code, Some(5), "{exit:?} {lines:?}");
}
