//! Executing an [`Op`] with the [`Policy`]: the one retry/timeout implementation.
//!
//! * Each attempt gets its class's timeout, and it is logged.
//! * Only transient failures (download/network, daemon stopping) are retried, with backoff.
//! * A timed-out attempt is followed by a `status` probe: OrbStack down ends the call; slow
//!   means we look for what the killed attempt may still have done. The daemon outlives the
//!   client, so a create/clone/import whose client we killed usually completes anyway: `info`
//!   tells, and we wait for it to finish instead of creating again.
//! * An attempt killed by a signal is treated the same way: its effect is unknown, so we look
//!   for it, and repeat the call only if that is safe.
//! * `already exists` on a retry of our own timed-out (or killed) create counts as success once
//!   verified; on a first attempt it is someone else's machine and stays a failure.
//! * With `watch_hangs` (a run's tests), a create-class attempt is looked at while it runs: a
//!   client still running after `info` shows its new machine finished is hanging after
//!   success, and is stopped rather than waited for (it holds a create slot and its test).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::decision::{AttemptEnd, Look, Looked, Next, check_for, decide, is_single_delete};
pub use crate::decision::{AttemptOutcome, Outcome};
use crate::policy::Policy;
use crate::provider::Provider;
use orbctl::errors::{ErrorKind, classify};
use orbctl::op::{Op, OpClass};
use orbctl::output::{MachineInfo, parse_info};
use orbtest_process::{
    ChildExit as Captured, Interrupt, Interrupts, Invocation, Output, StdinMode, Supervision, Watch,
};

/// The result of one [`Client::execute`] call.
#[derive(Debug, Clone)]
pub struct OpResult {
    pub op: Op,
    pub outcome: Outcome,
    /// Raw output of the final attempt, byte for byte.
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Exit code of the final attempt; `None` if it was killed (timeout) or died by a signal.
    pub exit_code: Option<i32>,
    pub attempts: u32,
    pub retries: u32,
    pub recovered: bool,
    /// The per-attempt timeout this call used (`None`: unbounded).
    pub timeout: Option<Duration>,
    /// Wall time of the whole call, admission waits excluded.
    pub duration: Duration,
    /// Time spent waiting in the admission hook (not counted against any timeout).
    pub admission_wait: Duration,
    /// How long each attempt's orbctl child ran, in order.
    pub attempt_durations: Vec<Duration>,
}

impl OpResult {
    pub fn is_success(&self) -> bool {
        matches!(self.outcome, Outcome::Succeeded | Outcome::Recovered)
    }

    pub fn error_kind(&self) -> Option<ErrorKind> {
        match self.outcome {
            Outcome::Failed(k) => Some(k),
            _ => None,
        }
    }

    /// The exit code a pass-through caller should report: the final attempt's own, except that
    /// a recovered call succeeded (0) and a killed one failed (1).
    pub fn caller_exit_code(&self) -> i32 {
        match self.outcome {
            Outcome::Recovered => 0,
            Outcome::Succeeded => self.exit_code.unwrap_or(0),
            _ => self.exit_code.filter(|c| *c != 0).unwrap_or(1),
        }
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// `Ok(self)` when the call succeeded, else an error that says what failed.
    pub fn into_result(self) -> Result<OpResult, MachinesError> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(MachinesError::Failed(Box::new(self)))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MachinesError {
    #[error("{0}")]
    Process(#[from] orbtest_process::SuperviseError),
    #[error("orbctl: {0}")]
    NoOrbctl(#[source] which::Error),
    /// The settings of the run this process belongs to (`ORBTEST_RUN_DIR`) cannot be read.
    #[error("the run's settings: {0}")]
    Run(#[source] crate::files::ReadJsonError),
    /// An interrupt reached the orbctl child; the call stopped at once, without retries.
    #[error("`{op}` was interrupted ({})", .interrupt.name())]
    Interrupted { op: String, interrupt: Interrupt },
    #[error("admission for `{op}` failed: {source}")]
    Admission {
        op: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{}", describe_failure(.0))]
    Failed(Box<OpResult>),
    #[error("`{op}` does not name the machine it makes; give it a name (import needs -n)")]
    Unnamed { op: String },
    #[error("`{op}` printed unexpected output: {source}")]
    Output {
        op: String,
        #[source]
        source: orbctl::output::ParseError,
    },
    /// The run's broker could not be reached, or could not carry the call out.
    #[error("{0}")]
    Broker(String),
}

impl MachinesError {
    /// The failed call's result, when there was one.
    pub fn result(&self) -> Option<&OpResult> {
        match self {
            MachinesError::Failed(r) => Some(r),
            _ => None,
        }
    }
}

fn describe_failure(r: &OpResult) -> String {
    let tries = if r.attempts == 1 {
        "1 attempt".to_string()
    } else {
        format!("{} attempts", r.attempts)
    };
    let limit = r
        .timeout
        .map(|t| humantime::format_duration(t).to_string())
        .unwrap_or_else(|| "none".into());
    let class = r.op.class();
    match r.outcome {
        Outcome::TimedOut => format!(
            "`{}` timed out after {tries} (the {class} timeout is {limit}); OrbStack answered the status \
             probe, so it is slow rather than down: raise machines.timeouts.{class} or lower the load",
            r.op
        ),
        Outcome::OrbStackDown => format!(
            "`{}` timed out (the {class} timeout is {limit}) and `orbctl status` then reported OrbStack \
             stopped or unresponsive; start OrbStack (`orbctl start`) and try again",
            r.op
        ),
        Outcome::Failed(kind) => {
            let text = {
                let e = r.stderr_text();
                if e.trim().is_empty() { r.stdout_text() } else { e }
            };
            let first = crate::text::excerpt(text.lines().next().unwrap_or("").trim(), 1, 500);
            format!(
                "`{}` failed ({kind}) after {tries}, exit code {}: {first}",
                r.op,
                r.exit_code.map(|c| c.to_string()).unwrap_or_else(|| "none".into())
            )
        }
        Outcome::Succeeded | Outcome::Recovered => format!("`{}` succeeded", r.op),
    }
}

/// One attempt of one call, reported to the [`AttemptObserver`] when the attempt is settled.
#[derive(Debug, Clone)]
pub struct CallAttempt<'a> {
    pub op: &'a Op,
    pub class: OpClass,
    pub machine: Option<&'a str>,
    /// 1 for the first attempt.
    pub number: u32,
    pub timeout: Option<Duration>,
    /// How long the orbctl child ran.
    pub duration: Duration,
    /// Time waiting for a machine our killed attempt left behind (info polling).
    pub recovery_wait: Duration,
    pub admission_wait: Duration,
    pub outcome: AttemptOutcome,
    pub exit_code: Option<i32>,
}

/// Told about every attempt (a later journal records them).
pub trait AttemptObserver: Send + Sync {
    fn on_attempt(&self, attempt: &CallAttempt<'_>);
}

/// Held for the duration of one create-class attempt; dropping it releases the slot.
pub type Permit = Box<dyn Send>;

/// Gate around create-class attempts (cross-process create slots, pressure backpressure).
/// Time spent in `admit` does not count against the operation's timeout.
pub trait Admission: Send + Sync {
    fn admit(&self, op: &Op) -> Result<Permit, Box<dyn std::error::Error + Send + Sync>>;
}

/// Executes operations through a provider with a policy. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    provider: Arc<dyn Provider>,
    policy: Policy,
    observer: Option<Arc<dyn AttemptObserver>>,
    admission: Option<Arc<dyn Admission>>,
    /// Where calls run (a test's directory, for the relative paths in its calls).
    cwd: Option<std::path::PathBuf>,
    interrupts: Interrupts,
}

/// How long an orbctl child may go on after an interrupt was forwarded to it.
const INTERRUPT_GRACE: Duration = Duration::from_millis(500);

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("provider", &self.provider.name())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// What the `status` probe found.
enum Health {
    Up,
    Down,
}

/// Whether the machine a killed create-class attempt was making is there now.
enum Found {
    /// Finished as asked.
    Ready,
    /// Not there (never registered, or its creation failed and it was removed).
    Absent,
    /// Still being made when our wait ran out.
    Pending,
}

impl Client {
    pub fn new(provider: Arc<dyn Provider>) -> Self {
        Client {
            provider,
            policy: Policy::default(),
            observer: None,
            admission: None,
            cwd: None,
            interrupts: Interrupts::none(),
        }
    }

    /// Forwards these interrupts to the orbctl child of a call: it stops within
    /// [`INTERRUPT_GRACE`] and the call fails with [`MachinesError::Interrupted`], without
    /// retries or recovery (a provision step must not hold a Ctrl-C up).
    pub fn with_interrupts(mut self, interrupts: Interrupts) -> Self {
        self.interrupts = interrupts;
        self
    }

    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    pub fn with_observer(mut self, observer: Arc<dyn AttemptObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    pub fn with_admission(mut self, admission: Arc<dyn Admission>) -> Self {
        self.admission = Some(admission);
        self
    }

    /// Runs calls in `dir` (relative paths in them are the caller's).
    pub(crate) fn with_cwd(mut self, dir: Option<std::path::PathBuf>) -> Self {
        self.cwd = dir;
        self
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn provider(&self) -> &Arc<dyn Provider> {
        &self.provider
    }

    /// Runs `op` (argv built from it) under the policy.
    pub fn execute(&self, op: &Op) -> Result<OpResult, MachinesError> {
        self.execute_argv(op, &op.to_argv())
    }

    /// Runs `op` with the caller's own argv (the shim passes argv through unchanged).
    /// `argv` must be what `op` was parsed from.
    pub fn execute_argv(&self, op: &Op, argv: &[String]) -> Result<OpResult, MachinesError> {
        let class = op.class();
        let timeout = self.policy.timeout(class);
        let mut inv = self.provider.invocation(argv);
        inv.dir = self.cwd.clone();
        if class == OpClass::Run {
            inv.stdin = StdinMode::Inherit;
        }
        let started = Instant::now();
        // What our call creates is newer than this; anything older under that name is not ours.
        let started_ms = crate::clock::now_ms();
        let mut admission_total = Duration::ZERO;
        let mut killed_before = false;
        let mut number = 0;
        let mut durations = Vec::new();
        loop {
            number += 1;
            let (permit, admission_wait) = self.admit(op, class)?;
            admission_total += admission_wait;
            tracing::info!(
                provider = self.provider.name(),
                op = %op,
                class = %class,
                attempt = number,
                timeout = %timeout.map(|t| humantime::format_duration(t).to_string()).unwrap_or_else(|| "none".into()),
                "orbctl attempt"
            );
            let cap = self.run_attempt(op, &inv, timeout)?;
            durations.push(cap.duration);
            if let Some(interrupt) = cap.interrupted {
                return Err(MachinesError::Interrupted {
                    op: op.to_string(),
                    interrupt,
                });
            }
            let ended = ended(&cap);
            let (looked, recovery_wait) = self.look(op, number, &cap, check_for(op, ended, killed_before), started_ms);
            let verdict = decide(op, number, ended, killed_before, looked, &self.policy.retry);
            killed_before |= matches!(ended, AttemptEnd::TimedOut | AttemptEnd::Killed);
            if let Some(obs) = &self.observer {
                obs.on_attempt(&CallAttempt {
                    op,
                    class,
                    machine: op.machine(),
                    number,
                    timeout,
                    duration: cap.duration,
                    recovery_wait,
                    admission_wait,
                    outcome: verdict.attempt,
                    exit_code: cap.code,
                });
            }
            drop(permit);
            match verdict.next {
                Next::Finish(outcome) => {
                    let mut r = self.finish(op, outcome, cap, number, timeout, started, admission_total);
                    r.attempt_durations = durations;
                    return Ok(r);
                }
                Next::Retry { after } => {
                    tracing::info!(op = %op, attempt = number, delay = %humantime::format_duration(after), "retrying");
                    std::thread::sleep(after);
                }
            }
        }
    }

    /// Looks at what [`check_for`] asks: the status probe after a timeout, then whether what
    /// the killed attempt was doing happened anyway, and how long that took (the status
    /// probe not counted).
    fn look(&self, op: &Op, number: u32, cap: &Captured, check: Look, started_ms: u64) -> (Looked, Duration) {
        match check {
            Look::Nothing => return (Looked::Nothing, Duration::ZERO),
            Look::ProbeThenResult => {
                tracing::warn!(op = %op, attempt = number, "orbctl timed out; probing `orbctl status`");
                if let Health::Down = self.probe() {
                    return (Looked::Down, Duration::ZERO);
                }
            }
            Look::Result if cap.code.is_none() => {
                tracing::warn!(op = %op, attempt = number, signal = ?cap.signal, "orbctl was killed by a signal");
            }
            Look::Result => {}
        }
        let waited = Instant::now();
        let looked = match self.look_for_result(op, started_ms) {
            Some(Found::Ready) => Looked::Done,
            Some(Found::Absent | Found::Pending) | None => Looked::NotDone,
        };
        (looked, waited.elapsed())
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        op: &Op,
        outcome: Outcome,
        cap: Captured,
        attempts: u32,
        timeout: Option<Duration>,
        started: Instant,
        admission: Duration,
    ) -> OpResult {
        OpResult {
            op: op.clone(),
            outcome,
            stdout: cap.stdout,
            stderr: cap.stderr,
            exit_code: cap.code,
            attempts,
            retries: attempts - 1,
            recovered: outcome == Outcome::Recovered,
            timeout,
            duration: started.elapsed().saturating_sub(admission),
            admission_wait: admission,
            attempt_durations: Vec::new(),
        }
    }

    /// One attempt's child. With `watch_hangs`, a create-class attempt is looked at every
    /// `poll_interval`: once `info` shows the machine it makes finished, and created after the
    /// attempt began (so not someone else's), a client still running is hanging after success
    /// and is stopped; it no longer holds a create slot or its test.
    fn run_attempt(&self, op: &Op, inv: &Invocation, timeout: Option<Duration>) -> Result<Captured, MachinesError> {
        let name = op
            .created_machine()
            .filter(|_| self.policy.watch_hangs && op.class() == OpClass::Create);
        let since_ms = crate::clock::now_ms();
        let settled = || {
            name.is_some_and(|name| match self.info(name) {
                InfoAnswer::Found(info) => finished(op, &info.record.state) && created_since(&info.record.id, since_ms),
                _ => false,
            })
        };
        let mut supervision = Supervision::new()
            .deadline(timeout.and_then(|t| Instant::now().checked_add(t)))
            .interrupts(self.interrupts.clone())
            .interrupt_grace(INTERRUPT_GRACE);
        if name.is_some() {
            supervision = supervision.watch(Watch {
                every: self.policy.poll_interval,
                settled: &settled,
            });
        } else if timeout.is_none() {
            // Unbounded (`run`): it stays in our group, so an interactive command keeps the
            // terminal.
            supervision = supervision.in_our_group();
        }
        Ok(orbtest_process::run(inv, &supervision, Output::Capture)?)
    }

    fn admit(&self, op: &Op, class: OpClass) -> Result<(Option<Permit>, Duration), MachinesError> {
        match (&self.admission, class) {
            (Some(gate), OpClass::Create) => {
                let t = Instant::now();
                let permit = gate.admit(op).map_err(|source| MachinesError::Admission {
                    op: op.to_string(),
                    source,
                })?;
                Ok((Some(permit), t.elapsed()))
            }
            _ => Ok((None, Duration::ZERO)),
        }
    }

    /// Runs a helper query (status/info) once, without retries or observer reports.
    fn quick(&self, op: &Op, timeout: Duration) -> Option<Captured> {
        let inv = self.provider.invocation(&op.to_argv());
        match orbtest_process::capture(&inv, Some(timeout)) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(op = %op, error = %e, "helper query could not run");
                None
            }
        }
    }

    fn probe(&self) -> Health {
        match self.quick(&Op::Status, self.policy.probe_timeout) {
            // Running (0) or Starting (2): up, just slow.
            Some(c) if !c.timed_out && matches!(c.code, Some(0) | Some(2)) => Health::Up,
            Some(c) => {
                tracing::warn!(
                    exit_code = ?c.code,
                    timed_out = c.timed_out,
                    "`orbctl status` says OrbStack is down"
                );
                Health::Down
            }
            None => Health::Down,
        }
    }

    /// After our attempt was killed (or a retry said `already exists`/`not found`): did the
    /// operation we asked for happen? `None` when the op has no checkable result.
    fn look_for_result(&self, op: &Op, since_ms: u64) -> Option<Found> {
        match op {
            Op::Delete { .. } if is_single_delete(op) => {
                let name = op.machine()?;
                Some(match self.info(name) {
                    InfoAnswer::NotFound => Found::Ready,
                    _ => Found::Absent,
                })
            }
            _ if op.class() == OpClass::Create => {
                let name = op.created_machine()?;
                Some(self.wait_created(op, name, since_ms))
            }
            _ => None,
        }
    }

    /// Polls `info` until the machine is finished (running for create; settled for clone and
    /// import, which leave it stopped), vanishes, or a create timeout's worth of time passes.
    /// A machine of that name created before `since_ms` (its ULID tells) is someone else's and
    /// never counts as ours.
    fn wait_created(&self, op: &Op, name: &str, since_ms: u64) -> Found {
        let budget = self.policy.timeout(OpClass::Create).unwrap_or(Duration::MAX);
        let deadline = Instant::now() + budget;
        loop {
            match self.info(name) {
                InfoAnswer::Found(info) if !created_since(&info.record.id, since_ms) => {
                    tracing::warn!(
                        machine = name,
                        "a machine of that name existed before our call: not ours"
                    );
                    return Found::Absent;
                }
                InfoAnswer::Found(info) => {
                    let state = info.record.state.as_str();
                    if finished(op, state) {
                        tracing::info!(machine = name, state, "machine from the killed attempt is there");
                        return Found::Ready;
                    }
                }
                InfoAnswer::NotFound => return Found::Absent,
                InfoAnswer::Unknown => {}
            }
            if Instant::now() >= deadline {
                return Found::Pending;
            }
            std::thread::sleep(self.policy.poll_interval);
        }
    }

    fn info(&self, name: &str) -> InfoAnswer {
        let op = Op::Info {
            name: name.to_string(),
            format: Some("json".into()),
        };
        let Some(c) = self.quick(&op, self.policy.timeouts.query) else {
            return InfoAnswer::Unknown;
        };
        if c.timed_out {
            return InfoAnswer::Unknown;
        }
        if c.code == Some(0) {
            return match parse_info(&c.stdout) {
                Ok(info) => InfoAnswer::Found(Box::new(info)),
                Err(e) => {
                    tracing::warn!(machine = name, error = %e, "unreadable info output");
                    InfoAnswer::Unknown
                }
            };
        }
        if classify(&c.stderr, &c.stdout) == ErrorKind::NotFound {
            InfoAnswer::NotFound
        } else {
            InfoAnswer::Unknown
        }
    }

    /// `info NAME -f json`, parsed.
    pub fn machine_info(&self, name: &str) -> Result<MachineInfo, MachinesError> {
        let op = Op::Info {
            name: name.to_string(),
            format: Some("json".into()),
        };
        let r = self.execute(&op)?.into_result()?;
        parse_info(&r.stdout).map_err(|source| MachinesError::Output {
            op: op.to_string(),
            source,
        })
    }
}

enum InfoAnswer {
    Found(Box<MachineInfo>),
    NotFound,
    Unknown,
}

/// Whether the machine with this id (a ULID: it carries its creation time) was created at or
/// after `since_ms`, give or take the clock slack.
fn created_since(id: &str, since_ms: u64) -> bool {
    ulid::Ulid::from_string(id).is_ok_and(|u| u.timestamp_ms() + crate::clock::CLOCK_SLACK_MS >= since_ms)
}

/// How an attempt's child ended, as the decision sees it.
fn ended(cap: &Captured) -> AttemptEnd {
    if cap.settled {
        AttemptEnd::SettledWhileHanging
    } else if cap.timed_out {
        AttemptEnd::TimedOut
    } else {
        match cap.code {
            None => AttemptEnd::Killed,
            Some(0) => AttemptEnd::Succeeded,
            Some(_) => AttemptEnd::Failed(classify(&cap.stderr, &cap.stdout)),
        }
    }
}

/// Whether a machine in `state` is what create-class `op` makes: running for create; settled
/// for clone and import, which leave it stopped.
fn finished(op: &Op, state: &str) -> bool {
    match op {
        Op::Create { .. } => state == "running",
        _ => !matches!(state, "creating" | "provisioning"),
    }
}
