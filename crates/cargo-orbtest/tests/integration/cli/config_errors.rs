//! Bad input through the real binary: exit 64 with the file, line and column.

use crate::support::cli::{Scenario, code, stderr};

fn redact(s: &Scenario, text: &str) -> String {
    text.replace(&s.path().display().to_string(), "[dir]")
}

#[test]
fn an_invalid_filterset_is_judged_by_nextest_and_shown_at_its_line() {
    let s = Scenario::new(
        "basic",
        "[tiers.fast]\nfilter = \"kind(lib)\"\n\n[tiers.broken]\nfilter = \"test(\"\n",
    );
    let out = s.run(Vec::<String>::new());
    assert_eq!(code(&out), 64, "{}", stderr(&out));
    let err = redact(&s, &stderr(&out));
    assert!(
        err.contains("[dir]/orchestrator.toml:5:10: invalid filter in [tiers.broken]"),
        "{err}"
    );
    assert!(
        err.contains("expected close parenthesis"),
        "nextest's own message is shown: {err}"
    );
    assert!(!s.reports().join("summary.json").exists(), "nothing ran, so no report");
}

#[test]
fn an_invalid_flaky_filterset_points_at_its_entry() {
    let s = Scenario::new("basic", "[tiers.fast]\nflaky = [\"test(=ok)\", \"test(/[/)\"]\n");
    let out = s.run(Vec::<String>::new());
    assert_eq!(code(&out), 64, "{}", stderr(&out));
    let err = redact(&s, &stderr(&out));
    assert!(
        err.contains("[dir]/orchestrator.toml:2:23: invalid flaky filterset in [tiers.fast]"),
        "{err}"
    );
    assert!(err.contains("invalid regex"), "{err}");
}

#[test]
fn config_errors_exit_64_with_location() {
    let s = Scenario::new("basic", "[tiers.fast]\nthread = 4\n");
    let out = s.run(Vec::<String>::new());
    assert_eq!(code(&out), 64);
    let err = redact(&s, &stderr(&out));
    assert!(
        err.starts_with("error: [dir]/orchestrator.toml:2:1: unknown key `thread` in [tiers.fast]"),
        "{err}"
    );
    assert!(err.contains("did you mean `threads`?"), "{err}");
}

#[test]
fn a_missing_config_offers_init() {
    let s = Scenario::new("basic", "");
    std::fs::remove_file(s.path().join("orchestrator.toml")).unwrap();
    let out = s.run(Vec::<String>::new());
    assert_eq!(code(&out), 64);
    let err = stderr(&out);
    assert!(err.contains("no config file at"), "{err}");
    assert!(err.contains("cargo orbtest init"), "{err}");
    assert!(err.contains("[tiers.fast]"), "a starter is shown: {err}");
}

#[test]
fn an_unknown_tier_on_the_command_line_is_a_usage_error() {
    let s = Scenario::new("basic", "[tiers.fast]\n[tiers.integration]\n");
    let out = s.run(["--tier", "integraton"]);
    assert_eq!(code(&out), 64);
    let err = stderr(&out);
    assert!(err.contains("unknown tier `integraton`"), "{err}");
    assert!(err.contains("did you mean `integration`?"), "{err}");
}

#[test]
fn conflicting_and_unknown_flags_are_usage_errors() {
    let s = Scenario::new("basic", "[tiers.fast]\n");
    let out = s.run(["--quiet", "--verbose"]);
    assert_eq!(code(&out), 64, "{}", stderr(&out));
    let out = s.run(["--frobnicate"]);
    assert_eq!(code(&out), 64, "{}", stderr(&out));
    assert!(stderr(&out).contains("--frobnicate"));
}

#[test]
fn not_a_cargo_workspace_is_a_usage_error() {
    let s = Scenario::new("basic", "[tiers.fast]\n");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cargo-orbtest"));
    crate::support::cli::scrub(&mut cmd);
    let out = cmd.arg("orbtest").current_dir(s.path()).output().unwrap();
    assert_eq!(code(&out), 64, "{}", stderr(&out));
    assert!(stderr(&out).contains("not a cargo workspace"), "{}", stderr(&out));
}

/// A config path that is a directory, or a file that is not text, is the user's mistake (64),
/// not an infrastructure failure (they exited 3).
#[test]
fn a_config_that_is_a_directory_or_not_text_is_a_usage_error() {
    use std::os::unix::ffi::OsStrExt;
    let s = Scenario::new("basic", "[tiers.fast]\n");
    let binary = s.path().join("binary.toml");
    std::fs::write(&binary, b"[tiers.fast]\nfilter = \"\xff\xfe\"\n").unwrap();
    // A path that is not UTF-8 itself, holding a valid config: that works.
    let odd = s.path().join(std::ffi::OsStr::from_bytes(b"odd-\xff.toml"));
    std::fs::write(&odd, "[tiers.cmd]\ncommand = [\"true\"]\n").unwrap();
    for (config, expected, says) in [
        (s.path().to_path_buf(), 64, "is not a file"),
        (binary, 64, "is not UTF-8 text"),
        (odd, 0, ""),
    ] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cargo-orbtest"));
        crate::support::cli::scrub(&mut cmd);
        let out = cmd
            .args(["orbtest", "--report-dir"])
            .arg(s.reports())
            .arg("--config")
            .arg(&config)
            .current_dir(s.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert_eq!(code(&out), expected, "{}: {}", config.display(), stderr(&out));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
    }
}
