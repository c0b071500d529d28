//! Files going wrong: a report directory that cannot be written, a disk that fills up while
//! reports are written, a journal whose last line was torn, and orchestrator.toml edited while
//! a run is going.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use orbtest_machines::{Journal, JournalView};

use crate::reliability::harness::{assert_honest, assert_next_run_reaps, config, go, main_run, paused};
use crate::support::cli::{Scenario, code, fixture_target, stderr};
use crate::support::lifecycle::{Sim, signal, wait_until, waiting_test_pid};

const ONE_TIER: &str = "[tiers.unit]\nfilter = \"test(=tests::passes) | test(=tests::fails_on_request)\"\n";

#[test]
fn an_unwritable_report_directory_is_exit_3_with_the_results_still_shown() {
    let s = Scenario::new("basic", ONE_TIER);
    // A file where the report directory should go: not writable, even for root.
    std::fs::write(s.path().join("blocker"), "").expect("blocker");
    let reports = s.path().join("blocker/reports");
    let out = s
        .command(["--report-dir".as_ref(), reports.as_os_str()])
        .env("FIXTURE_FAIL", "1")
        .output()
        .expect("run");
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{err}");
    assert!(
        err.contains(&format!("error: cannot publish reports to {}", reports.display()))
            && err.contains("Not a directory"),
        "{err}"
    );
    // The results are on the terminal all the same: the failed test and the verdict.
    assert!(err.contains("tests::fails_on_request"), "{err}");
    assert!(err.contains("1 passed, 1 failed of 2 tests"), "{err}");
    assert!(
        err.contains("exit 3"),
        "the verdict line names the real exit code: {err}"
    );
    assert!(
        !err.lines().any(|l| l.trim_start().starts_with("reports:")),
        "no report location is claimed: {err}"
    );
}

/// Every `.orbtest-*.tmp` left in `dir` (a failed atomic write must remove its temporary).
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            found.extend(temporaries(&p));
        } else if p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(".orbtest-"))
        {
            found.push(p);
        }
    }
    found
}

/// The run directories that ran a tier named `tier` (other tests share the target dir).
fn run_dirs_with_tier(tier: &str) -> Vec<PathBuf> {
    std::fs::read_dir(fixture_target().join("orbtest/runs"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.join("tiers").join(tier).is_dir())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_full_disk_while_reports_are_written_leaves_whole_reports_or_none() {
    // Disk full, injected: RLIMIT_FSIZE makes any write past the limit fail (EFBIG, the way
    // ENOSPC would), for orbtest and everything it starts. No mount needed, so it runs in CI.
    for (i, limit) in [1_024u64, 4_096, 16_384, 1 << 20].into_iter().enumerate() {
        let tier = format!("full{i}x{}", rand::random::<u32>());
        let s = Scenario::new("basic", &format!("[tiers.{tier}]\nfilter = \"test(=tests::passes)\"\n"));
        // Built without the limit first: the limit is for the run, not for compiling.
        assert_eq!(code(&s.run(Vec::<String>::new())), 0);
        std::fs::remove_dir_all(s.reports()).expect("fresh report dir");
        let earlier = run_dirs_with_tier(&tier);
        let mut cmd = s.command(["--report-dir".as_ref(), s.reports().as_os_str()]);
        // SAFETY: setrlimit and signal are async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                // Fail the write instead of killing the writer (SIGXFSZ's default).
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                let lim = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let out = cmd.output().expect("run");
        let err = stderr(&out);
        let c = code(&out);
        println!("limit {limit}: exit {c}");
        if c == 0 {
            let summary: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(s.reports().join("summary.json")).expect("summary"))
                    .expect("whole");
            assert_eq!(summary["outcome"], "passed");
            assert!(s.reports().join("report.html").exists());
        } else {
            assert_eq!(c, 3, "a failed write is an infrastructure error: {err}");
            assert!(err.contains("File too large"), "the error says what failed: {err}");
        }
        let this_run = run_dirs_with_tier(&tier).into_iter().filter(|d| !earlier.contains(d));
        for dir in std::iter::once(s.reports()).chain(this_run) {
            if let Ok(text) = std::fs::read_to_string(dir.join("summary.json")) {
                let v: serde_json::Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("limit {limit}: half a summary.json in {} ({e})", dir.display()));
                assert_eq!(
                    v["exit_code"], c,
                    "limit {limit}: summary.json disagrees with the exit code"
                );
            }
            let tmp = temporaries(&dir);
            assert!(tmp.is_empty(), "limit {limit}: temporaries left: {tmp:?}");
        }
        if limit == 1 << 20 {
            assert_eq!(c, 0, "a megabyte is plenty: {err}");
        }
    }
}

#[test]
fn a_torn_journal_line_loses_nothing_written_before_or_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("journal.jsonl");
    let j = Journal::open(&path, "run-1", None).expect("open");
    j.own("scratch-a").expect("own");
    drop(j);
    // A writer died (or the disk filled) in the middle of a line.
    let mut bytes = std::fs::read(&path).expect("read");
    bytes.extend_from_slice(br#"{"event":"own","ts_ms":5,"pid":1,"mach"#);
    std::fs::write(&path, bytes).expect("tear");
    // Another process of the run goes on appending.
    let j = Journal::open(&path, "run-1", None).expect("open again");
    j.own("scratch-b").expect("own after the tear");
    let view = JournalView::read(&path).expect("read");
    assert_eq!(
        view.owned.keys().collect::<Vec<_>>(),
        ["scratch-a", "scratch-b"],
        "a claim written after the torn line was lost"
    );
    assert_eq!(view.skipped_lines, 1);
}

#[test]
fn a_killed_runs_torn_journal_still_gets_its_machines_reaped() {
    let sim = Sim::new(
        "[machines]\nprovider = \"sim\"\n[tiers.machines]\nfilter = \"test(=creates_then_waits)\"\nmachines = true\n\
         [tiers.sweep]\nfilter = \"test(=tests::names_use_the_prefix)\"\nmachines = true\n",
        None,
    );
    let mut cmd = sim.waiting(sim.reporting(&["--tier", "machines"]));
    cmd.env("FIXTURE_PREFIX", "scratch-");
    let mut run = sim.spawn("killed", cmd);
    let test_pid = waiting_test_pid(&sim, "creates_then_waits");
    signal(run.id(), libc::SIGKILL);
    run.wait().expect("wait");
    wait_until("the test to die with its run", || {
        // SAFETY: signal 0 only probes.
        unsafe { libc::kill(test_pid, 0) != 0 }
    });
    let orphan = format!("scratch-waiting-{test_pid}");
    assert!(sim.machines().contains(&orphan));
    // Its journal's last line was torn by the kill.
    let runs = sim.provider_state().join("runs");
    let journal = std::fs::read_dir(&runs)
        .expect("runs")
        .flatten()
        .next()
        .expect("the run")
        .path()
        .join("journal.jsonl");
    let mut text = std::fs::read(&journal).expect("journal");
    text.extend_from_slice(br#"{"event":"release","ts_ms":9,"pid":1,"machine":"scratch-w"#);
    std::fs::write(&journal, text).expect("tear");

    let out = sim.command(&["doctor"]).output().expect("doctor");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = sim
        .command(&[
            "--tier",
            "sweep",
            "--report-dir",
            sim.path().join("sweep").to_str().expect("utf-8"),
        ])
        .output()
        .expect("next run");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!sim.machines().contains(&orphan), "{}", stderr(&out));
}

#[test]
fn editing_the_config_mid_run_changes_nothing_until_the_next_run() {
    let sim = Sim::new(
        &config("binary(faults) & test(=pauses_with_a_machine)", "", 1),
        Some("time_scale = 0.01\n"),
    );
    let path = sim.path().join("orchestrator.toml");
    let original = std::fs::read_to_string(&path).expect("config");
    let mut run = sim.spawn("run", main_run(&sim, &[]));
    paused(&sim);
    // Mid-run: the file becomes invalid.
    std::fs::write(&path, "[tiers.main]\nfilter = \"all()\"\nthreads = \"many\"\n").expect("edit");
    go(&sim);
    let status = run.wait().expect("wait");
    let summary = assert_honest(&sim, status.code().unwrap_or(-1), &sim.output_of("run"), 0);
    assert_eq!(
        summary["tiers"][0]["name"], "main",
        "the run kept the config it started with"
    );
    assert_eq!(summary["tiers"][0]["tests"]["passed"], 1);

    // The next run reads the edited file, refuses it, and leaves the last reports alone.
    let out = main_run(&sim, &[]).output().expect("next run");
    assert_eq!(code(&out), 64, "{}", stderr(&out));
    assert!(stderr(&out).contains("orchestrator.toml:3:11"), "{}", stderr(&out));
    assert_eq!(
        sim.summary()["run_id"],
        summary["run_id"],
        "reports of the last run intact"
    );
    std::fs::write(&path, original).expect("restore");
    assert_next_run_reaps(&sim);
}

/// `--report-dir /tmp` as root used to make /tmp 0700 (its sticky bit gone): orbtest writes into
/// a directory it did not create without changing its mode, creates a new one private, and
/// writes every file private.
#[test]
fn a_report_directory_orbtest_did_not_create_keeps_its_mode_and_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let s = crate::support::pysuite::Scenario::new("[tiers.cmd]\ncommand = [\"true\"]\n", None, None);
    let shared = s.path().join("shared-tmp");
    std::fs::create_dir(&shared).expect("mkdir");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o7777;
    let out = s.run(&["--report-dir", shared.to_str().expect("utf-8")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(mode(&shared), 0o1777, "a directory we did not create keeps its mode");
    assert!(shared.join("summary.json").exists());

    let fresh = s.path().join("new/reports");
    let out = s.run(&["--report-dir", fresh.to_str().expect("utf-8")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!((mode(&s.path().join("new")), mode(&fresh)), (0o700, 0o700));
    let mut files = Vec::new();
    for dir in [&shared, &fresh, &s.path().join(".orbtest/runs")] {
        files.extend(walk(dir));
    }
    assert!(files.len() > 6, "{files:?}");
    for f in files {
        assert_eq!(mode(&f), 0o600, "{} is not private", f.display());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Report files cut short (a crash of an older version, a copy interrupted, a disk that filled
/// up under another program): every earlier run's summary.json, junit.xml, journal, history and
/// ledger truncated to half. The next run still runs and reports; the readers of old runs
/// (`report`, `flaky`, `shard plan`, `report merge`) never panic, and `report merge` names the
/// shard it cannot read instead of merging what it could.
#[test]
fn report_files_cut_short_never_break_the_next_run_or_the_readers() {
    let s = crate::support::pysuite::Scenario::new(
        "[tiers.cmd]\ncommand = [\"true\"]\n[tiers.other]\ncommand = [\"true\"]\n",
        None,
        None,
    );
    for _ in 0..2 {
        let out = s.run(&[]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let shard = s.path().join("shard");
    let out = s.run(&["--report-dir", shard.to_str().expect("utf-8")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut cut = 0;
    for f in walk(&s.path().join(".orbtest")).into_iter().chain(walk(&shard)) {
        let bytes = std::fs::read(&f).expect("read");
        if bytes.len() > 1 {
            std::fs::write(&f, &bytes[..bytes.len() / 2]).expect("truncate");
            cut += 1;
        }
    }
    assert!(cut > 6, "{cut} files cut");

    let out = s.run(&[]);
    assert_eq!(code(&out), 0, "the next run: {}", stderr(&out));
    let summary = s.summary();
    assert_eq!(summary["outcome"], "passed", "{summary}");
    for args in [
        &["report"][..],
        &["flaky"],
        &["shard", "plan", "--shards", "2", "--no-build"],
    ] {
        let out = s.run(args);
        assert_ne!(code(&out), 101, "{args:?} panicked: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{args:?}: {}", stderr(&out));
    }
    let out = s
        .command(&["report", "merge", "--out"])
        .arg(s.path().join("merged"))
        .arg(&shard)
        .output()
        .expect("merge");
    assert_ne!(
        code(&out),
        0,
        "a shard cut short is not merged as if whole: {}",
        stderr(&out)
    );
    assert_ne!(code(&out), 101, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&shard.display().to_string()),
        "names the shard: {}",
        stderr(&out)
    );
}

/// A report directory whose path is not UTF-8 (a user's locale, an odd mount) is written like
/// any other.
#[test]
fn a_report_directory_whose_path_is_not_utf8_is_written() {
    use std::os::unix::ffi::OsStrExt;
    let s = crate::support::pysuite::Scenario::new("[tiers.cmd]\ncommand = [\"true\"]\n", None, None);
    let odd = s.path().join(std::ffi::OsStr::from_bytes(b"reports-\xff\xfe"));
    let out = s.command(&["--report-dir"]).arg(&odd).output().expect("run");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for file in ["summary.json", "junit.xml", "report.html"] {
        assert!(odd.join(file).exists(), "{file} in {}", odd.display());
    }
}
