//! Bad input from the command line and the environment: each gets a clear, actionable message
//! (snapshots) and the documented exit code. orchestrator.toml's own errors are snapshotted in
//! tests/config; argv orbctl rejects is compared with orbctl's own answer here and in
//! tests/lifecycle/fidelity.rs.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use orbtest_machines::provider::link_orbctl;

use crate::support::cli::{Scenario, code, stderr};

/// Paths differ between runs; the message must not.
fn normalize(s: &Scenario, text: &str) -> String {
    text.replace(&s.path().display().to_string(), "[dir]")
        .replace(&s.fixture.display().to_string(), "[fixture]")
}

fn run(s: &Scenario, args: &[&str]) -> Output {
    s.run(args)
}

macro_rules! cli_snapshot {
    ($name:ident, $config:expr, $args:expr, $code:expr) => {
        #[test]
        fn $name() {
            let s = Scenario::new("basic", $config);
            let out = run(&s, $args);
            assert_eq!(code(&out), $code, "{}", stderr(&out));
            insta::assert_snapshot!(stringify!($name), normalize(&s, &stderr(&out)));
            assert!(
                !s.reports().join("summary.json").exists(),
                "nothing ran, so no report"
            );
        }
    };
}

const TIERS: &str = "[tiers.fast]\nfilter = \"test(=tests::passes)\"\n[tiers.integration]\nneeds = [\"fast\"]\n";

cli_snapshot!(cli_unknown_tier, TIERS, &["--tier", "fast,integraton"], 64);
cli_snapshot!(cli_quiet_and_verbose, TIERS, &["--quiet", "--verbose"], 64);
cli_snapshot!(cli_unknown_flag, TIERS, &["--frobnicate"], 64);
cli_snapshot!(cli_bad_color, TIERS, &["--color", "sometimes"], 64);
cli_snapshot!(cli_report_merge_without_dirs, TIERS, &["report", "merge"], 64);
// Filtersets are judged by nextest; its message comes back at the filter's line and column.
cli_snapshot!(
    config_bad_filterset,
    "[tiers.fast]\nfilter = \"test(=tests::passes)\"\nflaky = [\"test(/[/)\"]\n\n[tiers.broken]\nfilter = \"kind(lib) &\"\n",
    &[],
    64
);

/// A `cargo` that is the real one, except that `cargo nextest --version` says `answer`.
fn fake_cargo(dir: &Path, answer: &str) -> PathBuf {
    let real = which::which(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())).expect("cargo");
    let path = dir.join("cargo");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nif [ \"$1\" = nextest ] && [ \"$2\" = --version ]; then\n{answer}\nfi\nexec {} \"$@\"\n",
            real.display()
        ),
    )
    .expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn with_cargo(answer: &str) -> (Scenario, Output) {
    let s = Scenario::new("basic", TIERS);
    let cargo = fake_cargo(s.path(), answer);
    let out = s
        .command(["--report-dir".as_ref(), s.reports().as_os_str()])
        .env("CARGO", cargo)
        .output()
        .expect("run");
    (s, out)
}

#[test]
fn env_nextest_missing() {
    let (s, out) = with_cargo("echo 'error: no such command: `nextest`' >&2; exit 101");
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    insta::assert_snapshot!("env_nextest_missing", normalize(&s, &stderr(&out)));
}

#[test]
fn env_nextest_too_old() {
    let (s, out) = with_cargo("echo 'cargo-nextest 0.9.50 (0123abc 2024-01-01)'; exit 0");
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    insta::assert_snapshot!("env_nextest_too_old", normalize(&s, &stderr(&out)));
}

#[test]
fn env_orbctl_missing() {
    let s = Scenario::new(
        "basic",
        "[machines]\norbctl = \"orbctl-not-installed\"\n[tiers.machines]\nfilter = \"test(=tests::passes)\"\nmachines = true\n",
    );
    let out = run(&s, &[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("provider") || l.contains("error"))
        .collect();
    insta::assert_snapshot!("env_orbctl_missing", normalize(&s, &lines.join("\n")));
    let summary = s.summary();
    assert_eq!(summary["exit_code"], 3);
    assert_eq!(summary["tiers"][0]["outcome"], "skipped");
}

#[test]
fn env_not_a_cargo_workspace() {
    let s = Scenario::new("basic", TIERS);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-orbtest"));
    crate::support::cli::scrub(&mut cmd);
    let out = cmd.arg("orbtest").current_dir(s.path()).output().expect("run");
    assert_eq!(code(&out), 64, "{}", stderr(&out));
    // cargo's own words follow ours; keep the first two lines.
    let err = stderr(&out);
    let head: Vec<&str> = err.lines().take(2).collect();
    insta::assert_snapshot!("env_not_a_cargo_workspace", normalize(&s, &head.join("\n")));
}

#[test]
fn env_manifest_path_that_does_not_exist() {
    let s = Scenario::new("basic", TIERS);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-orbtest"));
    crate::support::cli::scrub(&mut cmd);
    let out = cmd
        .args(["orbtest", "--manifest-path"])
        .arg(s.path().join("nowhere/Cargo.toml"))
        .output()
        .expect("run");
    assert_eq!(code(&out), 64, "{}", stderr(&out));
    let err = stderr(&out);
    let head: Vec<&str> = err.lines().take(2).collect();
    insta::assert_snapshot!("env_manifest_path_that_does_not_exist", normalize(&s, &head.join("\n")));
}

/// argv orbctl rejects, through the shim and straight to orbctl (orbsim): the same words.
#[test]
fn shim_argv_orbctl_rejects_gets_orbctls_own_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let real = crate::support::sim_links(&root.join("real")).orbctl;
    let shim = link_orbctl(Path::new(env!("CARGO_BIN_EXE_cargo-orbtest")), &root.join("shim")).expect("link");
    let run_dir = root.join("run");
    std::fs::create_dir_all(&run_dir).expect("run dir");
    let _broker = crate::support::served(&run_dir, "bad-input", &real, &root.join("state"), |_| {});
    let mut shown = String::new();
    for args in [
        &["create"][..],
        &["create", "--set-password=x", "ubuntu", "box"],
        &["create", "-a"],
        &["list", "-f", "yaml"],
        &["run", "-m", "box", "--", "true"],
        &["delet", "box"],
        &["info"],
    ] {
        let call = |program: &Path, env: (&str, &Path)| {
            Command::new(program)
                .args(args)
                .env(env.0, env.1)
                .env_remove("ORBSIM_SCENARIO")
                .output()
                .expect("run")
        };
        let direct = call(&real, ("ORBSIM_STATE", &root.join("state-direct")));
        let shimmed = call(&shim, ("ORBTEST_RUN_DIR", &run_dir));
        assert_eq!(direct.status.code(), shimmed.status.code(), "{args:?}");
        assert_eq!(direct.stdout, shimmed.stdout, "{args:?}");
        assert_eq!(direct.stderr, shimmed.stderr, "{args:?}");
        assert_ne!(shimmed.status.code(), Some(0), "{args:?} is rejected");
        // The first line says what is wrong.
        let first = String::from_utf8_lossy(&shimmed.stderr)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        shown.push_str(&format!("$ orbctl {}\n{first}\n", args.join(" ")));
    }
    insta::assert_snapshot!("shim_argv_orbctl_rejects", shown);
}

/// Started with stderr closed (`2>&-`; Rust points it at /dev/null), or with stdout and stderr
/// pipes nobody reads any more (`cargo orbtest 2>&1 | head -1`): no panic, the run's verdict.
#[test]
fn a_closed_stderr_or_a_broken_stdout_never_panics_or_spills_into_reports() {
    use std::os::unix::process::CommandExt;
    let s = crate::support::pysuite::Scenario::new(
        "[machines]\nprovider = \"sim\"\n[machines.sim]\nscenario = \"{scenario}\"\n\
         [tiers.cmd]\ncommand = [\"sh\", \"-c\", \"orbctl create ubuntu:22.04 closed-vm; echo a failure; exit 1\"]\nmachines = true\n",
        None,
        Some("time_scale = 0.001\n"),
    );
    let mut cmd = s.command(&[]);
    // SAFETY: close(2) between fork and exec touches only the child's descriptor table.
    unsafe {
        cmd.pre_exec(|| {
            libc::close(2);
            Ok(())
        });
    }
    let out = cmd.stdout(std::process::Stdio::null()).status().expect("run");
    assert_eq!(out.code(), Some(1), "no panic (101), the tests' verdict");
    let latest = s.path().join(".orbtest/latest");
    for name in ["summary.json", "journal.jsonl"] {
        let text = std::fs::read_to_string(latest.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!text.contains("orbtest:") && !text.contains("FAILED"), "{name}: {text}");
    }

    for args in [&[][..], &["doctor"], &["list"], &["clean", "--dry-run"], &["report"]] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let status = s
            .command(args)
            .stdout(writer.try_clone().expect("clone"))
            .stderr(writer)
            .status()
            .expect("run");
        assert!(
            matches!(status.code(), Some(0 | 1 | 3 | 64)),
            "{args:?} ended with {status} (101 is a panic)"
        );
    }
}
