//! The supervisor's promises, each tried against a child that makes it hard: grandchildren
//! holding pipes, traps that ignore signals, processes that escape the group.

mod interrupts;
mod output;
mod stopping;

use std::path::Path;
use std::time::{Duration, Instant};

use orbtest_process::Invocation;

/// `sh -c script`.
pub fn sh(script: &str) -> Invocation {
    Invocation::new("/bin/sh")
        .args(["-c", script])
        .env("ORBTEST_PROBE", "42")
}

pub fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only probes.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Waits (generously: the machine may be loaded) for `f`.
pub fn wait_until(what: &str, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}
