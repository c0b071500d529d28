//! Ctrl-C during a command tier: the command's process group is told, the run still writes its
//! reports, and orbtest exits 130.

use std::process::Stdio;

use crate::support::pysuite::{Scenario, alive, wait_until};

#[test]
fn sigint_stops_the_command_and_the_run_reports_it() {
    let config = r#"
[tiers.long]
command = ["sh", "-c", 'sleep 300 & echo $! > state/sleep.pid; echo $$ > state/sh.pid; wait']
"#;
    let s = Scenario::new(config, None, None);
    std::fs::create_dir_all(s.state()).unwrap();
    let mut child = s
        .command(&[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn cargo-orbtest");
    let pid_of = |name: &str| -> Option<i32> {
        std::fs::read_to_string(s.state().join(name))
            .ok()
            .and_then(|t| t.trim().parse().ok())
    };
    wait_until("the command to start", || {
        pid_of("sh.pid").is_some() && pid_of("sleep.pid").is_some()
    });
    // SAFETY: kill(2) on the process this test started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let summary = s.summary();
    assert_eq!(summary["interrupted"], "SIGINT", "{summary}");
    assert_eq!(summary["tiers"][0]["outcome"], "failed");
    for name in ["sh.pid", "sleep.pid"] {
        let pid = pid_of(name).unwrap();
        wait_until(&format!("{name} ({pid}) to be gone"), || !alive(pid));
    }
}
