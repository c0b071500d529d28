//! Issue #2's performance targets, measured on generated workspaces:
//! - `cargo orbtest --tier fast` over ~200 trivial tests, built and warm, against the equivalent
//!   `cargo nextest run`: overhead at most 5% or 150 ms, whichever is larger;
//! - the orbtest process's own peak RSS under 40 MB;
//! - `cargo orbtest list` over 5,000 tests adds under 1 s to `cargo nextest list`.
//!
//! Run: `cargo bench --bench core` (prints figures; exits non-zero if a target is missed).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 10;

fn main() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-core");
    let mut ok = true;
    ok &= tier_overhead(&root.join("trivial-200"));
    ok &= list_overhead(&root.join("generated-5000"));
    if !ok {
        std::process::exit(1);
    }
}

fn tier_overhead(dir: &Path) -> bool {
    generate(dir, 1, 200);
    std::fs::write(dir.join("orchestrator.toml"), "[tiers.fast]\nfilter = \"all()\"\n").unwrap();
    // Warm: build and run once each.
    run(nextest_run(dir));
    run(orbtest(dir, &["--tier", "fast", "-q"]));

    let mut plain = Vec::new();
    let mut ours = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..RUNS {
        plain.push(time(nextest_run(dir)));
        let mut cmd = orbtest(dir, &["--tier", "fast", "-q"]);
        cmd.env("ORBTEST_LOG", "orbtest=debug");
        let start = Instant::now();
        let out = cmd.output().unwrap();
        ours.push(start.elapsed());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        rss.push(peak_rss(&String::from_utf8_lossy(&out.stderr)));
    }
    let (p, o) = (median(&mut plain), median(&mut ours));
    let overhead = o.saturating_sub(p);
    let allowed = Duration::from_millis(150).max(p.mul_f64(0.05));
    let peak_rss_mib = rss.iter().copied().max().unwrap_or(0) as f64 / 1024.0;
    println!(
        "tier-overhead: tests=200 runs={RUNS} nextest_median={:.0}ms orbtest_median={:.0}ms overhead={:.0}ms ({:.1}%) allowed={:.0}ms",
        p.as_secs_f64() * 1e3,
        o.as_secs_f64() * 1e3,
        overhead.as_secs_f64() * 1e3,
        overhead.as_secs_f64() / p.as_secs_f64() * 100.0,
        allowed.as_secs_f64() * 1e3
    );
    println!("orbtest-peak-rss: {peak_rss_mib:.1} MiB (target < 40 MiB)");
    overhead <= allowed && peak_rss_mib < 40.0
}

fn list_overhead(dir: &Path) -> bool {
    generate(dir, 10, 500);
    std::fs::write(
        dir.join("orchestrator.toml"),
        "[tiers.fast]\nfilter = \"binary(/t[0-4]/)\"\n[tiers.integration]\nfilter = \"binary(/t[5-7]/)\"\n[tiers.e2e]\nfilter = \"binary(/t[89]/)\"\n",
    )
    .unwrap();
    let mut list = Command::new("cargo");
    list.args(["nextest", "list"]).current_dir(dir);
    scrub(&mut list);
    run(list);
    run(orbtest(dir, &["list", "-q"]));
    let mut plain = Vec::new();
    let mut ours = Vec::new();
    for _ in 0..5 {
        let mut list = Command::new("cargo");
        list.args(["nextest", "list"]).current_dir(dir);
        scrub(&mut list);
        plain.push(time(list));
        ours.push(time(orbtest(dir, &["list", "-q"])));
    }
    let (p, o) = (median(&mut plain), median(&mut ours));
    let added = o.saturating_sub(p);
    println!(
        "list-overhead: tests=5000 tiers=3 nextest_list_median={:.0}ms orbtest_list_median={:.0}ms added={:.0}ms (target < 1000ms)",
        p.as_secs_f64() * 1e3,
        o.as_secs_f64() * 1e3,
        added.as_secs_f64() * 1e3
    );
    added < Duration::from_secs(1)
}

/// A standalone workspace with `binaries` test binaries of `per_binary` trivial tests each.
fn generate(dir: &Path, binaries: usize, per_binary: usize) {
    let marker = dir.join(".generated");
    if marker.exists() {
        return;
    }
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"bench-fixture\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), "pub fn id(x: u64) -> u64 { x }\n").unwrap();
    for b in 0..binaries {
        let mut text = String::new();
        for t in 0..per_binary {
            text.push_str(&format!(
                "#[test]\nfn test_{t:04}() {{ assert_eq!(bench_fixture::id({t}), {t}); }}\n"
            ));
        }
        std::fs::write(dir.join(format!("tests/t{b}.rs")), text).unwrap();
    }
    std::fs::write(marker, "").unwrap();
}

fn orbtest(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-orbtest"));
    cmd.arg("orbtest").args(args).current_dir(dir).env("NO_COLOR", "1");
    scrub(&mut cmd);
    cmd
}

fn nextest_run(dir: &Path) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.args(["nextest", "run", "-E", "all()", "--no-fail-fast"])
        .current_dir(dir);
    scrub(&mut cmd);
    cmd
}

fn scrub(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("NEXTEST_") {
            cmd.env_remove(k);
        }
    }
}

fn run(mut cmd: Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn time(mut cmd: Command) -> Duration {
    let start = Instant::now();
    let out = cmd.output().unwrap();
    let elapsed = start.elapsed();
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn peak_rss(stderr: &str) -> i64 {
    stderr
        .lines()
        .find_map(|l| l.split("peak_rss_kib=").nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no peak_rss_kib in orbtest's log:\n{stderr}"))
}
