//! Child processes we supervise (cargo, nextest, test commands): each in its own process group
//! so we can signal it and everything it spawned at once, and (on Linux) killed if we die, so a
//! SIGKILLed orchestrator leaves no nextest behind.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Prepares `cmd` to run in a new process group that dies with us.
pub fn supervise(cmd: &mut Command) {
    cmd.process_group(0);
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl and getppid are async-signal-safe; nothing else runs between fork and
        // exec here.
        let parent = unsafe { libc::getpid() };
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
}

/// duct's hook form of [`supervise`].
pub fn supervise_duct(expr: duct::Expression) -> duct::Expression {
    expr.before_spawn(|cmd| {
        supervise(cmd);
        Ok(())
    })
}

/// Sends `signal` to the process group led by `pid`.
pub fn signal_group(pid: u32, signal: i32) {
    // SAFETY: killpg has no memory-safety preconditions; a stale pgid fails with ESRCH.
    unsafe {
        libc::killpg(pid as libc::pid_t, signal);
    }
}
