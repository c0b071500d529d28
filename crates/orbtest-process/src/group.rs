//! How a supervised child is set up before it runs: its own process group (so it and
//! everything it spawned can be signalled at once) and, on Linux, death with its parent (so a
//! SIGKILLed orchestrator leaves no nextest behind).

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Prepares `cmd`: a new process group unless `own_group` is false (an interactive child keeps
/// the terminal), and SIGTERM when its parent dies if `die_with_parent`.
pub(crate) fn prepare(cmd: &mut Command, own_group: bool, die_with_parent: bool) {
    if own_group {
        cmd.process_group(0);
    }
    #[cfg(target_os = "linux")]
    if die_with_parent {
        // SAFETY: getpid has no preconditions.
        let parent = unsafe { libc::getpid() };
        // SAFETY: prctl, getppid and _exit are async-signal-safe; nothing else runs between
        // fork and exec here.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died before prctl took effect.
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = die_with_parent;
}

/// Sends `signal` to the process group led by `pid`.
pub(crate) fn signal_group(pid: u32, signal: i32) {
    // SAFETY: killpg has no memory-safety preconditions; a stale pgid fails with ESRCH.
    unsafe {
        libc::killpg(pid as libc::pid_t, signal);
    }
}

/// Sends `signal` to the process `pid` only.
pub(crate) fn signal_process(pid: u32, signal: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}
