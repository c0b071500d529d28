//! Ctrl-C and SIGTERM as a value. Whoever owns the process's signals (cargo-orbtest's
//! `signals` module) raises them on an [`Interrupts`]; the supervisor is handed that value and
//! listens to it, so it never reads a global and tests can interrupt a child on cue.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Which interrupt arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// SIGINT (Ctrl-C).
    Int,
    /// SIGTERM.
    Term,
    /// SIGHUP (the terminal went away): handled like SIGTERM, and SIGTERM is what children get.
    Hup,
}

impl Interrupt {
    /// The signal number, as forwarded to a child.
    #[must_use]
    pub fn signal(self) -> i32 {
        match self {
            Interrupt::Int => libc::SIGINT,
            Interrupt::Term | Interrupt::Hup => libc::SIGTERM,
        }
    }

    /// `SIGINT` or `SIGTERM`, as reports show it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Interrupt::Int => "SIGINT",
            Interrupt::Term => "SIGTERM",
            Interrupt::Hup => "SIGHUP",
        }
    }

    /// The interrupt a signal number stands for.
    #[must_use]
    pub fn from_signal(signal: i32) -> Option<Self> {
        match signal {
            libc::SIGINT => Some(Interrupt::Int),
            libc::SIGTERM => Some(Interrupt::Term),
            libc::SIGHUP => Some(Interrupt::Hup),
            _ => None,
        }
    }

    /// Parses [`Interrupt::name`] back.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "SIGINT" => Some(Interrupt::Int),
            "SIGTERM" => Some(Interrupt::Term),
            "SIGHUP" => Some(Interrupt::Hup),
            _ => None,
        }
    }
}

type Listener = Box<dyn Fn(Interrupt, usize) + Send>;

#[derive(Default)]
struct Shared {
    last: Option<Interrupt>,
    count: usize,
    next_id: u64,
    listeners: Vec<(u64, Listener)>,
}

/// The interrupts a process has received, and who wants to hear of new ones. Cheap to clone;
/// clones share their state. [`Interrupts::none`] never fires.
#[derive(Clone, Default)]
pub struct Interrupts {
    shared: Option<Arc<Mutex<Shared>>>,
}

impl std::fmt::Debug for Interrupts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interrupts")
            .field("received", &self.received())
            .field("count", &self.count())
            .finish()
    }
}

impl Interrupts {
    /// A source that is never interrupted: children run as if no one could press Ctrl-C.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// A source that fires whenever [`Interrupts::raise`] is called.
    #[must_use]
    pub fn new() -> Self {
        Self {
            shared: Some(Arc::default()),
        }
    }

    fn state(&self) -> Option<MutexGuard<'_, Shared>> {
        // A listener that panicked leaves nothing half-updated worth refusing over.
        self.shared
            .as_ref()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Records `interrupt` and tells every listener. Not for signal handlers (it locks):
    /// call it from the thread that receives the signals.
    pub fn raise(&self, interrupt: Interrupt) {
        let Some(mut state) = self.state() else { return };
        state.last = Some(interrupt);
        state.count += 1;
        let count = state.count;
        for (_, listener) in &state.listeners {
            listener(interrupt, count);
        }
    }

    /// The most recent interrupt, if any.
    #[must_use]
    pub fn received(&self) -> Option<Interrupt> {
        self.state().and_then(|s| s.last)
    }

    /// How many interrupts arrived: a second one means "stop waiting, kill now".
    #[must_use]
    pub fn count(&self) -> usize {
        self.state().map_or(0, |s| s.count)
    }

    /// Calls `f(interrupt, count)` for every interrupt from now on, until the returned guard is
    /// dropped.
    #[must_use = "listening stops when the guard is dropped"]
    pub fn listen(&self, f: impl Fn(Interrupt, usize) + Send + 'static) -> Listening {
        let id = self.state().map(|mut state| {
            state.next_id += 1;
            let id = state.next_id;
            state.listeners.push((id, Box::new(f)));
            id
        });
        Listening {
            source: self.clone(),
            id,
        }
    }
}

/// Stops its listener when dropped.
pub struct Listening {
    source: Interrupts,
    id: Option<u64>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        if let (Some(id), Some(mut state)) = (self.id, self.source.state()) {
            state.listeners.retain(|(other, _)| *other != id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn listeners_hear_interrupts_until_they_stop_listening() {
        let source = Interrupts::new();
        let (tx, rx) = mpsc::channel();
        let guard = source.listen(move |i, n| tx.send((i, n)).unwrap_or(()));
        source.raise(Interrupt::Int);
        assert_eq!(rx.try_recv(), Ok((Interrupt::Int, 1)));
        drop(guard);
        source.raise(Interrupt::Term);
        assert!(rx.try_recv().is_err(), "a dropped guard hears nothing");
        assert_eq!((source.received(), source.count()), (Some(Interrupt::Term), 2));
    }

    #[test]
    fn none_never_fires() {
        let none = Interrupts::none();
        none.raise(Interrupt::Int);
        assert_eq!((none.received(), none.count()), (None, 0));
    }

    #[test]
    fn names_round_trip() {
        for i in [Interrupt::Int, Interrupt::Term, Interrupt::Hup] {
            assert_eq!(Interrupt::from_name(i.name()), Some(i));
        }
        for i in [Interrupt::Int, Interrupt::Term] {
            assert_eq!(Interrupt::from_signal(i.signal()), Some(i));
        }
        assert_eq!(Interrupt::from_signal(libc::SIGHUP), Some(Interrupt::Hup));
        assert_eq!(Interrupt::Hup.signal(), libc::SIGTERM, "children get SIGTERM");
    }
}
