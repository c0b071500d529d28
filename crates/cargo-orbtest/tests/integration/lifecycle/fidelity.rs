//! For representative argv (errors included), the shim's stdout, stderr and exit code equal
//! orbctl's (orbsim's) own: the same sequence runs against two fresh simulated OrbStacks, one
//! called directly, one through the shim.

use std::path::Path;
use std::process::{Command, Output};

use orbtest_machines::provider::link_orbctl;

const SHAPES: &[&[&str]] = &[
    &["version"],
    &["status"],
    &["list"],
    &["list", "-f", "json"],
    &["create", "ubuntu:22.04", "web"],
    &["create", "ubuntu:22.04", "web"],
    &["create", "ubuntu:22.04", "bad_name"],
    &["create", "nosuch:1", "box"],
    &["create", "-a", "sparc", "ubuntu", "box"],
    &["list", "-f", "json"],
    &["list", "-q"],
    &["info", "web", "-f", "json"],
    &["info", "missing", "--format", "json"],
    &["run", "-m", "web", "echo", "hi"],
    &["run", "-m", "web", "sh", "-c", "echo out; echo err >&2; exit 3"],
    &["run", "-m", "web", "--", "true"],
    &["stop", "web"],
    &["stop", "-f", "web"],
    &["start", "web"],
    &["clone", "web", "web2"],
    &["rename", "web2", "web3"],
    &["delete", "web3"],
    &["delete", "web3"],
    &["delete"],
    &["logs", "missing"],
    &["config", "get", "cpu"],
    &["pull", "ubuntu:22.04"],
    &["default"],
    &["frobnicate"],
    &["list", "-", "json"],
    &["list", "-f", "yaml"],
    &["delete", "-f", "web"],
];

/// ULIDs and addresses differ between two simulated OrbStacks; everything else must not.
fn normalize(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    for word in text.split_inclusive(|c: char| !c.is_ascii_alphanumeric() && c != '.') {
        let (core, sep) = word.split_at(
            word.trim_end_matches(|c: char| !c.is_ascii_alphanumeric() && c != '.')
                .len(),
        );
        let is_ulid = core.len() == 26 && core.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase());
        let is_ip = core.starts_with("192.168.") || core.starts_with("198.19.");
        out.push_str(if is_ulid {
            "<ULID>"
        } else if is_ip {
            "<IP>"
        } else {
            core
        });
        out.push_str(sep);
    }
    out
}

fn call(program: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_remove("ORBSIM_SCENARIO")
        .env_remove("ORBTEST_RUN_DIR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run")
}

#[test]
fn the_shim_answers_exactly_as_orbctl() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // orbctl itself (orbsim behind a link named orbctl), for the direct calls and for the shim.
    let direct = crate::support::sim_links(&root.join("real")).orbctl;
    // The shim: cargo-orbtest behind a link named orbctl, with a run's settings.
    let shim = link_orbctl(Path::new(env!("CARGO_BIN_EXE_cargo-orbtest")), &root.join("shim")).unwrap();
    let run_dir = root.join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let through = root.join("state-shim");
    let _broker = crate::support::served(&run_dir, "fidelity", &direct, &through, |_| {});

    let state_direct = root.join("state-direct");
    for args in SHAPES {
        let a = call(&direct, args, &[("ORBSIM_STATE", &state_direct)]);
        let b = call(&shim, args, &[("ORBTEST_RUN_DIR", &run_dir)]);
        assert_eq!(
            a.status.code(),
            b.status.code(),
            "exit code of `orbctl {}`",
            args.join(" ")
        );
        assert_eq!(
            normalize(&a.stdout),
            normalize(&b.stdout),
            "stdout of `orbctl {}`",
            args.join(" ")
        );
        assert_eq!(
            normalize(&a.stderr),
            normalize(&b.stderr),
            "stderr of `orbctl {}`",
            args.join(" ")
        );
    }
    assert!(SHAPES.len() >= 30);
    // The shim journaled what it managed, with ownership of the machines it created.
    let journal = std::fs::read_to_string(run_dir.join("journal.jsonl")).unwrap();
    assert!(
        journal.contains(r#""event":"own","#) && journal.contains(r#""machine":"web""#),
        "{journal}"
    );
}
