//! The client's recovery rules against a scripted provider: each call of a verb plays the next
//! scripted answer, so races the simulator cannot stage on demand become exact.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orbtest_machines::{
    AttemptObserver, AttemptOutcome, CallAttempt, Client, ErrorKind, Op, Outcome, Policy, Pressure, Provider, Retry,
};
use orbtest_process::Invocation;

/// One scripted answer: a shell snippet (it may sleep, print, exit).
type Answer = &'static str;

struct Scripted {
    dir: tempfile::TempDir,
    answers: BTreeMap<&'static str, Vec<Answer>>,
}

impl Scripted {
    fn new(answers: &[(&'static str, &[Answer])]) -> Arc<Scripted> {
        Arc::new(Scripted {
            dir: tempfile::tempdir().unwrap(),
            answers: answers.iter().map(|(k, v)| (*k, v.to_vec())).collect(),
        })
    }

    /// How often each verb was called.
    fn calls(&self, verb: &str) -> usize {
        std::fs::read_to_string(self.dir.path().join(verb))
            .map(|s| s.trim().parse().unwrap_or(0))
            .unwrap_or(0)
    }
}

impl Provider for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }

    fn invocation(&self, argv: &[String]) -> Invocation {
        let verb = argv.first().cloned().unwrap_or_default();
        let answers = self.answers.get(verb.as_str()).cloned().unwrap_or_default();
        // The counter file holds this verb's call count; answer N plays for call N (the last
        // one repeats).
        let dir = self.dir.path().display();
        let mut script = format!(
            "cd '{dir}' || exit 99\nn=$(cat '{verb}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{verb}'\ncase $n in\n"
        );
        for (i, a) in answers.iter().enumerate() {
            let pattern = if i + 1 == answers.len() {
                "*".to_string()
            } else {
                (i + 1).to_string()
            };
            script.push_str(&format!("{pattern}) {a} ;;\n"));
        }
        script.push_str("esac\n");
        Invocation::new("/bin/sh").args(["-c", &script])
    }

    fn pressure(&self) -> Option<Pressure> {
        None
    }
}

/// (verb, attempt number, timeout, outcome)
type Entry = (String, u32, Option<Duration>, AttemptOutcome);

#[derive(Default)]
struct Log(Mutex<Vec<Entry>>);

impl AttemptObserver for Log {
    fn on_attempt(&self, a: &CallAttempt<'_>) {
        self.0
            .lock()
            .unwrap()
            .push((a.op.verb().to_string(), a.number, a.timeout, a.outcome));
    }
}

fn policy() -> Policy {
    let mut p = Policy::default();
    p.timeouts.create = Duration::from_millis(300);
    p.timeouts.lifecycle = Duration::from_millis(300);
    p.timeouts.query = Duration::from_secs(5);
    p.retry = Retry {
        delay: Duration::from_millis(1),
        ..Retry::default()
    };
    p.poll_interval = Duration::from_millis(5);
    p
}

fn client(s: &Arc<Scripted>, log: &Arc<Log>) -> Client {
    Client::new(s.clone()).with_policy(policy()).with_observer(log.clone())
}

fn create(name: &str) -> Op {
    Op::Create {
        image: "ubuntu:22.04".into(),
        name: Some(name.into()),
        arch: None,
        user: None,
        user_data: None,
        set_password: false,
    }
}

const RUNNING_INFO: Answer = r#"printf '{"record":{"id":"01K2G8TY5GM9C3CN95KCB4ZG8B","name":"web","image":{"distro":"ubuntu","version":"jammy","arch":"arm64","variant":"default"},"config":{"isolated":false,"default_username":"u"},"builtin":false,"state":"running"},"disk_size":1,"ip4":"192.168.138.2"}\n'"#;
/// `info` of a running machine created just now (its ULID carries the time): the one our call
/// asked for.
fn fresh_running_info() -> Answer {
    let id = ulid::Ulid::new().to_string();
    Box::leak(RUNNING_INFO.replace("01K2G8TY5GM9C3CN95KCB4ZG8B", &id).into_boxed_str())
}

const NOT_FOUND: Answer = "echo \"[-32098] machine not found: 'web'\" >&2; exit 1";
const EXISTS: Answer = "echo \"[-32098] create 'web': machine already exists: 'web'\" >&2; exit 1";
const HANG: Answer = "sleep 30";
const RUNNING: Answer = "echo Running";

#[test]
fn already_exists_on_a_retry_of_our_own_create_is_success_once_verified() {
    // Attempt 1 is killed; the daemon has not registered the machine yet when we look, so we
    // create again, and that says "already exists": it is ours.
    let s = Scripted::new(&[
        ("create", &[HANG, EXISTS]),
        ("status", &[RUNNING]),
        ("info", &[NOT_FOUND, fresh_running_info()]),
    ]);
    let log = Arc::new(Log::default());
    let r = client(&s, &log).execute(&create("web")).unwrap();
    assert_eq!(r.outcome, Outcome::Recovered);
    assert!(r.recovered && r.is_success());
    assert_eq!((r.attempts, r.retries), (2, 1));
    assert_eq!(r.caller_exit_code(), 0);
    // The final attempt's raw bytes are kept.
    assert!(r.stderr_text().contains("machine already exists"));
    assert_eq!(s.calls("create"), 2);
    let seen: Vec<AttemptOutcome> = log.0.lock().unwrap().iter().map(|e| e.3).collect();
    assert_eq!(seen, [AttemptOutcome::TimedOut, AttemptOutcome::Recovered]);
}

#[test]
fn a_timed_out_create_never_adopts_an_older_machine_of_that_name() {
    // Our create is killed; `info` then shows a running machine of that name, but created long
    // before our call (its ULID says so): someone else's, and the call must not succeed.
    let s = Scripted::new(&[
        ("create", &[HANG, EXISTS]),
        ("status", &[RUNNING]),
        ("info", &[RUNNING_INFO]),
    ]);
    let log = Arc::new(Log::default());
    let r = client(&s, &log).execute(&create("web")).unwrap();
    assert!(!r.is_success(), "adopted someone else's machine: {:?}", r.outcome);
    assert!(!r.recovered);
    assert_eq!(r.outcome, Outcome::Failed(ErrorKind::AlreadyExists));
}

#[test]
fn already_exists_on_the_first_attempt_is_someone_elses_machine() {
    let s = Scripted::new(&[("create", &[EXISTS]), ("info", &[RUNNING_INFO])]);
    let log = Arc::new(Log::default());
    let r = client(&s, &log).execute(&create("web")).unwrap();
    assert_eq!(r.outcome, Outcome::Failed(ErrorKind::AlreadyExists));
    assert_eq!(r.attempts, 1);
    assert_eq!(r.caller_exit_code(), 1);
    assert_eq!(
        s.calls("info"),
        0,
        "no recovery is attempted for someone else's machine"
    );
    let e = r.into_result().unwrap_err().to_string();
    assert!(e.contains("already exists"), "{e}");
}

#[test]
fn a_timeout_with_orbstack_down_ends_the_call() {
    let s = Scripted::new(&[("create", &[HANG]), ("status", &["echo Stopped; exit 1"])]);
    let log = Arc::new(Log::default());
    let r = client(&s, &log).execute(&create("web")).unwrap();
    assert_eq!(r.outcome, Outcome::OrbStackDown);
    assert_eq!((r.attempts, s.calls("create"), s.calls("status")), (1, 1, 1));
    assert_eq!(r.exit_code, None);
    let e = r.into_result().unwrap_err().to_string();
    assert!(e.contains("orbctl start"), "the error says what to do: {e}");
}

#[test]
fn a_status_probe_that_hangs_means_down() {
    let s = Scripted::new(&[("create", &[HANG]), ("status", &[HANG])]);
    let log = Arc::new(Log::default());
    let mut p = policy();
    p.probe_timeout = Duration::from_millis(200);
    let r = client(&s, &log).with_policy(p).execute(&create("web")).unwrap();
    assert_eq!(r.outcome, Outcome::OrbStackDown);
}

#[test]
fn slow_but_up_retries_until_attempts_run_out() {
    let s = Scripted::new(&[
        ("create", &[HANG]),
        ("status", &["echo Starting; exit 2"]),
        ("info", &[NOT_FOUND]),
    ]);
    let log = Arc::new(Log::default());
    let r = client(&s, &log).execute(&create("web")).unwrap();
    assert_eq!(r.outcome, Outcome::TimedOut);
    assert_eq!(r.attempts, 4);
    assert_eq!(s.calls("create"), 4);
    let e = r.into_result().unwrap_err().to_string();
    assert!(e.contains("machines.timeouts.create"), "{e}");
}

#[test]
fn a_timed_out_delete_whose_retry_finds_nothing_was_ours() {
    let s = Scripted::new(&[
        ("delete", &[HANG, NOT_FOUND]),
        ("status", &[RUNNING]),
        ("info", &[RUNNING_INFO, NOT_FOUND]),
    ]);
    let log = Arc::new(Log::default());
    let op = Op::Delete {
        names: vec!["web".into()],
        force: true,
        all: false,
    };
    let r = client(&s, &log).execute(&op).unwrap();
    assert_eq!(r.outcome, Outcome::Recovered);
    assert_eq!(r.attempts, 2);
}

#[test]
fn a_delete_not_found_on_the_first_attempt_is_a_failure() {
    let s = Scripted::new(&[("delete", &[NOT_FOUND])]);
    let log = Arc::new(Log::default());
    let op = Op::Delete {
        names: vec!["web".into()],
        force: true,
        all: false,
    };
    let r = client(&s, &log).execute(&op).unwrap();
    assert_eq!(r.outcome, Outcome::Failed(ErrorKind::NotFound));
}

#[test]
fn daemon_stopping_is_retried_with_backoff() {
    let s = Scripted::new(&[(
        "list",
        &["echo '[-32098] machine manager is stopping' >&2; exit 1", "echo '[]'"],
    )]);
    let log = Arc::new(Log::default());
    let op = Op::List {
        running: false,
        quiet: false,
        format: Some("json".into()),
    };
    let r = client(&s, &log).execute(&op).unwrap();
    assert_eq!(r.outcome, Outcome::Succeeded);
    assert_eq!(r.stdout, b"[]\n");
    assert_eq!(r.attempts, 2);
    let seen: Vec<AttemptOutcome> = log.0.lock().unwrap().iter().map(|e| e.3).collect();
    assert_eq!(
        seen,
        [
            AttemptOutcome::Failed(ErrorKind::DaemonStopping),
            AttemptOutcome::Succeeded
        ]
    );
}

#[test]
fn run_exit_codes_are_passed_through_and_never_retried() {
    let s = Scripted::new(&[("run", &["echo out; echo err >&2; exit 3"])]);
    let log = Arc::new(Log::default());
    let op = Op::Run {
        machine: Some("web".into()),
        user: None,
        workdir: None,
        shell: false,
        path: false,
        command: vec!["false".into()],
    };
    let r = client(&s, &log).execute(&op).unwrap();
    assert_eq!(
        (r.stdout.as_slice(), r.stderr.as_slice()),
        (&b"out\n"[..], &b"err\n"[..])
    );
    assert_eq!((r.exit_code, r.caller_exit_code(), r.attempts), (Some(3), 3, 1));
    assert_eq!(r.timeout, None);
}

#[test]
fn a_timed_out_run_is_not_repeated() {
    let s = Scripted::new(&[("run", &[HANG]), ("status", &[RUNNING])]);
    let log = Arc::new(Log::default());
    let mut p = policy();
    p.timeouts.run = Some(Duration::from_millis(200));
    let op = Op::Run {
        machine: Some("web".into()),
        user: None,
        workdir: None,
        shell: false,
        path: false,
        command: vec!["make".into(), "install".into()],
    };
    let r = client(&s, &log).with_policy(p).execute(&op).unwrap();
    assert_eq!(r.outcome, Outcome::TimedOut);
    assert_eq!((r.attempts, s.calls("run")), (1, 1));
}

#[test]
fn a_watched_create_never_takes_an_older_machine_for_its_own() {
    // While our create hangs, `info` shows a running machine of that name created long before
    // the attempt began: not ours, so the watch leaves the attempt to its timeout.
    let s = Scripted::new(&[
        ("create", &[HANG, EXISTS]),
        ("status", &[RUNNING]),
        ("info", &[RUNNING_INFO]),
    ]);
    let log = Arc::new(Log::default());
    let mut p = policy();
    p.watch_hangs = true;
    let r = client(&s, &log).with_policy(p).execute(&create("web")).unwrap();
    assert!(s.calls("info") > 1, "the watch looked while the create ran");
    assert!(
        r.attempt_durations[0] >= Duration::from_millis(300),
        "the first attempt ran to its timeout: {:?}",
        r.attempt_durations
    );
}
