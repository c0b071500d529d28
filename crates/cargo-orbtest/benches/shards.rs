//! `cargo bench --bench shards`: how even 4 shards come out with a plan from history, against
//! nextest's own `hash:` and `slice:` partitions, on the same suite.
//!
//! The suite is generated: 400 tests in 20 binaries. Three binaries hold most of the time
//! (a few long tests among them, as in real suites); sixteen are quick; one has 20 machine
//! tests that create, use and delete a machine through the orbctl shim on orbsim (create slots
//! bound them, not threads). One unsharded run records the history; `shard plan` makes the
//! plan from it; then each strategy runs its 4 shards one after another and the bench prints
//! each shard's wall time (the whole `cargo orbtest` process, build check and preflight
//! included) and the slowest shard against the mean. With the plan that ratio must be at most
//! 1.10 (the bench exits 1 otherwise).
//!
//! `SHARD_BENCH_SCALE` (default 1.0) multiplies every test's duration.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const SHARDS: u32 = 4;
const THREADS: u32 = 4;
const BOUND: f64 = 1.10;
const HEAVY: usize = 3;
const LIGHT: usize = 16;
const PER_BINARY: usize = 20;

/// A deterministic spread of numbers from a test's binary and index.
fn mix(b: usize, t: usize) -> u64 {
    let mut x = (b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (t as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 32;
    x
}

/// Milliseconds a test sleeps: heavy binaries have a long tail (one test in five takes 6-10 s,
/// the rest 0.5-2 s), light ones 20-150 ms.
fn duration_ms(b: usize, t: usize, scale: f64) -> u64 {
    let r = mix(b, t);
    let ms = if b < HEAVY {
        if r.is_multiple_of(5) {
            6_000 + r % 4_000
        } else {
            500 + r % 1_500
        }
    } else {
        20 + r % 130
    };
    (ms as f64 * scale) as u64
}

fn write_suite(dir: &Path, scale: f64) -> u64 {
    std::fs::create_dir_all(dir.join("tests")).expect("suite dir");
    std::fs::create_dir_all(dir.join("src")).expect("src");
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"shard-suite\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n[workspace]\n",
    )
    .expect("Cargo.toml");
    std::fs::write(
        dir.join("src/lib.rs"),
        r#"//! Helpers for the generated tests.
pub fn sleep_ms(ms: u64) {
    std::thread::sleep(std::time::Duration::from_millis(ms));
}

/// Creates a machine through `orbctl` (the shim in a machine tier), waits, deletes it.
pub fn with_machine(name: &str, ms: u64) {
    let machine = format!("test-{name}");
    let status = |args: &[&str]| {
        let out = std::process::Command::new("orbctl").args(args).output().expect("run orbctl");
        assert!(out.status.success(), "orbctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    status(&["create", "ubuntu:22.04", &machine]);
    sleep_ms(ms);
    status(&["delete", "-f", &machine]);
}
"#,
    )
    .expect("lib.rs");
    let mut total = 0;
    for b in 0..HEAVY + LIGHT {
        let kind = if b < HEAVY { "heavy" } else { "light" };
        let mut src = String::new();
        for t in 0..PER_BINARY {
            let ms = duration_ms(b, t, scale);
            total += ms;
            // Names unique across binaries: slowest-first priorities match tests by name.
            let _ = writeln!(
                src,
                "#[test]\nfn {kind}{b:02}_t{t:02}() {{\n    shard_suite::sleep_ms({ms});\n}}\n"
            );
        }
        std::fs::write(dir.join(format!("tests/{kind}{b:02}.rs")), src).expect("test file");
    }
    let mut src = String::new();
    for t in 0..PER_BINARY {
        let ms = (300.0 * scale) as u64;
        total += ms;
        let _ = writeln!(
            src,
            "#[test]\nfn m{t:02}() {{\n    shard_suite::with_machine(\"m{t:02}\", {ms});\n}}\n"
        );
    }
    std::fs::write(dir.join("tests/machines.rs"), src).expect("machines");
    total
}

fn config_toml(dir: &Path) -> String {
    format!(
        r#"[tiers.it]
filter = "kind(test) & !binary(machines)"
threads = {THREADS}
timeout = "120s"

[tiers.machines]
filter = "binary(machines)"
threads = {THREADS}
timeout = "120s"
machines = true

[machines]
provider = "sim"
prefixes = ["test-"]
max_concurrent_creates = 2
timeouts = {{ create = "10s", lifecycle = "5s", query = "5s" }}

[machines.sim]
state = "{state}"
scenario = "{scenario}"
"#,
        state = dir.join("orbsim-state").display(),
        scenario = dir.join("scenario.toml").display(),
    )
}

/// Creates take 0.5 s of real time; nothing fails.
const SCENARIO: &str = r#"seed = 7
time_scale = 0.025
[latency]
create = "16s"
provisioning = "4s"
delete = "2s"
info = "100ms"
list = "100ms"
status = "100ms"
"#;

struct Bench {
    suite: PathBuf,
    target: PathBuf,
    config: PathBuf,
    scratch: PathBuf,
}

impl Bench {
    fn orbtest(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-orbtest"));
        cmd.arg("orbtest")
            .arg("--manifest-path")
            .arg(self.suite.join("Cargo.toml"))
            .arg("--config")
            .arg(&self.config)
            .arg("-q")
            .env("CARGO_TARGET_DIR", &self.target)
            .env("ORBTEST_HOME", self.scratch.join("home"))
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_ACTIONS")
            .stdin(Stdio::null());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("NEXTEST_") {
                cmd.env_remove(key);
            }
        }
        cmd
    }

    /// Runs one shard; its wall time in seconds and its summary.
    fn shard(&self, name: &str, args: &[&str]) -> (f64, serde_json::Value) {
        let report = self.scratch.join("reports").join(name);
        let _ = std::fs::remove_dir_all(&report);
        let mut cmd = self.orbtest();
        cmd.arg("--report-dir").arg(&report).args(args);
        let clock = Instant::now();
        let out = cmd.output().expect("run cargo orbtest");
        let wall = clock.elapsed().as_secs_f64();
        let summary: serde_json::Value = std::fs::read_to_string(report.join("summary.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_else(|| panic!("{name}: no summary.json:\n{}", String::from_utf8_lossy(&out.stderr)));
        assert!(
            out.status.success(),
            "{name} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        (wall, summary)
    }
}

/// The arguments of shard K under one strategy.
type ShardArgs = Box<dyn Fn(u32) -> Vec<String>>;

fn ratio(walls: &[f64]) -> f64 {
    let mean = walls.iter().sum::<f64>() / walls.len() as f64;
    walls.iter().copied().fold(0.0, f64::max) / mean
}

/// Seconds the shard's tiers ran (its tests), without the build check and preflight.
fn tier_seconds(summary: &serde_json::Value) -> f64 {
    summary["tiers"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["duration_ms"].as_u64()).sum::<u64>())
        .unwrap_or(0) as f64
        / 1000.0
}

fn tests_run(summary: &serde_json::Value) -> u64 {
    summary["tiers"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["tests"]["passed"].as_u64()).sum())
        .unwrap_or(0)
}

fn main() {
    let scale: f64 = std::env::var("SHARD_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("shard-bench");
    let suite = scratch.join("suite");
    let _ = std::fs::remove_dir_all(scratch.join("reports"));
    let _ = std::fs::remove_dir_all(scratch.join("home"));
    let _ = std::fs::remove_dir_all(scratch.join("orbsim-state"));
    let sleep_ms = write_suite(&suite, scale);
    std::fs::write(scratch.join("scenario.toml"), SCENARIO).expect("scenario");
    let config = scratch.join("orchestrator.toml");
    std::fs::write(&config, config_toml(&scratch)).expect("config");
    let bench = Bench {
        target: scratch.join("target"),
        suite,
        config,
        scratch: scratch.clone(),
    };
    let _ = std::fs::remove_dir_all(bench.target.join("orbtest"));
    let heavy: u64 = (0..HEAVY)
        .flat_map(|b| (0..PER_BINARY).map(move |t| (b, t)))
        .map(|(b, t)| duration_ms(b, t, scale))
        .sum();
    println!(
        "shard bench: {} tests in {} binaries ({HEAVY} heavy binaries hold {:.0}% of {:.0} s of test time; {PER_BINARY} machine \
         tests on orbsim), {SHARDS} shards, {THREADS} threads per tier, 2 create slots",
        (HEAVY + LIGHT + 1) * PER_BINARY,
        HEAVY + LIGHT + 1,
        heavy as f64 * 100.0 / sleep_ms as f64,
        sleep_ms as f64 / 1000.0
    );

    // The history: one unsharded run (it also builds the suite).
    let build = Instant::now();
    let (whole_wall, whole) = bench.shard("history", &[]);
    println!(
        "history: one unsharded run took {whole_wall:.1} s ({} tests; the first run builds, {:.1} s in all)",
        tests_run(&whole),
        build.elapsed().as_secs_f64()
    );
    let history = scratch.join("reports/history");
    let plan = scratch.join("plan.json");
    let out = bench
        .orbtest()
        .args([
            "shard",
            "plan",
            "--shards",
            &SHARDS.to_string(),
            "--format",
            "table",
            "--out",
        ])
        .arg(&plan)
        .arg("--history")
        .arg(&history)
        .output()
        .expect("shard plan");
    assert!(
        out.status.success(),
        "shard plan: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{}", String::from_utf8_lossy(&out.stdout));
    let plan_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan).expect("plan")).expect("plan JSON");

    let plan_arg = plan.to_string_lossy().into_owned();
    let strategies: Vec<(&str, ShardArgs)> = vec![
        (
            "plan",
            Box::new(move |k| {
                vec![
                    "--shard".into(),
                    format!("{k}/{SHARDS}"),
                    "--plan".into(),
                    plan_arg.clone(),
                ]
            }),
        ),
        (
            "nextest hash:",
            Box::new(|k| vec!["--".into(), "--partition".into(), format!("hash:{k}/{SHARDS}")]),
        ),
        (
            "nextest slice:",
            Box::new(|k| vec!["--shard".into(), format!("{k}/{SHARDS}")]),
        ),
    ];
    println!(
        "\n {:<15} {:>34}  {:>12}  {:>22}",
        "strategy", "shard wall times (s)", "slowest/mean", "tiers only: slowest/mean"
    );
    let mut plan_ratio = f64::MAX;
    let mut plan_walls = Vec::new();
    for (name, args) in &strategies {
        let mut walls = Vec::new();
        let mut tiers = Vec::new();
        let mut ran = 0;
        for k in 1..=SHARDS {
            let args = args(k);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let (wall, summary) = bench.shard(&format!("{}-{k}", name.replace([' ', ':'], "")), &refs);
            walls.push(wall);
            tiers.push(tier_seconds(&summary));
            ran += tests_run(&summary);
        }
        assert_eq!(ran, tests_run(&whole), "{name}: every test ran once");
        let shown: Vec<String> = walls.iter().map(|w| format!("{w:6.1}")).collect();
        println!(
            " {:<15} {:>34}  {:>12.2}  {:>22.2}",
            name,
            shown.join(" "),
            ratio(&walls),
            ratio(&tiers)
        );
        if *name == "plan" {
            plan_ratio = ratio(&walls);
            plan_walls = walls;
        }
    }
    println!("\n plan: predicted (its tiers) against the shard's wall time");
    for (k, wall) in plan_walls.iter().enumerate() {
        let predicted = plan_json["shards"][k]["predicted_ms"].as_u64().unwrap_or(0) as f64 / 1000.0;
        println!(
            "   shard {}/{SHARDS}: predicted {predicted:5.1} s, took {wall:5.1} s",
            k + 1
        );
    }
    if plan_ratio > BOUND {
        println!("\nFAILED: with the plan the slowest shard took {plan_ratio:.2}x the mean (bound {BOUND})");
        std::process::exit(1);
    }
    println!("\nwithin the bound: with the plan the slowest shard took {plan_ratio:.2}x the mean (bound {BOUND})");
}
