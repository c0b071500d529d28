//! The Rust helper API's `worker()`: the calling test's worker machine, found from the
//! environment, and never deleted by the test that borrowed it. (nextest runs each test in its
//! own process, so setting the environment here affects only this test.)

use std::sync::Arc;

use orbtest_machines::api::Machines;
use orbtest_machines::{Client, OrbctlProvider};

fn machines() -> Machines {
    // Never called: a worker handle does not run orbctl until asked to.
    Machines::Direct(Client::new(Arc::new(OrbctlProvider::new("/nonexistent/orbctl"))))
}

fn set(pairs: &[(&str, Option<&str>)]) {
    for (k, v) in pairs {
        // SAFETY: nextest runs every test in a process of its own; nothing else reads the
        // environment concurrently here.
        unsafe {
            match v {
                Some(v) => std::env::set_var(k, v),
                None => std::env::remove_var(k),
            }
        }
    }
}

#[test]
fn worker_follows_the_runners_worker_id_and_is_not_the_tests_to_delete() {
    set(&[
        ("ORBTEST_WORKER", None),
        ("ORBTEST_WORKERS", None),
        ("NEXTEST_TEST_GLOBAL_SLOT", None),
        ("PYTEST_XDIST_WORKER", None),
        ("JEST_WORKER_ID", None),
        ("ORBTEST_RUN_DIR", None),
    ]);
    assert!(
        machines().worker().unwrap().is_none(),
        "no workers outside a run with them"
    );

    set(&[
        ("ORBTEST_WORKERS", Some("orbtest-worker-abc-0,orbtest-worker-abc-1")),
        ("PYTEST_XDIST_WORKER", Some("gw1")),
    ]);
    let worker = machines().worker().unwrap().expect("a worker");
    assert_eq!(worker.name(), "orbtest-worker-abc-1");
    // Dropping it must not delete the run's machine (that would call the missing orbctl and
    // only warn; `keep` shows it was never armed).
    assert_eq!(worker.keep(), "orbtest-worker-abc-1");

    set(&[("ORBTEST_WORKER", Some("orbtest-worker-abc-0"))]);
    assert_eq!(machines().worker().unwrap().unwrap().name(), "orbtest-worker-abc-0");

    set(&[("ORBTEST_WORKER", None), ("PYTEST_XDIST_WORKER", Some("gw5"))]);
    let e = machines().worker().unwrap_err().to_string();
    assert!(e.contains("2 worker machines"), "{e}");
}
