//! The client's policy against orbsim with scenario faults.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orbtest_machines::{
    Admission, AttemptObserver, AttemptOutcome, CallAttempt, ErrorKind, Op, OpClass, Outcome, Permit, Policy, Retry,
};

use crate::support::sim::Sim;

fn create(image: &str, name: &str) -> Op {
    Op::Create {
        image: image.into(),
        name: Some(name.into()),
        arch: None,
        user: None,
        user_data: None,
        set_password: false,
    }
}

/// Tiny real-time limits for a time-scaled orbsim.
fn fast_policy(create: u64) -> Policy {
    let mut p = Policy::default();
    p.timeouts.create = Duration::from_millis(create);
    p.timeouts.lifecycle = Duration::from_secs(10);
    p.timeouts.query = Duration::from_secs(10);
    p.retry = Retry {
        delay: Duration::from_millis(1),
        ..Retry::default()
    };
    p.poll_interval = Duration::from_millis(5);
    p
}

/// (class, verb, machine, attempt number, timeout, outcome)
type Entry = (OpClass, String, Option<String>, u32, Option<Duration>, AttemptOutcome);

#[derive(Default)]
struct Log(Mutex<Vec<Entry>>);

impl AttemptObserver for Log {
    fn on_attempt(&self, a: &CallAttempt<'_>) {
        self.0.lock().unwrap().push((
            a.class,
            a.op.verb().to_string(),
            a.machine.map(str::to_string),
            a.number,
            a.timeout,
            a.outcome,
        ));
    }
}

#[test]
fn two_hundred_creates_with_five_percent_hangs_all_succeed_without_duplicates() {
    // A create takes 1 simulated second (1 ms); a hang keeps the client 2000 s (2 s) after
    // success, far beyond the 300 ms create timeout.
    let sim = Sim::with_scenario(
        "seed = 3\ntime_scale = 0.001\n[latency]\ncreate = \"1s\"\n\
         [faults.hang]\nprobability = 0.05\nmin = \"2000s\"\nmax = \"2000s\"\n",
    );
    let client = sim.client(fast_policy(300));
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let client = client.clone();
                scope.spawn(move || {
                    (0..50)
                        .map(|i| client.execute(&create("ubuntu:22.04", &format!("t{t}-{i}"))).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.len(), 200);
    for r in &results {
        assert!(r.is_success(), "{:?}: {}", r.op, r.stderr_text());
    }
    let recovered = results.iter().filter(|r| r.recovered).count() as u64;
    let s = sim.stats();
    assert!(s.hangs_injected > 0, "the scenario should inject hangs: {s:?}");
    // Every hang was recovered by checking, not by creating again.
    assert!(
        recovered >= s.hangs_injected,
        "recovered {recovered}, hangs {}",
        s.hangs_injected
    );
    assert_eq!(s.creates_started, 200, "no create was issued twice");
    let names: BTreeSet<String> = sim.names().into_iter().collect();
    assert_eq!(names.len(), 200);
}

#[test]
fn transient_download_errors_are_retried() {
    let sim = Sim::with_scenario("[faults.transient]\nrate = 1.0\nlimit = 2\n");
    let log = Arc::new(Log::default());
    let client = sim.client(fast_policy(10_000)).with_observer(log.clone());
    let r = client.execute(&create("ubuntu", "web")).unwrap();
    assert_eq!(r.outcome, Outcome::Succeeded);
    assert_eq!((r.attempts, r.retries), (3, 2));
    assert_eq!(r.attempt_durations.len(), 3);
    let outcomes: Vec<AttemptOutcome> = log.0.lock().unwrap().iter().map(|e| e.5).collect();
    assert_eq!(
        outcomes,
        [
            AttemptOutcome::Failed(ErrorKind::Transient),
            AttemptOutcome::Failed(ErrorKind::Transient),
            AttemptOutcome::Succeeded
        ]
    );
    assert_eq!(sim.names(), ["web"]);
}

#[test]
fn transient_errors_give_up_after_the_configured_attempts() {
    let sim = Sim::with_scenario("[faults.transient]\nrate = 1.0\n");
    let mut p = fast_policy(10_000);
    p.retry.attempts = 2;
    let r = sim.client(p).execute(&create("ubuntu", "web")).unwrap();
    assert_eq!(r.outcome, Outcome::Failed(ErrorKind::Transient));
    assert_eq!(r.attempts, 2);
    assert_eq!(
        r.stderr_text(),
        "[-32098] create 'web': make rootfs: download rootfs: stream to file: unexpected EOF\n"
    );
}

#[test]
fn deterministic_errors_are_not_retried() {
    let sim = Sim::new();
    let client = sim.client(fast_policy(10_000));
    for (op, kind) in [
        (create("ubuntu", "a_b"), ErrorKind::InvalidInput),
        (create("ubuntu", "docker"), ErrorKind::InvalidInput),
        (create("nope", "web"), ErrorKind::InvalidInput),
        (
            Op::Info {
                name: "ghost".into(),
                format: Some("json".into()),
            },
            ErrorKind::NotFound,
        ),
        (
            Op::Start {
                names: vec!["ghost".into()],
                all: false,
            },
            ErrorKind::NotFound,
        ),
    ] {
        let r = client.execute(&op).unwrap();
        assert_eq!(r.outcome, Outcome::Failed(kind), "{op}");
        assert_eq!(r.attempts, 1, "{op}");
    }
    assert_eq!(sim.stats().creates_started, 0);
}

#[test]
fn each_class_gets_its_configured_timeout() {
    let sim = Sim::new();
    let mut p = Policy::default();
    p.timeouts.create = Duration::from_secs(7);
    p.timeouts.lifecycle = Duration::from_secs(5);
    p.timeouts.query = Duration::from_secs(3);
    let log = Arc::new(Log::default());
    let client = sim.client(p).with_observer(log.clone());
    let ops = [
        create("ubuntu", "web"),
        Op::Clone {
            src: "web".into(),
            dst: "copy".into(),
        },
        Op::Start {
            names: vec!["copy".into()],
            all: false,
        },
        Op::List {
            running: false,
            quiet: true,
            format: None,
        },
        Op::Info {
            name: "web".into(),
            format: None,
        },
        Op::Run {
            machine: Some("web".into()),
            user: None,
            workdir: None,
            shell: false,
            path: false,
            command: vec!["true".into()],
        },
        Op::Delete {
            names: vec!["copy".into()],
            force: true,
            all: false,
        },
    ];
    for op in &ops {
        let r = client.execute(op).unwrap();
        assert!(r.is_success(), "{op}: {}", r.stderr_text());
    }
    let seen: Vec<(String, Option<Duration>)> = log.0.lock().unwrap().iter().map(|e| (e.1.clone(), e.4)).collect();
    let s = |n| Some(Duration::from_secs(n));
    assert_eq!(
        seen,
        [
            ("create".to_string(), s(7)),
            ("clone".to_string(), s(7)),
            ("start".to_string(), s(5)),
            ("list".to_string(), s(3)),
            ("info".to_string(), s(3)),
            ("run".to_string(), None),
            ("delete".to_string(), s(5)),
        ]
    );
}

#[test]
fn a_lifecycle_op_slower_than_its_timeout_times_out() {
    // start takes 100 simulated seconds = 10 s real; the lifecycle limit is 200 ms, the create
    // limit (which must not apply) is generous.
    let sim = Sim::with_scenario("time_scale = 0.1\n[latency]\nstart = \"100s\"\n");
    sim.orbctl(&["create", "ubuntu", "web"]).ok();
    sim.orbctl(&["stop", "web"]).ok();
    let mut p = fast_policy(60_000);
    p.timeouts.lifecycle = Duration::from_millis(200);
    p.retry.attempts = 1;
    let r = sim.client(p).execute(&Op::Start {
        names: vec!["web".into()],
        all: false,
    });
    let r = r.unwrap();
    assert_eq!(r.outcome, Outcome::TimedOut);
    assert_eq!(r.timeout, Some(Duration::from_millis(200)));
}

#[test]
fn a_create_killed_by_its_timeout_is_recovered_not_repeated() {
    // The create takes 1500 simulated seconds = 1.5 s; the limit is 1 s. The daemon keeps
    // going after the kill, and the client waits for the machine instead of creating again.
    let sim = Sim::with_scenario("time_scale = 0.001\n[latency]\ncreate = \"1500s\"\n");
    let log = Arc::new(Log::default());
    let client = sim.client(fast_policy(1000)).with_observer(log.clone());
    let r = client.execute(&create("ubuntu:22.04", "slow")).unwrap();
    assert_eq!(r.outcome, Outcome::Recovered);
    assert_eq!(r.attempts, 1);
    assert_eq!(r.timeout, Some(Duration::from_millis(1000)));
    let s = sim.stats();
    assert_eq!((s.creates_started, s.creates_finished), (1, 1));
    let entry = log.0.lock().unwrap()[0].clone();
    assert_eq!(entry.2.as_deref(), Some("slow"));
    assert_eq!(entry.5, AttemptOutcome::Recovered);

    // Creating the same name again is someone else's machine as far as this call knows.
    let again = client.execute(&create("ubuntu:22.04", "slow")).unwrap();
    assert_eq!(again.outcome, Outcome::Failed(ErrorKind::AlreadyExists));
    assert_eq!(again.attempts, 1);
}

#[test]
fn a_raw_client_killed_mid_create_leaves_a_machine_the_layer_then_sees() {
    let sim = Sim::with_scenario("time_scale = 0.01\n[latency]\ncreate = \"100s\"\n");
    let mut raw = sim
        .command("orbctl")
        .args(["create", "ubuntu", "orphan"])
        .spawn()
        .unwrap();
    sim.wait_for("the create to be accepted", |s| s.creates_in_flight == 1);
    raw.kill().unwrap();
    raw.wait().unwrap();
    let client = sim.client(fast_policy(10_000));
    // The machines layer waits for it like any info poll would: it appears on time.
    sim.wait_for("the orphan to finish", |s| s.creates_finished == 1);
    let info = client.machine_info("orphan").unwrap();
    assert!(info.is_ready());
}

struct SlowGate {
    calls: Mutex<u32>,
    wait: Duration,
}

impl Admission for SlowGate {
    fn admit(&self, _op: &Op) -> Result<Permit, Box<dyn std::error::Error + Send + Sync>> {
        *self.calls.lock().unwrap() += 1;
        std::thread::sleep(self.wait);
        Ok(Box::new(()))
    }
}

#[test]
fn admission_wraps_create_class_ops_and_its_wait_is_not_timed() {
    let sim = Sim::new();
    let gate = Arc::new(SlowGate {
        calls: Mutex::new(0),
        wait: Duration::from_millis(400),
    });
    // The create limit is shorter than the admission wait; the create must still succeed.
    let client = sim.client(fast_policy(300)).with_admission(gate.clone());
    let r = client.execute(&create("ubuntu", "gated")).unwrap();
    assert_eq!(r.outcome, Outcome::Succeeded);
    assert!(r.admission_wait >= Duration::from_millis(400));
    client
        .execute(&Op::List {
            running: false,
            quiet: true,
            format: None,
        })
        .unwrap();
    assert_eq!(*gate.calls.lock().unwrap(), 1, "only create-class ops are admitted");
}

struct Refuse;

impl Admission for Refuse {
    fn admit(&self, _op: &Op) -> Result<Permit, Box<dyn std::error::Error + Send + Sync>> {
        Err("host swap above 80%".into())
    }
}

#[test]
fn a_refused_admission_is_an_error_that_names_the_op() {
    let sim = Sim::new();
    let client = sim.client(fast_policy(300)).with_admission(Arc::new(Refuse));
    let e = client.execute(&create("ubuntu", "web")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "admission for `orbctl create ubuntu web` failed: host swap above 80%"
    );
    assert!(sim.names().is_empty());
}

#[test]
fn the_sim_provider_reports_pressure() {
    use orbtest_machines::Provider;
    let sim = Sim::with_scenario("[host]\nmemory_mib = 2048\nbase_mib = 1024\nmachine_mib = 1024\nswap_mib = 1024\n");
    sim.orbctl(&["create", "ubuntu", "a1"]).ok();
    sim.orbctl(&["create", "ubuntu", "a2"]).ok();
    let p = sim.provider().pressure().unwrap();
    assert_eq!((p.memory_percent, p.swap_percent), (100.0, 100.0));
}

#[test]
fn a_watched_create_that_hangs_after_success_is_cut_short() {
    // Every create is done after 1 simulated second (1 ms), then its client hangs 2000 s
    // (2 s): well inside the create timeout, so only the watch can end it early.
    let sim = Sim::with_scenario(
        "seed = 3\ntime_scale = 0.001\n[latency]\ncreate = \"1s\"\n\
         [faults.hang]\nprobability = 1.0\nmin = \"2000s\"\nmax = \"2000s\"\n",
    );
    let mut p = fast_policy(60_000);
    p.watch_hangs = true;
    p.poll_interval = Duration::from_millis(20);
    let started = std::time::Instant::now();
    let r = sim.client(p).execute(&create("ubuntu:22.04", "web")).unwrap();
    assert_eq!(r.outcome, Outcome::Recovered);
    assert_eq!((r.attempts, r.caller_exit_code()), (1, 0));
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "the hung client was waited for: {:?}",
        started.elapsed()
    );
    assert_eq!(sim.stats().creates_started, 1);
    assert_eq!(sim.names(), ["web"]);
}
