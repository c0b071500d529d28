//! One scripted orbctl session against orbsim and against orbdock: the same stdout, stderr and
//! exit codes, once ids, addresses, sizes and scratch paths are normalised.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{self, Out, World, run_with_stdin};

enum Step {
    /// `orbctl ARGS` with this stdin.
    Orbctl(&'static [&'static str], &'static str),
    /// Write a host file (relative to the scratch directory).
    Write(&'static str, &'static str),
    /// Show a host file's content (or that it is missing).
    Read(&'static str),
}

use Step::{Orbctl as O, Read, Write};

const SESSION: &[Step] = &[
    O(&["create", "ubuntu:22.04", "pa"], ""),
    O(&["create", "ubuntu:22.04", "pa"], ""),
    O(&["create", "ubuntu:22.04", "a_b"], ""),
    O(&["create", "nosuch:1", "x"], ""),
    O(&["create", "--arch", "sparc", "ubuntu", "x"], ""),
    O(&["default"], ""),
    O(&["list", "-q"], ""),
    O(&["list", "-f", "json"], ""),
    O(&["list", "-f", "yaml"], ""),
    O(&["info", "pa", "-f", "json"], ""),
    O(&["info", "pa"], ""),
    O(&["info", "nope"], ""),
    O(&["run", "-m", "pa", "sh", "-c", "echo out; echo err >&2; exit 3"], ""),
    O(&["run", "-m", "pa", "sh", "-c", "echo $USER; basename $HOME"], ""),
    O(
        &[
            "run",
            "-m",
            "pa",
            "-u",
            "root",
            "sh",
            "-c",
            "echo $USER; basename $HOME",
        ],
        "",
    ),
    O(&["run", "-m", "pa", "mkdir", "-p", "work"], ""),
    O(&["run", "-m", "pa", "-w", "work", "sh", "-c", "basename \"$PWD\""], ""),
    O(&["run", "-m", "pa", "cat"], "line one\nline two\n"),
    O(&["run", "-m", "pa", "-s", "echo a", "&&", "echo b"], ""),
    O(&["run", "-m", "pa", "--", "uname"], ""),
    O(&["run", "-m", "pa", "nosuchcmd"], ""),
    O(&["run", "sh", "-c", "echo default machine as $USER"], ""),
    Write("hello.txt", "hi from the host\n"),
    O(&["push", "-m", "pa", "hello.txt"], ""),
    O(&["run", "-m", "pa", "cat", "hello.txt"], ""),
    O(&["pull", "-m", "pa", "hello.txt", "back.txt"], ""),
    Read("back.txt"),
    O(&["push", "-m", "pa", "missing.txt"], ""),
    O(&["push", "-m", "nope", "hello.txt"], ""),
    O(&["clone", "pa", "pb"], ""),
    O(&["list", "-f", "json"], ""),
    O(&["clone", "pa", "pb"], ""),
    O(&["clone", "nope", "pz"], ""),
    O(&["rename", "pb", "pc"], ""),
    O(&["rename", "pc", "pa"], ""),
    O(&["rename", "pc", "a_b"], ""),
    O(&["stop", "pa"], ""),
    O(&["info", "pa", "-f", "json"], ""),
    O(&["list", "-r", "-q"], ""),
    O(&["start", "pa"], ""),
    O(&["list", "-f", "json"], ""),
    O(&["run", "-m", "pc", "cat", "hello.txt"], ""),
    O(&["export", "pa", "pa.tar"], ""),
    O(&["import", "-n", "pd", "pa.tar"], ""),
    O(&["import", "-n", "pd", "pa.tar"], ""),
    O(&["import", "bogus.tar"], ""),
    O(&["list", "-q"], ""),
    O(&["run", "-m", "pd", "cat", "hello.txt"], ""),
    O(&["delete", "pc", "pd"], ""),
    O(&["delete", "pa"], ""),
    O(&["delete", "pa"], ""),
    O(&["delete"], ""),
    O(&["stop", "nope"], ""),
    O(&["logs", "nope"], ""),
    O(&["list", "-f", "json"], ""),
];

/// Plays the session with `orbctl(args, stdin)` in `dir`; returns the transcript.
fn play(dir: &Path, orbctl: &dyn Fn(&[&str], &str) -> Out) -> String {
    let mut t = String::new();
    for step in SESSION {
        match step {
            O(args, stdin) => {
                let out = orbctl(args, stdin);
                t.push_str(&format!(
                    "$ orbctl {}\n{}--- stderr\n{}--- exit {}\n",
                    args.join(" "),
                    out.stdout,
                    out.stderr,
                    out.code
                ));
            }
            Write(name, text) => {
                std::fs::write(dir.join(name), text).expect("write host file");
            }
            Read(name) => {
                let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| format!("<{e}>\n"));
                t.push_str(&format!("# host {name}:\n{text}"));
            }
        }
    }
    normalise(&t, dir)
}

fn is_ulid_char(c: u8) -> bool {
    c.is_ascii_digit() || (c.is_ascii_uppercase() && !b"ILOU".contains(&c))
}

/// Ids, addresses, sizes and the scratch directory made comparable; orbsim's IPv6 address
/// dropped (Docker machines have none).
pub(crate) fn normalise(text: &str, dir: &Path) -> String {
    let dir = dir.to_string_lossy();
    let text = text.replace(dir.as_ref(), "<DIR>");
    let mut out = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("\"ip6\"") || trimmed.starts_with("IPv6:") {
            continue;
        }
        let mut l = line.to_string();
        if let Some(i) = l.find("\"disk_size\": ") {
            l = format!(
                "{}\"disk_size\": <SIZE>{}",
                &l[..i],
                if l.ends_with(',') { "," } else { "" }
            );
        }
        if l.starts_with("Disk usage: ") {
            l = "Disk usage: <SIZE>".into();
        }
        out.push_str(&mask_ips(&mask_ulids(&l)));
        out.push('\n');
    }
    // A JSON line before a dropped "ip6" keeps its comma in one engine only.
    out.replace(",\n}", "\n}")
}

fn mask_ulids(l: &str) -> String {
    let b = l.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let run = b[i..].iter().take_while(|&&c| is_ulid_char(c)).count();
        let bounded =
            (i == 0 || !b[i - 1].is_ascii_alphanumeric()) && b.get(i + run).is_none_or(|c| !c.is_ascii_alphanumeric());
        if run == 26 && bounded {
            out.push_str("<ID>");
            i += 26;
        } else if run > 0 {
            out.push_str(&l[i..i + run]);
            i += run;
        } else {
            let ch = l[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn mask_ips(l: &str) -> String {
    l.split_inclusive(['"', ' '])
        .map(|w| {
            let core = w.trim_end_matches(['"', ' ']);
            let parts: Vec<&str> = core.split('.').collect();
            if parts.len() == 4 && parts.iter().all(|p| !p.is_empty() && p.parse::<u8>().is_ok()) {
                w.replacen(core, "<IP4>", 1)
            } else {
                w.to_string()
            }
        })
        .collect()
}

/// The orbsim binary beside this test binary (the workspace build makes it), built if absent.
fn orbsim_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target profile dir");
    let bin = profile_dir.join("orbsim");
    if !bin.exists() {
        let target_dir = profile_dir.parent().expect("target dir");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "-p", "orbsim", "--bin", "orbsim", "--target-dir"])
            .arg(target_dir)
            .status()
            .expect("cargo build orbsim");
        assert!(st.success(), "building orbsim failed");
    }
    bin
}

#[test]
fn one_session_answers_alike_on_orbsim_and_on_docker() {
    let Some((engine, image)) = support::image() else {
        return;
    };
    let world = World::new(engine, &image);

    // orbsim: fast simulated time, an amd64 "Mac" like this engine.
    let sim_dir = tempfile::tempdir().expect("tempdir");
    let links = tempfile::tempdir().expect("tempdir");
    let sim_orbctl = orbctl::links::link_orbctl(&orbsim_bin(), links.path()).expect("link orbsim");
    let scenario = sim_dir.path().join("scenario.toml");
    std::fs::write(&scenario, "time_scale = 0.0001\nhost_arch = \"amd64\"\n").expect("scenario");
    let state = tempfile::tempdir().expect("tempdir");
    let sim = play(sim_dir.path(), &|args, stdin| {
        let mut c = Command::new(&sim_orbctl);
        c.args(args)
            .env("ORBSIM_STATE", state.path())
            .env("ORBSIM_SCENARIO", &scenario)
            .env("USER", "tester")
            .current_dir(sim_dir.path());
        run_with_stdin(c, stdin.as_bytes())
    });

    let docker = play(world.dir.path(), &|args, stdin| {
        world.orbctl_stdin(args, stdin.as_bytes())
    });

    if let Some(path) = std::env::var_os("ORBDOCK_PARITY_TRANSCRIPT") {
        let _ = std::fs::write(path, &docker);
    }
    if sim != docker {
        let diff: Vec<String> = sim
            .lines()
            .zip(docker.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(10)
            .map(|(i, (a, b))| format!("line {}:\n  orbsim:  {a}\n  orbdock: {b}", i + 1))
            .collect();
        panic!(
            "orbsim and orbdock differ:\n{}\n\n==== orbsim ====\n{sim}\n==== orbdock ====\n{docker}",
            diff.join("\n")
        );
    }
    // The session did what it says: a few spot checks on the shared transcript.
    assert!(
        docker.contains("$ orbctl run -m pa cat\nline one\nline two\n"),
        "{docker}"
    );
    assert!(docker.contains("# host back.txt:\nhi from the host\n"), "{docker}");
}

#[test]
fn normalising_masks_ids_addresses_and_sizes_only() {
    let dir = Path::new("/tmp/x");
    let t = "\"id\": \"01K2G8TY5GM9C3CN95KCB4ZG8B\",\n  \"disk_size\": 962924544,\n  \"ip4\": \"198.19.249.76\",\n  \"ip6\": \"fd07::1\"\n}\nIPv4: 10.0.0.1\nopen /tmp/x/a.tar\nname pa-1.2\n";
    assert_eq!(
        normalise(t, dir),
        "\"id\": \"<ID>\",\n  \"disk_size\": <SIZE>,\n  \"ip4\": \"<IP4>\"\n}\nIPv4: <IP4>\nopen <DIR>/a.tar\nname pa-1.2\n"
    );
}
