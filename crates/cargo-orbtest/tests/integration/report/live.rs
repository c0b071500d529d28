//! The live view of a real run in a real terminal: tmux runs `cargo orbtest` in a pane 160
//! columns wide, then 80, and presses Ctrl-C. The screen is captured at each point (durations
//! and percentages normalized) and compared with snapshots: a failure with its message, the
//! retry wait, the running test, the tier bar once and no line wider than the pane, then
//! `stopping…` the moment Ctrl-C arrives. `.ci/run` installs tmux; without it the test skips
//! here and fails in CI.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::cli::{Scenario, fixture_target};

const CONFIG: &str = r#"
[tiers.live]
filter = "kind(lib) & test(/fails_on_request|waits_on_request|passes|slow/)"
threads = 4
retries = { count = 2, delay = "30s" }
"#;

struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("run tmux")
    }

    fn screen(&self) -> String {
        // With the scrollback: lines a resize pushed off the top are still the run's.
        let out = self.cmd(&["capture-pane", "-p", "-S", "-", "-t", "live"]);
        if !out.status.success() {
            return format!("(tmux capture-pane: {})", String::from_utf8_lossy(&out.stderr).trim());
        }
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    /// Polls the pane (a loaded CI machine is slow: up to two minutes).
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "gave up waiting for {what}; the pane shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

/// Durations and percentages vary from run to run: `#s`, `#%`.
fn normalize(screen: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = screen.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_ascii_alphanumeric()) {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
                j += 1;
            }
            let rest: String = chars[j..chars.len().min(j + 2)].iter().collect();
            let unit = ["ms", "s", "m", "%"]
                .into_iter()
                .find(|u| rest.starts_with(u) && !chars.get(j + u.len()).is_some_and(|c| c.is_ascii_alphanumeric()));
            if let Some(unit) = unit {
                out.push('#');
                out.push_str(unit);
                i = j + unit.len();
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    // One token for any duration ("1m 05s" became "#m #s"), and the running tests' times,
    // right-aligned to their width, at one indent.
    out.replace("#m #s", "#t")
        .replace("#ms", "#t")
        .replace("#s", "#t")
        .lines()
        .map(|l| match l.trim_start().strip_prefix("#t ") {
            Some(rest) => format!("  #t {rest}"),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_fits(screen: &str, columns: usize) {
    for line in screen.lines() {
        assert!(
            line.chars().count() <= columns,
            "wider than {columns}: {line:?}\n{screen}"
        );
    }
    let bars = screen.lines().filter(|l| l.starts_with("tier live ")).count();
    assert!(bars <= 1, "a stale bar is left behind:\n{screen}");
}

#[test]
fn live_view_in_a_terminal_at_160_then_80_columns_and_ctrl_c() {
    if which::which("tmux").is_err() {
        assert!(
            std::env::var("CI").is_ok_and(|v| v != "true") || std::env::var("CI").is_err(),
            "CI=true: tmux must be installed (.ci/run installs it)"
        );
        eprintln!("SKIPPED: no tmux on PATH; `.ci/run` installs it (apt-get install -y tmux)");
        return;
    }
    let s = Scenario::new("basic", CONFIG);
    let wait_dir = s.path().join("wait");
    std::fs::create_dir(&wait_dir).unwrap();
    let script = s.path().join("run.sh");
    let quoted = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
    // Our own nextest's variables stay out (some names are not valid shell names: `env -u`).
    let mut env = String::from("env");
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("NEXTEST_") {
            env.push_str(&format!(" -u {}", quoted(Path::new(&key))));
        }
    }
    std::fs::write(
        &script,
        format!(
            "trap true INT\nexport CARGO_TARGET_DIR={target} FIXTURE_FAIL=1 FIXTURE_WAIT_DIR={wait} NO_COLOR=1 RUST_BACKTRACE=0\n\
             {env} {bin} orbtest --manifest-path {manifest} --config {config} --report-dir {reports}\n\
             echo \"EXIT=$?\"\n\
             sleep 600\n",
            target = quoted(&fixture_target()),
            wait = quoted(&wait_dir),
            bin = quoted(Path::new(env!("CARGO_BIN_EXE_cargo-orbtest"))),
            manifest = quoted(&s.fixture.join("Cargo.toml")),
            config = quoted(&s.path().join("orchestrator.toml")),
            reports = quoted(&s.reports()),
        ),
    )
    .unwrap();
    let tmux = Tmux {
        socket: format!("orbtest-live-{}", std::process::id()),
    };
    let script_arg = format!("sh {}", quoted(&script));
    let out = tmux.cmd(&["new-session", "-d", "-s", "live", "-x", "160", "-y", "40", &script_arg]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // A failed attempt, its retry wait, the test still running, and the two that passed.
    let at_160 = tmux.wait_for("the failure, the retry wait and the running test", |screen| {
        screen.contains("retrying fixture-basic tests::fails_on_request in 30s")
            && screen.contains("fixture-basic tests::waits_on_request")
            && screen.contains("2/4")
            && screen.contains("1 running")
    });
    assert_fits(&at_160, 160);
    assert!(
        at_160.contains("✗ FAIL fixture-basic tests::fails_on_request"),
        "{at_160}"
    );
    assert!(
        at_160.contains("    FIXTURE_FAIL is set"),
        "the first line of its message: {at_160}"
    );
    insta::assert_snapshot!("live_view_tmux_160", normalize(&at_160));

    let out = tmux.cmd(&["resize-window", "-t", "live", "-x", "80", "-y", "40"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let at_80 = tmux.wait_for("a frame drawn at 80 columns", |screen| {
        screen
            .lines()
            .any(|l| l.starts_with(&format!("tier live [{}] ", "█".repeat(8) + &"░".repeat(8))))
            && screen.lines().all(|l| l.chars().count() <= 80)
            && screen.contains("waits_on_request")
            && screen.contains("1 running")
    });
    assert_fits(&at_80, 80);
    insta::assert_snapshot!("live_view_tmux_80", normalize(&at_80));

    let out = tmux.cmd(&["send-keys", "-t", "live", "C-c"]);
    assert!(out.status.success());
    let stopping = tmux.wait_for("the stopping line", |screen| screen.contains("stopping…"));
    assert!(stopping.contains("stopping… (SIGINT): ending the tests"), "{stopping}");
    let end = tmux.wait_for("the end of the run", |screen| screen.contains("EXIT="));
    assert!(end.contains("EXIT=130"), "{end}");
    assert!(end.contains("INTERRUPTED (SIGINT)"), "{end}");
}
