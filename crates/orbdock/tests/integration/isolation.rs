//! Real machines: their own filesystems, sudo, /tmp, an address the host reaches.

use crate::support::{self, World};

#[test]
fn machines_are_isolated_from_the_host_and_each_other() {
    let Some((engine, image)) = support::image() else {
        return;
    };
    let w = World::new(engine, &image);
    w.orbctl(["create", support::IMAGE, "iso-a"]).ok();
    w.orbctl(["create", support::IMAGE, "iso-b"]).ok();
    let marker = format!("/tmp/orbdock-isolation-{}", w.project);
    w.orbctl(["run", "-m", "iso-a", "sh", "-c", &format!("echo secret > {marker}")])
        .ok();
    assert_eq!(w.orbctl(["run", "-m", "iso-a", "cat", &marker]).ok().stdout, "secret\n");
    assert!(!std::path::Path::new(&marker).exists(), "the file reached the host");
    let other = w.orbctl(["run", "-m", "iso-b", "test", "-e", &marker]);
    assert_eq!(other.code, 1, "the file reached the other machine: {other:?}");
    // Each machine is named after itself.
    assert_eq!(w.orbctl(["run", "-m", "iso-b", "hostname"]).ok().stdout, "iso-b\n");
}

#[test]
fn sudo_tmp_and_ping_work_like_on_a_real_machine() {
    let Some((engine, image)) = support::image() else {
        return;
    };
    let w = World::new(engine, &image);
    w.orbctl(["create", support::IMAGE, "real-a"]).ok();
    let out = w.orbctl([
        "run",
        "-m",
        "real-a",
        "sh",
        "-c",
        "id -un; sudo -n id -un; test -d /tmp && test -w /tmp && echo tmp-ok",
    ]);
    assert_eq!(out.ok().stdout, "tester\nroot\ntmp-ok\n", "{out:?}");
    // systemd is PID 1 (unless this engine cannot run it: then the minimal init is).
    let pid1 = w
        .orbctl(["run", "-m", "real-a", "cat", "/proc/1/comm"])
        .ok()
        .stdout
        .clone();
    let systemd = w.engine.describe().systemd;
    if systemd == orbdock::SystemdSupport::Yes {
        assert_eq!(pid1, "systemd\n");
    } else {
        eprintln!("systemd cannot be PID 1 here ({systemd:?}); PID 1 is {pid1}");
    }
    let info = w.orbctl(["info", "real-a", "-f", "json"]);
    let info = orbctl::parse_info(info.ok().stdout.as_bytes()).expect("info json");
    assert!(info.is_ready(), "{info:?}");
    let ip = info.ip4.expect("ip4");
    let ping = std::process::Command::new("ping")
        .args(["-c", "1", "-W", "5", &ip])
        .output();
    match ping {
        Ok(o) => assert!(
            o.status.success(),
            "ping {ip} failed: {}",
            String::from_utf8_lossy(&o.stdout)
        ),
        Err(e) => {
            support::skip(&format!("no ping on the host ({e})"));
        }
    }
    // And from one machine to another.
    w.orbctl(["create", support::IMAGE, "real-b"]).ok();
    w.orbctl(["run", "-m", "real-b", "ping", "-c", "1", "-W", "5", &ip])
        .ok();
}
