//! Security: the run's directories and locks are private to the user, the shim executes only
//! the configured real orbctl, and secrets never reach logs, journals or reports.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use orbtest_machines::provider::link_orbctl;

use crate::reliability::harness::{config, main_run};
use crate::support::lifecycle::{Sim, code, stderr};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

/// `dir` and every directory below it.
fn dirs_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(dirs_below(&e.path()));
        }
    }
    out
}

#[test]
fn run_directories_and_locks_are_private_to_the_user() {
    let sim = Sim::new(
        &config("binary(faults) & test(=faulty_0)", "", 1),
        Some("time_scale = 0.01\n"),
    );
    let out = main_run(&sim, &[]).output().expect("run");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // A provider directory left readable (by an older version, or by hand) is made private again.
    let provider = sim.provider_state();
    std::fs::set_permissions(&provider, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = main_run(&sim, &[]).output().expect("run");
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // Locks (run.lock, owner.lock), journals and settings live in here.
    for d in dirs_below(&provider) {
        assert_eq!(mode(&d), 0o700, "{} is not private", d.display());
    }
    assert!(provider.join("run.lock").exists());
    let run_id = sim.summary()["run_id"].as_str().expect("run id").to_string();
    let run_dir = crate::support::cli::fixture_target().join("orbtest/runs").join(&run_id);
    for d in dirs_below(&run_dir) {
        assert_eq!(mode(&d), 0o700, "{} is not private", d.display());
    }
    assert_eq!(mode(&sim.reports()), 0o700, "a report directory we create is private");
}

/// A shim set up as preflight does, with `real` as the real orbctl; returns (shim, run dir) and
/// the run's broker, which serves while it lives.
fn shim(root: &Path, real: PathBuf, state: &Path) -> (PathBuf, PathBuf, orbtest_machines::broker::Broker) {
    let shim = link_orbctl(Path::new(env!("CARGO_BIN_EXE_cargo-orbtest")), &root.join("shim")).expect("link");
    let run_dir = root.join("run");
    std::fs::create_dir_all(&run_dir).expect("run dir");
    let broker = crate::support::served(&run_dir, "security", &real, state, |_| {});
    (shim, run_dir, broker)
}

/// An `orbctl` that only leaves a mark that it ran.
fn impostor(dir: &Path, mark: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let path = dir.join("orbctl");
    std::fs::write(&path, format!("#!/bin/sh\ntouch {}\necho impostor\n", mark.display())).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn the_shim_never_runs_an_orbctl_found_on_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let real = crate::support::sim_links(&root.join("real")).orbctl;
    let (shim, run_dir, _broker) = shim(root, real, &root.join("state"));
    let mark = root.join("impostor-ran");
    impostor(&root.join("evil"), &mark);
    // The impostor comes first on PATH, then the shim's own directory (as in a tier), then the rest.
    let path = std::env::join_paths([root.join("evil"), shim.parent().expect("dir").to_path_buf()])
        .expect("PATH")
        .into_string()
        .expect("utf-8");
    let path = format!("{path}:{}", std::env::var("PATH").unwrap_or_default());
    // Managed, streamed, passed through, and argv orbctl itself rejects.
    for args in [
        &["create", "ubuntu:22.04", "web"][..],
        &["list", "-f", "json"],
        &["run", "-m", "web", "true"],
        &["frobnicate"],
        &["--help"],
        &["create", "--set-password=x", "ubuntu", "x"],
        &["delete", "-f", "web"],
    ] {
        let out = Command::new(&shim)
            .args(args)
            .env("PATH", &path)
            .env("ORBTEST_RUN_DIR", &run_dir)
            .env_remove("ORBSIM_SCENARIO")
            .output()
            .expect("shim");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("impostor"), "{args:?}");
        assert!(
            !mark.exists(),
            "`orbctl {}` ran the orbctl found on PATH",
            args.join(" ")
        );
    }
}

#[test]
fn a_real_orbctl_given_by_name_only_is_refused_not_looked_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let (shim, run_dir, _broker) = shim(root, PathBuf::from("orbctl"), &root.join("state"));
    let mark = root.join("impostor-ran");
    impostor(&root.join("evil"), &mark);
    let out = Command::new(&shim)
        .args(["list"])
        .env("PATH", root.join("evil"))
        .env("ORBTEST_RUN_DIR", &run_dir)
        .output()
        .expect("shim");
    assert_eq!(code(&out), 1);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("orbctl (cargo orbtest shim):"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!mark.exists(), "the shim searched PATH for the real orbctl");
}

/// Every file below `dir`, as bytes.
fn files_below(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            out.extend(files_below(&p));
        } else if kind.is_symlink() {
            // The shim's links to the cargo-orbtest binary.
            continue;
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.push((p, bytes));
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn secrets_never_reach_logs_journals_or_reports() {
    const TOKEN: &str = "tok-5e1f0a9c3b77";
    const SECRETS: &[&str] = &[TOKEN, "hunter2-reliability", "inline-7d1e9c2b", "inline-key-4411"];
    let machines = "[[machines.baseline]]\nname = \"orbtest-base\"\nimage = \"ubuntu:22.04\"\n\
                    provision = [\"echo provisioning with $RELIABILITY_TOKEN\", \
                    \"export DEPLOY_KEY=inline-key-4411; echo done\"]\n";
    let sim = Sim::new(
        &config("binary(faults) & test(=prints_secrets_and_fails)", machines, 1),
        Some("time_scale = 0.01\n"),
    );
    let out = main_run(&sim, &[])
        .env("RELIABILITY_TOKEN", TOKEN)
        .output()
        .expect("run");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let shown = stderr(&out);
    assert!(shown.contains("the API rejected token [REDACTED]"), "{shown}");

    let run_id = sim.summary()["run_id"].as_str().expect("run id").to_string();
    let run_dir = crate::support::cli::fixture_target().join("orbtest/runs").join(&run_id);
    let mut files = files_below(&run_dir);
    files.extend(files_below(&sim.reports()));
    files.extend(files_below(&sim.path().join("home")));
    files.extend(files_below(&sim.provider_state()));
    for (path, bytes) in &files {
        for secret in SECRETS {
            assert!(!contains(bytes, secret), "{secret} in {}", path.display());
        }
    }
    assert!(!shown.contains(TOKEN), "{shown}");
    // They were there, and got masked (so this test can fail).
    let masked = |rel: &str| {
        let bytes = std::fs::read(run_dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(contains(&bytes, "[REDACTED]"), "nothing masked in {rel}");
    };
    masked("tiers/main/nextest.log");
    masked("report.html");
    masked("summary.json");
    masked("junit.xml");
    masked("baselines/orbtest-base/provision-1.log");
    masked("baselines/orbtest-base/provision-2.log");
}
