//! Ctrl-C and SIGTERM in the middle of a tier: nextest is stopped, nothing is left running,
//! the reports say what happened, and the exit code is 130/143.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::cli::Scenario;

const CONFIG: &str = r#"
[tiers.waiting]
filter = "test(=tests::waits_on_request) | test(=tests::passes)"
timeout = "10m"
[tiers.after]
filter = "test(=tests::passes)"
"#;

fn wait_for(path: &Path, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && !text.is_empty()
        {
            return text;
        }
        assert!(start.elapsed() < limit, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn interrupt_mid_tier(signal: i32, expected_code: i32, name: &str) {
    let s = Scenario::new("basic", CONFIG);
    let wait_dir = s.path().join("wait");
    std::fs::create_dir(&wait_dir).unwrap();
    let mut child = s
        .command(["--report-dir".as_ref(), s.reports().as_os_str()])
        .env("FIXTURE_WAIT_DIR", &wait_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Generous: the first run may have to build the fixture.
    let test_pid: i32 = wait_for(&wait_dir.join("waits_on_request.pid"), Duration::from_secs(300))
        .trim()
        .parse()
        .unwrap();
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, signal) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(expected_code));

    let summary = s.summary();
    assert_eq!(summary["outcome"], "error");
    assert_eq!(summary["interrupted"], name);
    assert_eq!(summary["exit_code"], expected_code);
    let waiting = s.tier("waiting");
    assert_eq!(waiting["outcome"], "failed");
    assert_ne!(
        waiting["tests"]["passed"], 2,
        "the interrupted test must not be reported as passed: {waiting}"
    );
    assert_eq!(s.tier("after")["outcome"], "skipped");

    let start = Instant::now();
    while alive(test_pid) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "test process {test_pid} outlived the run"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigint_mid_tier_stops_nextest_and_exits_130() {
    interrupt_mid_tier(libc::SIGINT, 130, "SIGINT");
}

#[test]
fn sigterm_mid_tier_stops_nextest_and_exits_143() {
    interrupt_mid_tier(libc::SIGTERM, 143, "SIGTERM");
}
