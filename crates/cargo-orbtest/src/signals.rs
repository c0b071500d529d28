//! SIGINT/SIGTERM/SIGHUP: recorded, never fatal by themselves, so the run can stop its
//! children, clean up machines and still write its reports before exiting 130/143/129. A
//! hangup (the terminal closed, an SSH session dropped) is handled like SIGTERM.
//!
//! The process's signals become one [`Interrupts`] value, handed to whatever supervises a child
//! (tiers, preflight's machine calls) so it can forward them; code that only needs to know
//! whether the run was interrupted asks the same value.

use std::sync::{Mutex, OnceLock, PoisonError};

use crate::exit_code;
pub(crate) use orbtest_process::{Interrupt, Interrupts};

static INTERRUPTS: OnceLock<Interrupts> = OnceLock::new();

/// Starts recording SIGINT and SIGTERM for the rest of the process (idempotent), and returns
/// the value that hears them.
pub(crate) fn install() -> std::io::Result<Interrupts> {
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(interrupts) = INTERRUPTS.get() {
        return Ok(interrupts.clone());
    }
    let mut signals = signal_hook::iterator::Signals::new([libc::SIGINT, libc::SIGTERM, libc::SIGHUP])?;
    let interrupts = INTERRUPTS.get_or_init(Interrupts::new).clone();
    let raised = interrupts.clone();
    std::thread::Builder::new()
        .name("orbtest-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if let Some(interrupt) = Interrupt::from_signal(signal) {
                    raised.raise(interrupt);
                }
            }
        })?;
    Ok(interrupts)
}

/// The process's interrupts once [`install`]ed; never interrupted before that.
pub(crate) fn current() -> Interrupts {
    INTERRUPTS.get().cloned().unwrap_or_default()
}

/// The most recent interrupt received, if any.
pub(crate) fn received() -> Option<Interrupt> {
    current().received()
}

/// The exit code of a run that ended because of `interrupt`.
pub(crate) fn exit_code(interrupt: Interrupt) -> i32 {
    match interrupt {
        Interrupt::Int => exit_code::INTERRUPTED,
        Interrupt::Term => exit_code::TERMINATED,
        Interrupt::Hup => exit_code::HANGUP,
    }
}
