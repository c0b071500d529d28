//! The run's claims through the broker's executor, against orbsim: a claim the run holds is
//! never given up by a call that meets the run's own machine, and an import that does not name
//! its machine claims the one it made. A lost claim is a leaked machine: postflight deletes
//! only what the run owns.

use std::path::{Path, PathBuf};

use orbtest_machines::broker::Broker;
use orbtest_machines::tracked::Tracked;
use orbtest_machines::{ErrorKind, JournalView, Outcome};

/// Fields drop in order: the broker before its directory.
struct Run {
    broker: Broker,
    run_dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Run {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let real = crate::support::sim_links(&root.join("real")).orbctl;
        let run_dir = root.join("run");
        let broker = crate::support::served(&run_dir, "claims", &real, &root.join("sim"), |_| {});
        Run {
            broker,
            run_dir,
            _dir: dir,
        }
    }

    fn test(&self, name: &str) -> Tracked {
        self.broker.tracked(Some(name.into()))
    }

    fn view(&self) -> JournalView {
        JournalView::read(&self.run_dir.join("journal.jsonl")).unwrap()
    }

    fn id_of(&self, name: &str) -> Option<String> {
        self.view().owned.get(name).and_then(|o| o.id.clone())
    }

    fn path(&self) -> &Path {
        &self.run_dir
    }
}

fn run(t: &Tracked, args: &[&str]) -> orbtest_machines::OpResult {
    let argv: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let op = orbctl::argv::parse(orbtest_machines::Flavor::Orbctl, &argv).unwrap();
    t.execute(&op, &argv).unwrap()
}

#[test]
fn a_retry_meeting_its_own_machine_keeps_the_claim() {
    let r = Run::new();
    let t = r.test("bin::retrying");
    assert!(run(&t, &["create", "ubuntu:22.04", "test-web"]).is_success());
    let id = r.id_of("test-web").expect("the made machine's id is recorded");
    // The client's retry after it gave up: orbctl says the machine exists.
    let again = run(&t, &["create", "ubuntu:22.04", "test-web"]);
    assert_eq!(again.outcome, Outcome::Failed(ErrorKind::AlreadyExists));
    assert_eq!(r.id_of("test-web"), Some(id.clone()), "the claim and its id stay");
    // So does a clone onto the name, and an import naming it.
    assert!(run(&t, &["create", "ubuntu:22.04", "test-src"]).is_success());
    let clone = run(&t, &["clone", "test-src", "test-web"]);
    assert_eq!(clone.outcome, Outcome::Failed(ErrorKind::AlreadyExists));
    assert_eq!(r.id_of("test-web"), Some(id), "a failed clone onto it keeps the claim");
}

#[test]
fn a_failed_rename_onto_an_owned_name_keeps_both_claims() {
    let r = Run::new();
    let t = r.test("bin::renaming");
    assert!(run(&t, &["create", "ubuntu:22.04", "test-a"]).is_success());
    assert!(run(&t, &["create", "ubuntu:22.04", "test-b"]).is_success());
    let (a, b) = (r.id_of("test-a").unwrap(), r.id_of("test-b").unwrap());
    let renamed = run(&t, &["rename", "test-b", "test-a"]);
    assert_eq!(renamed.outcome, Outcome::Failed(ErrorKind::AlreadyExists));
    assert_eq!(r.id_of("test-a"), Some(a), "the taken name stays the run's");
    assert_eq!(r.id_of("test-b"), Some(b), "and so does the machine that kept its name");
}

#[test]
fn an_import_without_a_name_claims_the_machine_it_made() {
    let r = Run::new();
    let t = r.test("bin::importing");
    assert!(run(&t, &["create", "ubuntu:22.04", "test-orig"]).is_success());
    let archive = r.path().join("orig.tar");
    assert!(run(&t, &["export", "test-orig", archive.to_str().unwrap()]).is_success());
    assert!(run(&t, &["delete", "-f", "test-orig"]).is_success());
    assert!(!r.view().owned.contains_key("test-orig"), "released when deleted");
    let imported = run(&t, &["import", archive.to_str().unwrap()]);
    assert!(imported.is_success(), "{}", imported.stderr_text());
    let owned = r
        .view()
        .owned
        .get("test-orig")
        .cloned()
        .expect("the imported machine is the run's");
    assert!(owned.id.is_some(), "known by its id: {owned:?}");
    assert_eq!(owned.test.as_deref(), Some("bin::importing"));
}
