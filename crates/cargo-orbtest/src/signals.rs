//! SIGINT/SIGTERM: recorded, never fatal by themselves, so the run can stop nextest, clean up
//! machines and still write its reports before exiting 130/143.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::exit_code;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    Int,
    Term,
}

impl Interrupt {
    pub fn signal(self) -> i32 {
        match self {
            Interrupt::Int => libc::SIGINT,
            Interrupt::Term => libc::SIGTERM,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Interrupt::Int => "SIGINT",
            Interrupt::Term => "SIGTERM",
        }
    }

    pub fn exit_code(self) -> i32 {
        match self {
            Interrupt::Int => exit_code::INTERRUPTED,
            Interrupt::Term => exit_code::TERMINATED,
        }
    }
}

static LAST: OnceLock<Arc<AtomicUsize>> = OnceLock::new();
static COUNT: OnceLock<Arc<AtomicUsize>> = OnceLock::new();

/// Starts recording SIGINT and SIGTERM for the rest of the process. Idempotent.
pub fn install() -> std::io::Result<()> {
    if LAST.get().is_some() {
        return Ok(());
    }
    let last = Arc::new(AtomicUsize::new(0));
    let count = Arc::new(AtomicUsize::new(0));
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let (l, c) = (last.clone(), count.clone());
        // SAFETY: the handler only performs atomic stores, which are async-signal-safe.
        unsafe {
            signal_hook::low_level::register(sig, move || {
                l.store(sig as usize, Ordering::SeqCst);
                c.fetch_add(1, Ordering::SeqCst);
            })?;
        }
    }
    let _ = LAST.set(last);
    let _ = COUNT.set(count);
    Ok(())
}

/// The most recent interrupt received, if any.
pub fn received() -> Option<Interrupt> {
    match LAST.get()?.load(Ordering::SeqCst) as i32 {
        libc::SIGINT => Some(Interrupt::Int),
        libc::SIGTERM => Some(Interrupt::Term),
        _ => None,
    }
}

/// How many interrupts arrived: a second Ctrl-C means "stop waiting, kill now".
pub fn count() -> usize {
    COUNT.get().map_or(0, |c| c.load(Ordering::SeqCst))
}
