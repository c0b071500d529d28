//! The supervisor: runs one child (through duct) and reacts to what happens to it.
//!
//! Threads report events on one channel: the child exited (a waiter blocked in duct's `wait`),
//! a line of output or its end (a reader on the output pipe), an interrupt (a listener on the
//! [`Interrupts`] the caller passed in). The supervisor sleeps until the next event or the next
//! timer (deadline, grace, a [`Watch`] look, the linger after exit) and acts:
//!
//! * deadline: SIGTERM to the child's process group, SIGKILL `grace` later ([`Stop`]);
//! * first interrupt: forwarded to the group (and SIGKILL after `interrupt_grace`, if set);
//!   a second interrupt: SIGKILL at once;
//! * a watch that finds the child's work done while it still runs: SIGKILL;
//! * the child exited but something it started holds the output open: SIGKILL after a linger;
//! * after a forced end, every process still carrying the child's [`Mark`] is killed.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::group::{prepare, signal_group, signal_process};
use crate::interrupts::{Interrupt, Interrupts};
use crate::invocation::{Invocation, StdinMode};
use crate::orphans::{Mark, kill_marked};

/// How long output may stay open after the child itself exited (a background process it left
/// behind holds the pipe) before that process group is killed.
const LINGER: Duration = Duration::from_secs(2);

/// What happens when the deadline passes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Stop {
    /// SIGKILL to the whole group at once.
    #[default]
    Kill,
    /// SIGTERM to the group, SIGKILL `grace` later if it is still there.
    Term { grace: Duration },
    /// Stop waiting and leave the child running (an opener that outlives us).
    Leave,
}

/// Looked at while a child runs: every `every`, `settled()` says whether the work the child
/// was asked for is already done (a client hanging after success). If it is and the child is
/// still running, the child is killed.
#[derive(Clone, Copy)]
pub struct Watch<'a> {
    pub every: Duration,
    pub settled: &'a dyn Fn() -> bool,
}

/// How a child is supervised. [`Supervision::default`]: its own process group, dies with us,
/// no deadline, no interrupts.
#[derive(Clone, Default)]
pub struct Supervision<'a> {
    deadline: Option<Instant>,
    stop: Stop,
    interrupts: Interrupts,
    interrupt_grace: Option<Duration>,
    mark: Option<Mark>,
    watch: Option<Watch<'a>>,
    in_our_group: bool,
    outlives_us: bool,
    on_spawn: Option<&'a dyn Fn(u32)>,
}

impl<'a> Supervision<'a> {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Ends the child `limit` from now (see [`Stop`]).
    #[must_use]
    pub fn timeout(self, limit: Duration) -> Self {
        self.deadline(Instant::now().checked_add(limit))
    }

    /// Ends the child at `deadline` (none: no limit).
    #[must_use]
    pub fn deadline(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = deadline;
        self
    }

    /// What the deadline does.
    #[must_use]
    pub fn stop(mut self, stop: Stop) -> Self {
        self.stop = stop;
        self
    }

    /// Forwards these interrupts to the child's group (a second one kills it).
    #[must_use]
    pub fn interrupts(mut self, interrupts: Interrupts) -> Self {
        self.interrupts = interrupts;
        self
    }

    /// After a forwarded interrupt, SIGKILL the group if it is still there `grace` later.
    #[must_use]
    pub fn interrupt_grace(mut self, grace: Duration) -> Self {
        self.interrupt_grace = Some(grace);
        self
    }

    /// Marks the child and everything it starts; what is left after a forced end is killed.
    #[must_use]
    pub fn mark(mut self, mark: Mark) -> Self {
        self.mark = Some(mark);
        self
    }

    #[must_use]
    pub fn watch(mut self, watch: Watch<'a>) -> Self {
        self.watch = Some(watch);
        self
    }

    /// Keeps the child in our process group, so an interactive child keeps the terminal.
    /// Timeouts and kills then reach the child only, not what it started.
    #[must_use]
    pub fn in_our_group(mut self) -> Self {
        self.in_our_group = true;
        self
    }

    /// The child is not killed when we die.
    #[must_use]
    pub fn outlives_us(mut self) -> Self {
        self.outlives_us = true;
        self
    }

    /// Told the child's pid once it started.
    #[must_use]
    pub fn on_spawn(mut self, f: &'a dyn Fn(u32)) -> Self {
        self.on_spawn = Some(f);
        self
    }
}

/// Where a stream goes when it is not captured or streamed.
#[derive(Debug)]
pub enum Sink {
    Null,
    Inherit,
    File(std::fs::File),
}

/// Receives each line of a streamed child's output.
pub(crate) type LineSink<'a> = dyn FnMut(&[u8]) + 'a;

/// What becomes of the child's output.
pub enum Output<'a> {
    /// Collected: [`ChildExit::stdout`] and [`ChildExit::stderr`].
    Capture,
    /// stdout and stderr through one pipe, handed over line by line (with the newline).
    Lines(&'a mut LineSink<'a>),
    /// Each stream to its own place.
    Redirect { stdout: Sink, stderr: Sink },
}

/// How a supervised child ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChildExit {
    /// `None` when the child died from a signal (including our own kill), or was left running.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// The deadline passed.
    pub timed_out: bool,
    /// A [`Watch`] found the child's work done while it still ran, and it was killed.
    pub settled: bool,
    /// An interrupt arrived while the child ran (it was forwarded).
    pub interrupted: Option<Interrupt>,
    /// Marked processes killed after the child's forced end.
    pub orphans: usize,
    /// With [`Output::Capture`].
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub duration: Duration,
}

impl ChildExit {
    /// Exit code 0, in time.
    #[must_use]
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }

    /// "exited with 1", "was killed by signal 9".
    #[must_use]
    pub fn describe(&self) -> String {
        match (self.code, self.signal) {
            (Some(c), _) => format!("exited with {c}"),
            (None, Some(s)) => format!("was killed by signal {s}"),
            (None, None) => "ended without an exit status".into(),
        }
    }
}

/// Why a child could not be supervised.
#[derive(Debug, thiserror::Error)]
pub enum SuperviseError {
    #[error("cannot start {program}: {source}")]
    Start {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("waiting for {program} failed: {source}")]
    Wait {
        program: String,
        #[source]
        source: std::io::Error,
    },
}

impl SuperviseError {
    /// The underlying I/O error.
    #[must_use]
    pub fn io(&self) -> &std::io::Error {
        match self {
            SuperviseError::Start { source, .. } | SuperviseError::Wait { source, .. } => source,
        }
    }
}

enum ChildEvent {
    Exited,
    Line(Vec<u8>),
    Eof,
    Interrupt(Interrupt, usize),
}

/// Runs `inv` under `supervision` until it ends (or is left running, see [`Stop::Leave`]).
pub fn run(inv: &Invocation, supervision: &Supervision<'_>, output: Output<'_>) -> Result<ChildExit, SuperviseError> {
    let program = inv.shown();
    let start_error = |source| SuperviseError::Start {
        program: program.clone(),
        source,
    };
    // As an `OsStr`, not a `Path`: duct would read a bare `cargo` as `./cargo`.
    let mut expr = duct::cmd(inv.program.as_os_str(), &inv.args).unchecked();
    for key in &inv.env_remove {
        expr = expr.env_remove(key);
    }
    for (key, value) in &inv.env {
        expr = expr.env(key, value);
    }
    if let Some(mark) = &supervision.mark {
        expr = expr.env(mark.var(), mark.value());
    }
    if let Some(dir) = &inv.dir {
        expr = expr.dir(dir);
    }
    if inv.stdin == StdinMode::Null {
        expr = expr.stdin_null();
    }
    let (on_line, pipe) = match output {
        Output::Capture => {
            expr = expr.stdout_capture().stderr_capture();
            (None, None)
        }
        Output::Lines(f) => {
            let (read, write) = std::io::pipe().map_err(start_error)?;
            expr = expr
                .stdout_file(write.try_clone().map_err(start_error)?)
                .stderr_file(write);
            (Some(f), Some(read))
        }
        Output::Redirect { stdout, stderr } => {
            expr = match stdout {
                Sink::Null => expr.stdout_null(),
                Sink::Inherit => expr,
                Sink::File(f) => expr.stdout_file(f),
            };
            expr = match stderr {
                Sink::Null => expr.stderr_null(),
                Sink::Inherit => expr,
                Sink::File(f) => expr.stderr_file(f),
            };
            (None, None)
        }
    };
    let (own_group, die_with_parent) = (!supervision.in_our_group, !supervision.outlives_us);
    expr = expr.before_spawn(move |cmd| {
        prepare(cmd, own_group, die_with_parent);
        Ok(())
    });

    let started = Instant::now();
    let handle = Arc::new(expr.start().map_err(start_error)?);
    // The expression holds our copy of the pipe's write end: reading never ends while it lives.
    drop(expr);
    let pid = handle.pids().first().copied().unwrap_or(0);
    if let Some(f) = supervision.on_spawn {
        f(pid);
    }

    let (tx, rx) = mpsc::channel();
    if let Some(read) = pipe {
        let tx = tx.clone();
        std::thread::spawn(move || forward_lines(read, &tx));
    }
    {
        let (tx, handle) = (tx.clone(), handle.clone());
        std::thread::spawn(move || {
            // Its result is read below with `try_wait`.
            let _ = handle.wait();
            let _ = tx.send(ChildEvent::Exited);
        });
    }
    let listening = {
        let tx = tx.clone();
        supervision.interrupts.listen(move |i, count| {
            let _ = tx.send(ChildEvent::Interrupt(i, count));
        })
    };
    drop(tx);

    let mut child = RunningChild {
        pid,
        own_group,
        handle: &handle,
        supervision,
        killed: false,
        exit: ChildExit::default(),
    };
    let streaming = on_line.is_some();
    let left_running = child.supervise(&rx, started, on_line, streaming);
    drop(listening);

    let mut exit = child.exit;
    let killed = child.killed;
    exit.duration = started.elapsed();
    if left_running {
        return Ok(exit);
    }
    let output = handle
        .try_wait()
        .map_err(|source| SuperviseError::Wait {
            program: program.clone(),
            source,
        })?
        .cloned();
    if let Some(output) = output {
        exit.code = output.status.code();
        exit.signal = output.status.signal();
        exit.stdout = output.stdout;
        exit.stderr = output.stderr;
    }
    if let Some(mark) = &supervision.mark
        && (killed || exit.signal.is_some())
    {
        // The child died hard: what it started in other process groups (nextest's tests)
        // would run on after it.
        exit.orphans = kill_marked(mark);
    }
    Ok(exit)
}

/// Runs `inv` with its output captured, killed (with its group) after `timeout`.
pub fn capture(inv: &Invocation, timeout: Option<Duration>) -> Result<ChildExit, SuperviseError> {
    let supervision = Supervision::new().deadline(timeout.and_then(|t| Instant::now().checked_add(t)));
    run(inv, &supervision, Output::Capture)
}

/// Sends each line read from `read` (its end too) as an event.
fn forward_lines(read: std::io::PipeReader, tx: &mpsc::Sender<ChildEvent>) {
    let mut lines = BufReader::new(read);
    loop {
        let mut buf = Vec::new();
        match lines.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if tx.send(ChildEvent::Line(buf)).is_err() {
                    return;
                }
            }
        }
    }
    let _ = tx.send(ChildEvent::Eof);
}

/// A running child and what has been done to it.
struct RunningChild<'h, 's, 'a> {
    pid: u32,
    own_group: bool,
    handle: &'h duct::Handle,
    supervision: &'s Supervision<'a>,
    killed: bool,
    exit: ChildExit,
}

/// When the supervisor next has something to do without an event.
#[derive(Default)]
struct Timers {
    deadline: Option<Instant>,
    kill: Option<Instant>,
    watch: Option<Instant>,
    /// After the child exited with its output still open (a background process holds it):
    /// kill its group, and later stop waiting for the output.
    linger_kill: Option<Instant>,
    linger_end: Option<Instant>,
}

impl Timers {
    fn next(&self) -> Option<Instant> {
        [self.deadline, self.kill, self.watch, self.linger_kill, self.linger_end]
            .into_iter()
            .flatten()
            .min()
    }
}

fn due(timer: Option<Instant>, now: Instant) -> bool {
    timer.is_some_and(|t| now >= t)
}

impl RunningChild<'_, '_, '_> {
    fn signal(&self, signal: i32) {
        if self.own_group {
            signal_group(self.pid, signal);
        } else {
            signal_process(self.pid, signal);
        }
    }

    fn kill(&mut self) {
        self.signal(libc::SIGKILL);
        self.killed = true;
    }

    /// Waits for the child to end, acting on events and timers. True when the child was
    /// left running ([`Stop::Leave`]).
    fn supervise(
        &mut self,
        rx: &mpsc::Receiver<ChildEvent>,
        started: Instant,
        mut on_line: Option<&mut LineSink<'_>>,
        streaming: bool,
    ) -> bool {
        let sup = self.supervision;
        let mut timers = Timers {
            deadline: sup.deadline,
            watch: sup.watch.and_then(|w| started.checked_add(w.every)),
            ..Timers::default()
        };
        let (mut exited, mut eof) = (false, !streaming);
        loop {
            if exited && eof {
                return false;
            }
            let now = Instant::now();
            if exited {
                if due(timers.linger_end, now) {
                    return false;
                }
                if due(timers.linger_kill, now) {
                    timers.linger_kill = None;
                    self.kill();
                }
            } else if self.on_timers(&mut timers, now) {
                return true;
            }
            let event = match timers.next() {
                Some(at) => match rx.recv_timeout(at.saturating_duration_since(now)) {
                    Ok(event) => event,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return false,
                },
                None => match rx.recv() {
                    Ok(event) => event,
                    Err(_) => return false,
                },
            };
            match event {
                ChildEvent::Line(bytes) => {
                    if let Some(f) = on_line.as_mut() {
                        f(&bytes);
                    }
                }
                ChildEvent::Eof => eof = true,
                ChildEvent::Exited => {
                    exited = true;
                    let now = Instant::now();
                    timers = Timers {
                        linger_kill: now.checked_add(LINGER),
                        linger_end: now.checked_add(LINGER * 2),
                        ..Timers::default()
                    };
                }
                ChildEvent::Interrupt(interrupt, count) => {
                    self.exit.interrupted = Some(interrupt);
                    if exited {
                        continue;
                    }
                    if count >= 2 {
                        self.kill();
                    } else {
                        self.signal(interrupt.signal());
                        if let Some(grace) = sup.interrupt_grace {
                            timers.kill = earliest(timers.kill, Instant::now().checked_add(grace));
                        }
                    }
                }
            }
        }
    }

    /// Acts on the timers that are due while the child runs; true to leave it running.
    fn on_timers(&mut self, timers: &mut Timers, now: Instant) -> bool {
        if due(timers.deadline, now) {
            timers.deadline = None;
            self.exit.timed_out = true;
            match self.supervision.stop {
                Stop::Kill => self.kill(),
                Stop::Term { grace } => {
                    self.signal(libc::SIGTERM);
                    timers.kill = earliest(timers.kill, now.checked_add(grace));
                }
                Stop::Leave => return true,
            }
        }
        if due(timers.kill, now) {
            timers.kill = None;
            self.kill();
        }
        if self.killed {
            // Nothing left to look at: the child is on its way out.
            timers.watch = None;
            return false;
        }
        if let (Some(watch), Some(at)) = (self.supervision.watch, timers.watch)
            && now >= at
        {
            timers.watch = now.checked_add(watch.every);
            let running = matches!(self.handle.try_wait(), Ok(None));
            if running && (watch.settled)() {
                self.exit.settled = true;
                timers.watch = None;
                self.kill();
            }
        }
        false
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
