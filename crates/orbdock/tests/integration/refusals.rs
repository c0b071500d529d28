//! What orbdock refuses, in orbctl's words, and what it says without an engine.

use std::process::Command;

use crate::support::{self, World};

fn orbdock_without_engine(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_orbdock"))
        .args(args)
        .env("DOCKER_HOST", "unix:///nonexistent/orbdock-test.sock")
        .output()
        .expect("run orbdock")
}

#[test]
fn without_an_engine_it_says_where_it_looked_and_how_to_start_one() {
    let out = orbdock_without_engine(&["list", "-f", "json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.starts_with("[-32098] no Docker engine reachable at DOCKER_HOST=unix:///nonexistent/orbdock-test.sock")
            && stderr.contains("dockerd"),
        "{stderr}"
    );
    let status = orbdock_without_engine(&["status"]);
    assert_eq!(status.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&status.stdout), "Stopped\n");
    // Like orbctl when OrbStack is down: stop says so and succeeds.
    let stop = orbdock_without_engine(&["stop", "web"]);
    assert_eq!(stop.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&stop.stderr), "OrbStack is not running\n");
    // Argument errors need no engine.
    let bad = orbdock_without_engine(&["create", "--arch", "sparc", "ubuntu", "x"]);
    assert!(String::from_utf8_lossy(&bad.stderr).starts_with("Error: invalid architecture: sparc\n"));
    let version = orbdock_without_engine(&["version"]);
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("Version: "));
}

#[test]
fn impossible_architectures_and_cloud_init_are_refused_in_orbctls_words() {
    let Some((engine, image)) = support::image() else {
        return;
    };
    let w = World::new(engine, &image);
    let host = orbdock::engine::host_arch();
    let foreign = if host == "amd64" { "arm64" } else { "amd64" };
    let out = w.orbctl(["create", "-a", foreign, support::IMAGE, "arch-x"]);
    if host == "amd64" {
        // No Mac of this kind runs arm64: the CLI's own refusal.
        assert!(
            out.stderr
                .starts_with(&format!("Error: invalid architecture: {foreign}\n")),
            "{out:?}"
        );
    } else {
        assert!(out.stderr.contains("runs arm64 machines only"), "{out:?}");
    }
    if host == "amd64" {
        let i386 = w.orbctl(["create", "-a", "i386", support::IMAGE, "arch-y"]);
        assert_eq!(
            i386.stderr,
            "[-32098] create 'arch-y': make rootfs: this Docker engine runs amd64 machines only, not i386\n"
        );
    }
    std::fs::write(w.dir.path().join("user-data.yaml"), "#cloud-config\n").expect("write");
    let ci = w.orbctl(["create", "-c", "user-data.yaml", support::IMAGE, "ci-x"]);
    assert_eq!(
        ci.stderr,
        "[-32098] create 'ci-x': cloud-init not supported for 'ubuntu:22.04'\n"
    );
    let missing = w.orbctl(["create", "-c", "nope.yaml", support::IMAGE, "ci-y"]);
    assert_eq!(missing.stderr, "open nope.yaml: no such file or directory\n");
    // The native architecture is fine, and said so in the record.
    w.orbctl(["create", "-a", &host, support::IMAGE, "arch-ok"]).ok();
    let info = w.orbctl(["info", "arch-ok", "-f", "json"]);
    let info = orbctl::parse_info(info.ok().stdout.as_bytes()).expect("info");
    assert_eq!(info.record.image.arch, host);
    assert_eq!(w.orbctl(["list", "-q"]).ok().stdout, "arch-ok\n");
}

#[test]
fn a_machine_on_the_minimal_init_still_has_its_user_sudo_and_address() {
    let Some((engine, image)) = support::image() else {
        return;
    };
    let w = World::new(engine, &image);
    let mut c = w.command();
    c.env("ORBDOCK_INIT", "minimal")
        .args(["create", "-u", "dev", support::IMAGE, "mini"]);
    let out = support::run_with_stdin(c, b"");
    out.ok();
    let out = w.orbctl([
        "run",
        "-m",
        "mini",
        "sh",
        "-c",
        "id -un; sudo -n id -un; cat /proc/1/comm; hostname",
    ]);
    assert_eq!(out.ok().stdout, "dev\nroot\ndocker-init\nmini\n");
    let info = w.orbctl(["info", "mini", "-f", "json"]);
    assert!(
        orbctl::parse_info(info.ok().stdout.as_bytes())
            .expect("info")
            .is_ready()
    );
    w.orbctl(["restart", "mini"]).ok();
    assert_eq!(w.orbctl(["run", "-m", "mini", "id", "-un"]).ok().stdout, "dev\n");
}
