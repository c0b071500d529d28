//! The run's machine broker: every machine call of a run's tests goes through it, over a Unix
//! socket in the run directory. The shim in each test (and the Rust API) is a thin client; the
//! broker owns admission, the calls under way, the journal, and what blame needs.
//!
//! * A call whose caller goes away (killed by its own timeout, its pipe closed) goes on; the
//!   departure is journaled with how long the caller waited and whether the call was still
//!   queued (`caller-gone`).
//! * A retry of the same call by the same test (`NEXTEST_TEST_NAME`, `PYTEST_CURRENT_TEST`)
//!   joins the call under way, or takes its result if it succeeded after the caller left
//!   (`joined`). This is the `machine already exists` story, solved for an unchanged client.
//! * What cannot succeed is answered at once, in orbctl's words, rather than queued: a create
//!   of a name another test of the run is making (`collision`), or of a name that exists when
//!   the create would have to wait.
//! * Deletes never touch a protected machine or a baseline; `delete -a` deletes the rest
//!   (`refused`).
//!
//! It runs in the orchestrator's process from the first machine tier to postflight.

pub mod remote;
pub(crate) mod wire;

use std::io::BufReader;
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::admission::{CreateGate, GatePermit};
use crate::client::{Admission, Client, Permit};
use crate::journal::{Journal, JournalView, Record, now_ms};
use crate::policy::Policy;
use crate::provider::{PressureSource, Provider, ProviderPressure};
use crate::settings::RunSettings;
use crate::tracked::Tracked;
use orbctl::argv::{self, Exit};
use orbctl::checks;
use orbctl::op::{Flavor, Op, OpClass};
use wire::{Request, WireReply};

/// The socket's name in the run directory.
pub(crate) const SOCKET: &str = "broker.sock";

/// How often a waiting connection looks for its caller having gone.
const WATCH_EVERY: Duration = Duration::from_millis(20);

/// Says why a machine may not be deleted by a test (`protect`), if it may not.
pub(crate) type ProtectFn = dyn Fn(&str) -> Option<String> + Send + Sync;

/// What the orchestrator gives the broker beyond the run's settings.
#[derive(Default, Clone)]
pub struct Hooks {
    /// The host's pressure (the orchestrator's sampler); default: the provider's own figures.
    pub pressure: Option<Arc<dyn PressureSource>>,
    /// `protect` patterns; baselines are always protected.
    pub protected: Option<Arc<ProtectFn>>,
}

/// A running broker; dropping it stops it (calls under way finish first).
pub struct Broker {
    shared: Arc<Shared>,
    socket: PathBuf,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

struct Shared {
    settings: RunSettings,
    client: Client,
    gate: Arc<CreateGate>,
    journal: Journal,
    clone_from: Arc<Vec<crate::settings::BaselineRef>>,
    unnamed_imports: Arc<Mutex<()>>,
    protected: Option<Arc<ProtectFn>>,
    calls: Mutex<Calls>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    /// Creates a baseline could serve, by image and user: what automatic baselines are made
    /// from next time.
    demand: Mutex<std::collections::BTreeMap<(String, Option<String>), u32>>,
}

/// How often the run's tests created machines from an image (as a baseline could serve them:
/// no `--arch`, user data or password).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImageDemand {
    /// As the tests wrote it (`ubuntu:22.04`).
    pub image: String,
    pub user: Option<String>,
    pub creates: u32,
}

#[derive(Default)]
struct Calls {
    under_way: Vec<Arc<Call>>,
    /// Calls that succeeded after every caller had gone, kept for a retry to take.
    unclaimed: Vec<(Key, Instant, WireReply)>,
}

/// The same call by the same test: what a retry has in common with the call it repeats.
type Key = (String, Vec<String>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Queued,
    Running,
}

struct Call {
    key: Option<Key>,
    test: Option<String>,
    op: Op,
    state: Mutex<CallState>,
    done: Condvar,
}

struct CallState {
    phase: Phase,
    reply: Option<WireReply>,
    /// Connections waiting for this call.
    callers: usize,
}

impl Call {
    fn lock(&self) -> MutexGuard<'_, CallState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Broker {
    /// Starts serving on a socket in `run_dir` (or, when that path is too long for a Unix
    /// socket, in the temporary directory) and writes `settings` there with the socket's path.
    pub fn start(run_dir: &Path, mut settings: RunSettings, hooks: Hooks) -> std::io::Result<Broker> {
        let socket = socket_path(run_dir, &settings.run_id);
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket)?;
        // Only this user's processes may ask the run for machines (the run directory is
        // private already; the fallback in the temporary directory is not).
        std::fs::set_permissions(&socket, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        settings.broker = Some(socket.clone());
        settings.write(run_dir)?;
        let journal = Journal::open(&settings.journal, &settings.run_id, None)?;
        let provider: Arc<dyn Provider> = Arc::new(settings.provider());
        let pressure = hooks
            .pressure
            .unwrap_or_else(|| Arc::new(ProviderPressure(provider.clone())) as Arc<dyn PressureSource>);
        let gate = CreateGate::new(
            settings.max_concurrent_creates,
            settings.pressure.clone(),
            Some(pressure),
        );
        // Tests wait on these creates: a client hanging after success is stopped as soon as
        // its machine is seen finished.
        let policy = Policy {
            watch_hangs: true,
            ..settings.policy.clone()
        };
        let client = Client::new(provider).with_policy(policy);
        journal.append(
            &Record::Broker {
                ts_ms: now_ms(),
                pid: std::process::id(),
                cap: settings.max_concurrent_creates.map(|c| c as u64),
            },
            false,
        )?;
        let shared = Arc::new(Shared {
            clone_from: Arc::new(settings.clone_from.clone()),
            settings,
            client,
            gate,
            journal,
            unnamed_imports: Arc::new(Mutex::new(())),
            protected: hooks.protected,
            calls: Mutex::new(Calls::default()),
            workers: Mutex::new(Vec::new()),
            demand: Mutex::new(std::collections::BTreeMap::new()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (shared, stop) = (shared.clone(), stop.clone());
            std::thread::Builder::new()
                .name("orbtest-broker".into())
                .spawn(move || accept_loop(&listener, &shared, &stop))?
        };
        Ok(Broker {
            shared,
            socket,
            stop,
            accept: Some(accept),
        })
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The creates of the run's tests that a baseline could have served, by image and user.
    pub fn demand(&self) -> Vec<ImageDemand> {
        let demand = self.shared.demand.lock().unwrap_or_else(|e| e.into_inner());
        demand
            .iter()
            .map(|((image, user), creates)| ImageDemand {
                image: image.clone(),
                user: user.clone(),
                creates: *creates,
            })
            .collect()
    }

    /// The run's create gate (creates in flight, for the monitor).
    pub fn gate(&self) -> &Arc<CreateGate> {
        &self.shared.gate
    }

    /// An executor for the orchestrator's own calls on the run's behalf (worker machines):
    /// same policy, admission and journal as the tests'.
    pub fn tracked(&self, caller: Option<String>) -> Tracked {
        self.shared.tracked(caller, std::process::id(), None, None)
    }

    /// Stops accepting calls; creates still waiting for admission are not started. With
    /// `wait`, returns once the calls under way have ended (each is bounded by its timeout);
    /// without (an interrupted run), at once, leaving them to end by themselves.
    pub fn stop(mut self, wait: bool) {
        self.shutdown(wait);
    }

    fn shutdown(&mut self, wait: bool) {
        self.stop.store(true, Ordering::SeqCst);
        self.shared.gate.close();
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        let workers = std::mem::take(&mut *self.shared.workers.lock().unwrap_or_else(|e| e.into_inner()));
        if wait {
            for w in workers {
                let _ = w.join();
            }
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if self.accept.is_some() {
            self.shutdown(true);
        }
    }
}

/// `run_dir/broker.sock`, unless that is longer than a socket path may be (104 bytes on
/// macOS); then one named after the run in the temporary directory.
fn socket_path(run_dir: &Path, run_id: &str) -> PathBuf {
    let preferred = run_dir.join(SOCKET);
    if preferred.as_os_str().len() < 100 {
        return preferred;
    }
    let safe: String = run_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    std::env::temp_dir().join(format!("orbtest-{safe}-{}.sock", std::process::id()))
}

/// Accepts calls until `stop`. It looks at `stop` at least every 100 ms, so stopping needs
/// nothing from the socket's path (which may be gone with its directory).
fn accept_loop(listener: &UnixListener, shared: &Arc<Shared>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        let mut fd = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd we own, for the length we pass.
        let ready = unsafe { libc::poll(&mut fd, 1, 100) };
        if ready <= 0 {
            continue;
        }
        let Ok((stream, _)) = listener.accept() else { continue };
        let shared = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("orbtest-broker-call".into())
            .spawn(move || shared.serve(stream));
        if let Err(e) = spawned {
            tracing::warn!("broker: cannot start a thread for a call: {e}");
        }
    }
}

/// The gate, telling the call when it is admitted (its phase goes from queued to running).
struct PhaseAdmission {
    gate: Arc<CreateGate>,
    call: Arc<Call>,
}

impl Admission for PhaseAdmission {
    fn admit(&self, op: &Op) -> Result<Permit, Box<dyn std::error::Error + Send + Sync>> {
        let permit: GatePermit = self.gate.admit(op)?;
        self.call.lock().phase = Phase::Running;
        Ok(Box::new(permit))
    }
}

/// What a new call comes to before it runs.
enum Begun {
    Answer(WireReply),
    /// Wait for this call; `joined` when it is the same call of the same test begun earlier.
    Wait {
        call: Arc<Call>,
        joined: bool,
    },
}

impl Shared {
    fn calls(&self) -> MutexGuard<'_, Calls> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tracked(&self, test: Option<String>, pid: u32, cwd: Option<PathBuf>, call: Option<&Arc<Call>>) -> Tracked {
        let journal = self.journal.for_caller(test, pid);
        let admission: Arc<dyn Admission> = match call {
            Some(call) => Arc::new(PhaseAdmission {
                gate: self.gate.clone(),
                call: call.clone(),
            }),
            None => Arc::new(crate::admission::GateAdmission(self.gate.clone())),
        };
        let client = self
            .client
            .clone()
            .with_observer(Arc::new(journal.clone()))
            .with_admission(admission)
            .with_cwd(cwd);
        Tracked::new(client, journal, self.clone_from.clone(), self.unnamed_imports.clone())
    }

    fn serve(self: Arc<Self>, stream: UnixStream) {
        let request = match Request::read_from(&mut BufReader::new(&stream)) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("broker: unreadable request: {e}");
                return;
            }
        };
        match request {
            Request::Record(record) => {
                if let Err(e) = self.journal.append(&Record::Op(record), false) {
                    tracing::warn!("broker: cannot journal a streamed call: {e}");
                }
            }
            Request::Call { argv, test, pid, cwd } => {
                let arrived = Instant::now();
                let journal = self.journal.for_caller(test.clone(), pid);
                let reply = match self.begin(&argv, test, pid, cwd, &journal) {
                    Begun::Answer(reply) => Some(reply),
                    Begun::Wait { call, joined } => self.wait(&call, joined, &stream, arrived, &journal),
                };
                if let Some(reply) = reply {
                    let _ = reply.write_to(&mut &stream);
                }
            }
        }
    }

    /// Decides what a new call comes to: an answer at once, or a call to wait for (a new one,
    /// or the same call of the same test already under way).
    fn begin(
        self: &Arc<Self>,
        argv: &[String],
        test: Option<String>,
        pid: u32,
        cwd: Option<PathBuf>,
        journal: &Journal,
    ) -> Begun {
        let op = match argv::parse(Flavor::Orbctl, argv) {
            Ok(op) => op,
            Err(exit) => return Begun::Answer(answer(&exit)),
        };
        // Retries worth joining change machines; queries are cheap to ask again.
        let key = test
            .clone()
            .filter(|_| matches!(op.class(), OpClass::Create | OpClass::Lifecycle))
            .map(|t| (t, argv.to_vec()));
        if let Some(begun) = self.join(&key, &op, journal) {
            return begun;
        }
        self.count_demand(&op);
        // A `delete -a` becomes a delete of the machines it may delete, by name.
        let (op, argv) = match self.guard_delete(&op, journal) {
            Ok(None) => (op, argv.to_vec()),
            Ok(Some(named)) => {
                let argv = named.to_argv();
                (named, argv)
            }
            Err(reply) => return Begun::Answer(*reply),
        };
        let call = Arc::new(Call {
            key,
            test: test.clone(),
            op: op.clone(),
            state: Mutex::new(CallState {
                phase: if op.class() == OpClass::Create {
                    Phase::Queued
                } else {
                    Phase::Running
                },
                reply: None,
                callers: 1,
            }),
            done: Condvar::new(),
        });
        {
            // Looked at and registered at once, so of two tests making one name at the same
            // moment exactly one goes ahead.
            let mut calls = self.calls();
            if let Some(same) = calls.under_way.iter().find(|c| c.key.is_some() && c.key == call.key) {
                same.lock().callers += 1;
                return Begun::Wait {
                    call: same.clone(),
                    joined: true,
                };
            }
            if let Some(reply) = self.collision(&calls, &op, test.as_deref(), journal) {
                return Begun::Answer(reply);
            }
            calls.under_way.push(call.clone());
        }
        let tracked = self.tracked(test, pid, cwd, Some(&call));
        let (shared, worker_call) = (self.clone(), call.clone());
        let worker = std::thread::Builder::new()
            .name("orbtest-broker-op".into())
            .spawn(move || shared.carry_out(&worker_call, &tracked, &argv));
        match worker {
            Ok(handle) => {
                let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
                workers.retain(|w| !w.is_finished());
                workers.push(handle);
                Begun::Wait { call, joined: false }
            }
            Err(e) => {
                self.calls().under_way.retain(|c| !Arc::ptr_eq(c, &call));
                Begun::Answer(WireReply::error(format!(
                    "the broker cannot start a thread for the call: {e}"
                )))
            }
        }
    }

    /// Counts a create a baseline could serve.
    fn count_demand(&self, op: &Op) {
        if let Op::Create {
            image,
            arch: None,
            user,
            user_data: None,
            set_password: false,
            ..
        } = op
            && orbctl::images::canonical(image).is_some()
        {
            let mut demand = self.demand.lock().unwrap_or_else(|e| e.into_inner());
            *demand.entry((image.clone(), user.clone())).or_default() += 1;
        }
    }

    /// The same call of the same test under way (join it), or finished after its callers had
    /// gone (take its result).
    fn join(&self, key: &Option<Key>, op: &Op, journal: &Journal) -> Option<Begun> {
        let key = key.as_ref()?;
        let mut calls = self.calls();
        let keep_for = self.settings.policy.timeouts.create.max(Duration::from_secs(60));
        calls.unclaimed.retain(|(_, at, _)| at.elapsed() < keep_for);
        if let Some(same) = calls.under_way.iter().find(|c| c.key.as_ref() == Some(key)) {
            same.lock().callers += 1;
            return Some(Begun::Wait {
                call: same.clone(),
                joined: true,
            });
        }
        let at = calls.unclaimed.iter().position(|(k, _, _)| k == key)?;
        let (_, _, reply) = calls.unclaimed.remove(at);
        drop(calls);
        self.joined(journal, op, &reply);
        Some(Begun::Answer(reply))
    }

    fn joined(&self, journal: &Journal, op: &Op, reply: &WireReply) {
        self.note(
            journal,
            Record::Joined {
                ts_ms: now_ms(),
                pid: journal.pid(),
                test: journal.test().map(str::to_string),
                op: op.verb().to_string(),
                machine: op.machine().map(str::to_string),
                outcome: outcome_of(reply).to_string(),
            },
        );
    }

    /// Deletes spare protected machines and baselines: a named one is refused as orbctl
    /// refuses a machine it will not delete (nothing deleted, exit 1); `delete -a` becomes a
    /// delete of every other machine.
    fn guard_delete(&self, op: &Op, journal: &Journal) -> Result<Option<Op>, Box<WireReply>> {
        let Op::Delete { names, force, all } = op else {
            return Ok(None);
        };
        let why = |name: &str| -> Option<String> {
            if self.settings.baselines.iter().any(|b| b == name) {
                return Some("it is a baseline of cargo orbtest".into());
            }
            self.protected.as_ref().and_then(|p| p(name))
        };
        let refuse = |name: &str, reason: String| {
            self.note(
                journal,
                Record::Refused {
                    ts_ms: now_ms(),
                    pid: journal.pid(),
                    test: journal.test().map(str::to_string),
                    op: "delete".into(),
                    machine: name.to_string(),
                    reason: reason.clone(),
                },
            );
        };
        if !*all {
            for name in names {
                if let Some(reason) = why(name) {
                    refuse(name, reason.clone());
                    return Err(Box::new(WireReply::answer(
                        1,
                        Vec::new(),
                        checks::daemon_error(&format!("cannot delete '{name}': {reason}")),
                    )));
                }
            }
            return Ok(None);
        }
        let listing = Op::List {
            running: false,
            quiet: true,
            format: None,
        };
        let listed = match self.client.execute(&listing) {
            Ok(r) if r.is_success() => r.stdout_text(),
            // orbctl's own `delete -a` would say what is wrong.
            _ => return Ok(None),
        };
        let mut keep = Vec::new();
        let mut rest = Vec::new();
        for name in listed.lines().map(str::trim).filter(|n| !n.is_empty()) {
            match why(name) {
                Some(reason) => keep.push((name.to_string(), reason)),
                None => rest.push(name.to_string()),
            }
        }
        for (name, reason) in keep {
            refuse(&name, reason);
        }
        if rest.is_empty() {
            // What `delete -a` says when it has deleted everything it may: nothing.
            return Err(Box::new(WireReply::answer(0, Vec::new(), Vec::new())));
        }
        Ok(Some(Op::Delete {
            names: rest,
            force: *force,
            all: false,
        }))
    }

    /// A create-class call for a name another test's call under way is making: orbctl would say
    /// the name is taken, so that is the answer, at once; the collision is journaled.
    fn collision(&self, calls: &Calls, op: &Op, test: Option<&str>, journal: &Journal) -> Option<WireReply> {
        if op.class() != OpClass::Create {
            return None;
        }
        let name = op.created_machine()?;
        let other = calls
            .under_way
            .iter()
            .find(|c| c.op.created_machine() == Some(name) && c.test.as_deref() != test)?;
        self.collided(journal, name, other.test.clone());
        checks::name_taken_answer(op).map(|taken| answer(&taken))
    }

    fn collided(&self, journal: &Journal, machine: &str, other: Option<String>) {
        self.note(
            journal,
            Record::Collision {
                ts_ms: now_ms(),
                pid: journal.pid(),
                test: journal.test().map(str::to_string),
                machine: machine.to_string(),
                other,
            },
        );
    }

    /// A create-class call that would have to wait for admission for a name that exists: it
    /// cannot succeed, so it gets orbctl's answer at once instead of a place in the queue. A
    /// name another test of the run made is a collision worth showing.
    fn taken_while_queued(&self, op: &Op, journal: &Journal) -> Option<WireReply> {
        if op.class() != OpClass::Create {
            return None;
        }
        let name = op.created_machine()?;
        let taken = checks::name_taken_answer(op)?;
        if self.gate.would_admit_now() || !self.exists(name) {
            return None;
        }
        let view = JournalView::read(self.journal.path()).unwrap_or_default();
        if let Some(owner) = view.owned.get(name)
            && owner.test.as_deref() != journal.test()
        {
            self.collided(journal, name, owner.test.clone());
        }
        Some(answer(&taken))
    }

    fn exists(&self, name: &str) -> bool {
        let op = Op::Info {
            name: name.to_string(),
            format: Some("json".into()),
        };
        matches!(self.client.execute(&op), Ok(r) if r.is_success())
    }

    fn note(&self, journal: &Journal, record: Record) {
        if let Err(e) = journal.append(&record, false) {
            tracing::warn!("broker: cannot journal: {e}");
        }
    }

    /// Runs the call to its end, whoever is still waiting for it.
    fn carry_out(&self, call: &Arc<Call>, tracked: &Tracked, argv: &[String]) {
        let reply = match self.taken_while_queued(&call.op, tracked.journal()) {
            Some(answer) => answer,
            None => match tracked.execute(&call.op, argv) {
                Ok(result) => WireReply::of(&result),
                Err(e) => WireReply::error(e.to_string()),
            },
        };
        let succeeded = reply.head.error.is_none() && reply.head.code == 0;
        let mut calls = self.calls();
        calls.under_way.retain(|c| !Arc::ptr_eq(c, call));
        let mut st = call.lock();
        if st.callers == 0
            && succeeded
            && let Some(key) = &call.key
        {
            calls.unclaimed.push((key.clone(), Instant::now(), reply.clone()));
        }
        st.reply = Some(reply);
        drop(st);
        drop(calls);
        call.done.notify_all();
    }

    /// Waits for `call`'s reply while watching the caller; `None` when the caller went away
    /// first (journaled, with how long it had waited and whether the call was still queued).
    fn wait(
        &self,
        call: &Arc<Call>,
        joined: bool,
        stream: &UnixStream,
        since: Instant,
        journal: &Journal,
    ) -> Option<WireReply> {
        let mut st = call.lock();
        loop {
            if let Some(reply) = &st.reply {
                let reply = reply.clone();
                drop(st);
                if joined {
                    self.joined(journal, &call.op, &reply);
                }
                return Some(reply);
            }
            if gone(stream) {
                st.callers = st.callers.saturating_sub(1);
                let phase = st.phase;
                drop(st);
                self.note(
                    journal,
                    Record::CallerGone {
                        ts_ms: now_ms(),
                        pid: journal.pid(),
                        test: journal.test().map(str::to_string),
                        op: call.op.verb().to_string(),
                        machine: call.op.machine().map(str::to_string),
                        phase: match phase {
                            Phase::Queued => "queued",
                            Phase::Running => "running",
                        }
                        .into(),
                        waited_ms: since.elapsed().as_millis() as u64,
                    },
                );
                return None;
            }
            st = call
                .done
                .wait_timeout(st, WATCH_EVERY)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}

/// Whether the peer closed its end (it sends nothing after its request, so readable means
/// end of file).
fn gone(stream: &UnixStream) -> bool {
    let mut byte = [0u8; 1];
    // SAFETY: recv into a one-byte buffer we own; MSG_PEEK leaves the data, MSG_DONTWAIT never
    // blocks.
    let n = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            byte.as_mut_ptr().cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n == 0 {
        return true;
    }
    n < 0 && {
        let e = std::io::Error::last_os_error();
        !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
        )
    }
}

fn answer(exit: &Exit) -> WireReply {
    WireReply::answer(exit.code, exit.stdout.as_bytes(), exit.stderr.as_bytes())
}

fn outcome_of(reply: &WireReply) -> &str {
    match (&reply.head.summary, &reply.head.error) {
        (Some(s), _) => s.outcome.as_str(),
        (None, Some(_)) => "failed",
        (None, None) if reply.head.code == 0 => "succeeded",
        _ => "failed",
    }
}
