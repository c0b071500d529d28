//! Captured, streamed and redirected output.

use std::time::Duration;

use orbtest_process::{Invocation, Output, Sink, StdinMode, Supervision, capture, run};

use crate::sh;

#[test]
fn captures_both_streams_and_the_exit_code() {
    let c = capture(&sh("printf out; printf err >&2; echo $ORBTEST_PROBE; exit 3"), None).unwrap();
    assert_eq!(c.stdout, b"out42\n");
    assert_eq!(c.stderr, b"err");
    assert_eq!(c.code, Some(3));
    assert!(!c.timed_out && !c.success());
}

#[test]
fn streams_both_outputs_line_by_line() {
    let mut lines = Vec::new();
    let exit = run(
        &sh("echo out; echo err >&2; echo $ORBTEST_PROBE; exit 3"),
        &Supervision::new().timeout(Duration::from_secs(60)),
        Output::Lines(&mut |l| lines.push(String::from_utf8_lossy(l).into_owned())),
    )
    .unwrap();
    assert_eq!(exit.code, Some(3));
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines.contains(&"err\n".to_string()) && lines.contains(&"42\n".to_string()));
}

#[test]
fn redirects_to_files_and_runs_in_the_given_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::fs::File::create(dir.path().join("out")).unwrap();
    let inv = sh("pwd; echo nope >&2").dir(dir.path()).stdin(StdinMode::Null);
    let exit = run(
        &inv,
        &Supervision::new(),
        Output::Redirect {
            stdout: Sink::File(out),
            stderr: Sink::Null,
        },
    )
    .unwrap();
    assert!(exit.success());
    let written = std::fs::read_to_string(dir.path().join("out")).unwrap();
    assert_eq!(written.trim(), dir.path().canonicalize().unwrap().display().to_string());
}

#[test]
fn inherited_variables_can_be_left_out() {
    // SAFETY: set before any child of this test starts; the name is this test's own.
    unsafe { std::env::set_var("ORBTEST_SCRUB_ME_PROBE", "outer") };
    let inv = sh("echo \"[$ORBTEST_SCRUB_ME_PROBE]\"").without_inherited("ORBTEST_SCRUB_ME_");
    let c = capture(&inv, None).unwrap();
    assert_eq!(c.stdout, b"[]\n");
}

#[test]
fn a_missing_program_names_itself() {
    let e = capture(&Invocation::new("/nonexistent/orbctl"), None).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/orbctl"), "{e}");
    assert_eq!(e.io().kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn a_bare_program_name_is_looked_up_on_path_even_with_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let c = capture(&Invocation::new("sh").args(["-c", "echo found"]).dir(dir.path()), None).unwrap();
    assert_eq!(c.stdout, b"found\n");
}
