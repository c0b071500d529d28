//! Never delete what is not ours, never leave our own behind: the run lock and live runs belong
//! to the provider (not to ORBTEST_HOME), baselines are known by id, remedies wait for the run
//! lock, `protect` wins over `prefixes`, a postflight that cannot list or delete keeps its
//! claims, kept machines stay kept.
//!
//! These use command tiers (a shell script calling `orbctl`, the shim in front of orbsim): no
//! build, so each scenario takes a second or two.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::support::pysuite::{Scenario, code, stderr, stdout, wait_until};

/// A command tier running `script` under `sh -c`, with the shim first on PATH.
fn tier(name: &str, script: &str) -> String {
    format!("[tiers.{name}]\ncommand = [\"sh\", \"-c\", {script:?}]\nmachines = true\n")
}

/// A scenario whose tiers are `tiers`, against orbsim, with `machines` in `[machines]`.
fn scenario(machines: &str, tiers: &str, orbsim: Option<&str>) -> Scenario {
    let config = format!(
        "[machines]\nprovider = \"sim\"\n{machines}\n[machines.sim]\nscenario = \"{{scenario}}\"\n{tiers}\n\
         [tiers.quiet]\ncommand = [\"true\"]\nmachines = true\n"
    );
    let s = Scenario::new(&config, None, Some(orbsim.unwrap_or("time_scale = 0.001\n")));
    std::fs::create_dir_all(s.state()).expect("state dir");
    s
}

/// `cargo orbtest ARGS` with another orbtest home: another cache dir, another CI job.
fn with_home(s: &Scenario, home: &str, args: &[&str]) -> Command {
    let mut cmd = s.command(args);
    cmd.env("ORBTEST_HOME", s.path().join(home));
    cmd
}

fn spawn(mut cmd: Command, log: &Path) -> Child {
    let out = std::fs::File::create(log).expect("log");
    cmd.stdout(Stdio::null())
        .stderr(out)
        .spawn()
        .expect("spawn cargo-orbtest")
}

/// Waits for the background run to end; its exit code and stderr.
fn finish(mut child: Child, log: &Path) -> (i32, String) {
    let status = child.wait().expect("wait");
    (
        status.code().unwrap_or(-1),
        std::fs::read_to_string(log).unwrap_or_default(),
    )
}

/// A tier that creates `machine` and holds it until `<state>/go` exists.
fn holds(machine: &str) -> String {
    tier(
        "hold",
        &format!(
            "orbctl create ubuntu:22.04 {machine} && touch \"$PYSUITE_STATE/held\" && \
             while [ ! -e \"$PYSUITE_STATE/go\" ]; do sleep 0.05; done"
        ),
    )
}

#[test]
fn two_runs_with_different_homes_share_the_providers_lock_and_never_reap_each_other() {
    let s = scenario("prefixes = [\"test-\"]", &holds("test-held"), None);
    let log = s.path().join("first.log");
    let first = spawn(with_home(&s, "home-a", &["--tier", "hold"]), &log);
    let held = s.state().join("held");
    wait_until("the first run to hold its machine", || held.exists());

    // A second run with another home, whose prefix covers the first run's machine.
    let out = with_home(&s, "home-b", &["--tier", "quiet", "--no-wait"])
        .output()
        .expect("run");
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("another cargo orbtest run is using"),
        "{}",
        stderr(&out)
    );
    let out = with_home(&s, "home-c", &["clean", "--no-wait"])
        .output()
        .expect("clean");
    assert_eq!(code(&out), 3, "{}{}", stdout(&out), stderr(&out));
    assert!(
        s.machines().contains(&"test-held".to_string()),
        "the live run's machine survived: {:?}",
        s.machines()
    );

    std::fs::write(s.state().join("go"), "").expect("go");
    let (code, log) = finish(first, &log);
    assert_eq!(code, 0, "{log}");
    assert!(s.machines().is_empty(), "{:?}", s.machines());
}

#[test]
fn a_machine_someone_made_under_a_baselines_name_is_never_used_stopped_or_deleted() {
    let baseline = |step: &str| {
        format!("[[machines.baseline]]\nname = \"base-vm\"\nimage = \"ubuntu:22.04\"\nprovision = [\"{step}\"]\n")
    };
    let s = scenario(&baseline("echo one"), "", None);
    let out = s.run(&["--tier", "quiet"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("built base-vm"), "{}", stderr(&out));

    // Someone deletes the baseline and makes their own machine under its name.
    assert!(s.orbctl(&["delete", "-f", "base-vm"]).status.success());
    assert!(s.orbctl(&["create", "ubuntu:22.04", "base-vm"]).status.success());
    let theirs = info(&s, "base-vm");

    let out = s.run(&["--tier", "quiet"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not the baseline cargo orbtest built"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        info(&s, "base-vm"),
        theirs,
        "their machine is untouched (still running, same id)"
    );

    // A recipe change would rebuild our baseline: never by deleting theirs.
    std::fs::write(
        s.path().join("orchestrator.toml"),
        std::fs::read_to_string(s.path().join("orchestrator.toml"))
            .expect("config")
            .replace("echo one", "echo two"),
    )
    .expect("edit config");
    let out = s.run(&["--tier", "quiet", "--rebuild-baselines"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(info(&s, "base-vm"), theirs);
}

/// `(id, state)` of a machine, from orbsim.
fn info(s: &Scenario, name: &str) -> (String, String) {
    let out = s.orbctl(&["info", name, "-f", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("info JSON");
    (
        v["record"]["id"].as_str().expect("id").to_string(),
        v["record"]["state"].as_str().expect("state").to_string(),
    )
}

#[test]
fn orbstack_remedies_wait_for_the_run_lock() {
    // Swap over the restart limit (see commands::remedy): a restart would be due.
    let orbsim = "time_scale = 0.01\n[host]\nmemory_mib = 4096\nbase_mib = 3072\nmachine_mib = 1024\nswap_mib = 4096\n";
    let s = scenario(
        "restart = { swap_percent = 10, timeout = \"60s\" }",
        &holds("test-held"),
        Some(orbsim),
    );
    for name in ["busy-1", "busy-2"] {
        assert!(s.orbctl(&["create", "ubuntu:22.04", name]).status.success());
    }
    let log = s.path().join("first.log");
    let first = spawn(s.command(&["--tier", "hold"]), &log);
    wait_until("the run to hold its machine", || s.state().join("held").exists());

    let out = with_home(&s, "home-b", &["doctor", "--fix"]).output().expect("doctor");
    let text = stdout(&out);
    assert_eq!(code(&out), 3, "{text}");
    assert!(text.contains("not restarting OrbStack under it"), "{text}");
    assert!(!text.contains("fix: restarted"), "{text}");
    let out = with_home(&s, "home-b", &["--tier", "quiet", "--restart-orbstack", "--no-wait"])
        .output()
        .expect("run");
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(!stderr(&out).contains("restarted OrbStack"), "{}", stderr(&out));
    // The held machine never went through a restart: still running.
    assert_eq!(info(&s, "test-held").1, "running");

    std::fs::write(s.state().join("go"), "").expect("go");
    let (code, log) = finish(first, &log);
    assert_eq!(code, 0, "{log}");
    // Free now: the remedy runs.
    let out = s.run(&["doctor", "--fix"]);
    assert!(stdout(&out).contains("fix: restarted OrbStack"), "{}", stdout(&out));
}

#[test]
fn protect_wins_over_prefixes_in_preflight_postflight_and_clean() {
    let s = scenario(
        "prefixes = [\"test-\"]\nprotect = [\"test-fixture-db\"]",
        &tier(
            "uses",
            "orbctl run -m test-fixture-db true && orbctl create ubuntu:22.04 test-own",
        ),
        None,
    );
    for name in ["test-fixture-db", "test-old"] {
        assert!(s.orbctl(&["create", "ubuntu:22.04", name]).status.success());
    }
    let out = s.run(&["--tier", "uses", "--gate"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("deleted 1 leftover machine"), "{}", stderr(&out));
    assert_eq!(
        s.machines(),
        ["test-fixture-db"],
        "reaped test-old, deleted test-own, kept the fixture"
    );
    assert_eq!(
        s.summary()["machines"]["leftover"],
        0,
        "a protected machine is no leftover"
    );

    let out = s.run(&["clean", "--dry-run"]);
    assert!(
        stdout(&out).contains("kept test-fixture-db: protected by `test-fixture-db`"),
        "{}",
        stdout(&out)
    );
    let out = s.run(&["clean"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s.machines(), ["test-fixture-db"]);
}

/// An `orbctl` that fails a verb while `<dir>/<verb>` exists (printing that file, when it is
/// not empty), else is orbsim's: a provider that breaks at the worst moment (provider =
/// "orbstack" with this as its orbctl).
fn breakable_orbctl(s: &Scenario) -> (PathBuf, PathBuf) {
    let links = crate::support::sim_links(&s.path().join("links"));
    let fail = s.path().join("fail");
    std::fs::create_dir_all(&fail).expect("fail dir");
    let script = s.path().join("orbctl");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nf='{}/'\"$1\"\nif [ -s \"$f\" ]; then cat \"$f\" >&2; exit 1; fi\n\
             if [ -e \"$f\" ]; then echo \"[-32098] $1: the machine manager broke\" >&2; exit 1; fi\nexec '{}' \"$@\"\n",
            fail.display(),
            links.orbctl.display()
        ),
    )
    .expect("write orbctl");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    (script, fail)
}

/// A scenario on "OrbStack" (the breakable orbctl) whose orbtest state lives in its own data
/// directory.
fn breakable(tiers: &str) -> (Scenario, PathBuf) {
    let s = Scenario::new("", None, Some("time_scale = 0.001\n"));
    std::fs::create_dir_all(s.state()).expect("state dir");
    let (orbctl, fail) = breakable_orbctl(&s);
    let config = format!(
        "[machines]\nprovider = \"orbstack\"\norbctl = \"{}\"\n{tiers}\n[tiers.quiet]\ncommand = [\"true\"]\nmachines = true\n",
        orbctl.display()
    );
    std::fs::write(s.path().join("orchestrator.toml"), config).expect("config");
    (s, fail)
}

fn on_orbstack(s: &Scenario, args: &[&str]) -> Output {
    let mut cmd = s.command(args);
    cmd.env("XDG_DATA_HOME", s.path().join("data"))
        .env("ORBSIM_SCENARIO", s.path().join("scenario.toml"));
    cmd.output().expect("run")
}

fn postflight_cannot(verb: &str) {
    let (s, fail) = breakable(&tier(
        "leaves",
        &format!("orbctl create ubuntu:22.04 scratch-left && touch \"$PYSUITE_STATE/../fail/{verb}\""),
    ));
    let out = on_orbstack(&s, &["--tier", "leaves", "--gate"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{err}");
    assert!(fail.join(verb).exists(), "the tier broke the provider");
    let summary = s.summary();
    assert_eq!(summary["exit_code"], 3);
    let why = summary["machines"]["postflight_error"]
        .as_str()
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(why.contains("the machine manager broke"), "{why}");
    assert_eq!(summary["gate"]["passed"], false, "{summary}");
    assert_eq!(s.machines(), ["scratch-left"]);

    // Fixed again: the next run reaps it, though no prefix covers its name (the claim stayed).
    std::fs::remove_file(fail.join(verb)).expect("mend");
    let out = on_orbstack(&s, &["--tier", "quiet"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(s.machines().is_empty(), "{:?}", s.machines());
}

#[test]
fn a_postflight_that_cannot_list_keeps_its_claims_and_fails_the_run() {
    postflight_cannot("list");
}

#[test]
fn a_postflight_that_cannot_delete_keeps_its_claims_and_fails_the_run() {
    postflight_cannot("delete");
}

#[test]
fn kept_machines_stay_kept_until_clean_kept() {
    let s = scenario(
        "prefixes = [\"test-\"]\nkeep_on_failure = true",
        &format!(
            "{}{}",
            tier("keeps", "orbctl create ubuntu:22.04 test-kept"),
            tier("fails", "orbctl create ubuntu:22.04 test-failed && exit 1")
        ),
        None,
    );
    let out = s.run(&["--tier", "keeps", "--keep-machines"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = s.run(&["--tier", "fails"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("test-failed"),
        "its name is printed: {}",
        stderr(&out)
    );

    // The next run's preflight, and a plain clean, keep both (though the prefix matches).
    let out = s.run(&["--tier", "quiet"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s.machines(), ["test-failed", "test-kept"]);
    let out = s.run(&["doctor"]);
    assert!(stdout(&out).contains("kept by run"), "{}", stdout(&out));
    let out = s.run(&["clean"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("kept test-kept: kept by run"), "{}", stdout(&out));
    assert_eq!(s.machines(), ["test-failed", "test-kept"]);

    let out = s.run(&["clean", "--kept"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(s.machines().is_empty(), "{:?}", s.machines());
    // And they are no one's any more: nothing is reaped twice or reported later.
    let out = s.run(&["clean", "--dry-run"]);
    assert!(stdout(&out).contains("nothing to clean"), "{}", stdout(&out));
}

/// A command tier's runner calls `orbctl` without a test name: its operations are the tier's,
/// not the orchestrator's (they were shown as "0 creates").
#[test]
fn a_command_tiers_machine_operations_are_counted() {
    let s = scenario(
        "",
        &tier(
            "makes",
            "orbctl create ubuntu:22.04 count-a && orbctl create ubuntu:22.04 count-b && orbctl delete -f count-a",
        ),
        None,
    );
    let out = s.run(&["--tier", "makes"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("tier makes: machines: 2 creates"),
        "{}",
        stderr(&out)
    );
    assert_eq!(s.summary()["machines"]["created"], 2);
}

/// A provider that answers with megabytes of error text: the message quotes enough of it to act
/// on, not all of it (on the terminal and in summary.json).
#[test]
fn error_excerpts_from_other_programs_are_bounded() {
    let (s, fail) = breakable("");
    let noise = format!("[-32098] list: {}\n", "x".repeat(300_000)).repeat(50);
    std::fs::write(fail.join("list"), noise).expect("noise");
    let out = on_orbstack(&s, &["--tier", "quiet"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{}", &err[..err.len().min(2000)]);
    assert!(err.contains("[-32098] list: xxx"), "the start of the error is shown");
    assert!(err.len() < 20_000, "{} bytes of stderr", err.len());
    let summary = std::fs::read_to_string(s.path().join(".orbtest/latest/summary.json")).expect("summary");
    assert!(summary.len() < 20_000, "{} bytes of summary.json", summary.len());
}

/// A test's create that OrbStack answered with a failure (here a download error, after the
/// retries) made no machine. Someone then makes their own machine under that name while the run
/// goes on: it is theirs, not the run's. The run's claim on the name used to stay (without an
/// id, any machine newer than the claim passed for the run's) and postflight deleted it.
#[test]
fn a_machine_made_under_the_name_of_a_create_that_failed_is_never_deleted() {
    let orbsim = "time_scale = 0.001\n[faults.transient]\nrate = 1.0\nops = [\"create\"]\nlimit = 2\n\
                  error = \"make rootfs: download rootfs: stream to file: unexpected EOF\"\n";
    let s = scenario(
        "retry = { attempts = 2, delay = \"10ms\" }",
        &tier(
            "fails",
            "if orbctl create ubuntu:22.04 scratch-x; then exit 1; fi; \
             \"$ORBTEST_REAL_ORBCTL\" create ubuntu:22.04 scratch-x",
        ),
        Some(orbsim),
    );
    let out = s.run(&["--tier", "fails"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s.machines(), ["scratch-x"], "{}", stderr(&out));
    // Nor does the next run take it for a leftover.
    let out = s.run(&["--tier", "quiet"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s.machines(), ["scratch-x"]);
}

/// A run SIGKILLed while its test's create is under way; OrbStack then fails that create (a
/// download error near its end) and someone makes their own machine under the name before the
/// next run. The dead run's claim names the machine it was making (its id, journaled as soon
/// as the machine showed, while the create still ran), so the next run leaves the newcomer
/// alone. Without the id, any machine newer than the claim passed for the dead run's.
#[test]
fn a_machine_made_in_place_of_a_killed_runs_failed_create_is_never_reaped() {
    let orbsim = "time_scale = 0.01\n[latency]\ncreate = \"200s\"\n\
                  [faults.transient]\nrate = 1.0\nops = [\"create\"]\nlimit = 1\nat = 0.9\n\
                  error = \"make rootfs: download rootfs: stream to file: unexpected EOF\"\n";
    let s = scenario(
        "",
        &tier("dies", "orbctl create ubuntu:22.04 scratch-y; sleep 60"),
        Some(orbsim),
    );
    let log = s.path().join("run.log");
    let mut run = spawn(s.command(&["--tier", "dies"]), &log);
    let journaled_id = || {
        std::fs::read_dir(s.sim().join("orbtest/runs"))
            .map(|d| {
                d.flatten().any(|run| {
                    std::fs::read_to_string(run.path().join("journal.jsonl"))
                        .is_ok_and(|j| j.lines().any(|l| l.contains("\"created\"") && l.contains("scratch-y")))
                })
            })
            .unwrap_or(false)
    };
    wait_until("the machine's id in the run's journal", journaled_id);
    assert_eq!(s.stats()["creates_in_flight"], 1, "the create is still under way");
    run.kill().expect("SIGKILL");
    run.wait().expect("wait");
    wait_until("OrbStack to fail the create", || {
        s.stats()["creates_failed"].as_u64() >= Some(1)
    });
    assert!(s.machines().is_empty(), "{:?}", s.machines());

    assert!(s.orbctl(&["create", "ubuntu:22.04", "scratch-y"]).status.success());
    let out = s.run(&["--tier", "quiet"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s.machines(), ["scratch-y"], "{}", stderr(&out));
}

/// A tier that cannot start after an earlier one made a machine (here the first tier's script
/// puts a file where the second tier's directory goes): the run ends with its error in
/// summary.json and exit 3, the later tiers are skipped with why, and postflight still deletes
/// the machine the first tier left. The error used to end the run before postflight and
/// reports: the machine stayed until the next run and no summary said why.
#[test]
fn a_tier_that_cannot_start_mid_run_still_gets_reports_and_postflight() {
    let s = scenario(
        "",
        &format!(
            "{}{}",
            tier(
                "first",
                "orbctl create ubuntu:22.04 left-behind && : > \"$(dirname \"$ORBTEST_RUN_ALIVE\")/tiers/second\""
            ),
            tier("second", "true")
        ),
        None,
    );
    let out = s.run(&[]);
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{err}");
    let summary = s.summary();
    assert!(
        summary["error"].as_str().is_some_and(|e| e.contains("cannot create")),
        "{summary}"
    );
    let tiers = summary["tiers"].as_array().expect("tiers");
    let outcome = |name: &str| {
        tiers
            .iter()
            .find(|t| t["name"] == name)
            .map(|t| t["outcome"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(outcome("first").as_deref(), Some("passed"), "{summary}");
    assert_eq!(outcome("second").as_deref(), Some("skipped"), "{summary}");
    assert_eq!(outcome("quiet").as_deref(), Some("skipped"), "{summary}");
    assert!(s.machines().is_empty(), "left behind: {:?}\n{err}", s.machines());
}
