//! `new_test_runs`: tests the flake ledger has never seen run K times; off (and said so) while
//! the ledger is empty.

use std::path::Path;
use std::process::Output;

use crate::support::cli::{Scenario, code, stderr};

/// A run with reports in the scenario and a target dir (so a ledger) of the test's own: the
/// fixtures' shared target dir is shared with other tests.
fn run(s: &Scenario, target: &Path, args: &[&str]) -> Output {
    s.command(["--report-dir".as_ref(), s.reports().as_os_str()])
        .args(args)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap()
}

const CONFIG: &str = r#"
[tiers.unit]
filter = "kind(lib) & test(=tests::passes) | kind(lib) & test(=tests::slow)"
new_test_runs = 3
"#;

#[test]
fn tests_new_to_the_ledger_run_again_and_an_empty_ledger_turns_it_off() {
    let s = Scenario::new("basic", CONFIG);
    let target = s.path().join("target");
    let run = |args: &[&str]| run(&s, &target, args);
    let first = run(&["--", "-E", "not test(=tests::slow)"]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    assert!(
        stderr(&first).contains("new_test_runs is off for this run: the flake ledger has no history yet"),
        "{}",
        stderr(&first)
    );
    let second = run(&[]);
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    let err = stderr(&second);
    assert!(
        err.contains("tier `unit`: 1 tests new to the ledger ran 3 times each (new_test_runs): none is flaky"),
        "only `slow` is new: {err}"
    );
    // Two extra nextest runs of just that test, in the run directory.
    let runs = target.join("orbtest/runs");
    let repeats: Vec<_> = std::fs::read_dir(&runs)
        .unwrap()
        .flatten()
        .flat_map(|run| {
            std::fs::read_dir(run.path().join("tiers/unit"))
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("new-tests-run-"))
        .collect();
    assert_eq!(repeats.len(), 2, "{repeats:?}");
    // Seen now: a third run repeats nothing.
    let third = run(&[]);
    assert!(!stderr(&third).contains("new to the ledger"), "{}", stderr(&third));
    assert_eq!(s.tier("unit")["tests"]["passed"], 2);
}

#[test]
fn a_newcomer_that_fails_when_run_again_is_flaky() {
    let mut s = Scenario::new("basic", "[tiers.unit]\nnew_test_runs = 3\n");
    // A crate of its own: `flips` passes the first time it runs and fails every time after.
    let krate = s.path().join("flips");
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::write(
        krate.join("Cargo.toml"),
        "[package]\nname = \"flips\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(
        krate.join("src/lib.rs"),
        r#"#[cfg(test)]
mod tests {
    #[test]
    fn steady() {}

    #[test]
    fn flips() {
        let marker = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ran");
        assert!(!marker.exists(), "fails after its first run");
        std::fs::write(&marker, "").unwrap();
    }
}
"#,
    )
    .unwrap();
    s.fixture = krate.clone();
    let target = s.path().join("target");
    let run = |args: &[&str]| run(&s, &target, args);
    let first = run(&["--", "-E", "test(=tests::steady)"]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let second = run(&[]);
    assert_eq!(code(&second), 0, "a flaky test passes its tier: {}", stderr(&second));
    assert!(
        stderr(&second).contains("ran 3 times each (new_test_runs): flaky flips::tests::flips"),
        "{}",
        stderr(&second)
    );
    let tier = s.tier("unit");
    assert_eq!(tier["tests"]["flaky"], 1, "{tier}");
    assert_eq!(tier["flaky_tests"][0], "flips::tests::flips");
    let attempts = tier["flaky"][0]["attempts"].as_array().expect("attempts").clone();
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    assert_eq!(attempts[0]["status"], "passed");
    assert!(
        attempts[1]["message"]
            .as_str()
            .unwrap()
            .contains("new test, run 2 of 3"),
        "{attempts:?}"
    );
}
