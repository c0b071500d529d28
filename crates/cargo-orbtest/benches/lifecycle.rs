//! Issues #4 and #5's performance targets, against orbsim:
//! - reaping 200 leftover machines with 100 ms (simulated) deletes takes under 2.5 s of
//!   simulated time at the default parallelism (one by one: 20 s);
//! - the shim adds under 3 ms (median) per pass-through call over calling orbsim directly;
//! - on a tier of 40 machine tests where create takes 20 s and clone 3 s (time-scaled),
//!   create→clone cuts the tier's wall time by at least 50%.
//!
//! Run: `cargo bench --bench lifecycle` (prints figures; exits non-zero if a target is missed).

mod support;

static ORBSIM: std::sync::LazyLock<std::path::PathBuf> = std::sync::LazyLock::new(support::orbsim_binary);

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use orbtest_machines::provider::link_orbctl;
use orbtest_machines::settings::RunSettings;

fn main() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-lifecycle");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let mut ok = true;
    ok &= reap(&root.join("reap"));
    ok &= shim_overhead(&root.join("shim"));
    ok &= create_to_clone(&root.join("clone"));
    if !ok {
        std::process::exit(1);
    }
}

fn orbsim(state: &Path, scenario: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(ORBSIM.as_path())
        .args(args)
        .env("ORBSIM_STATE", state)
        .env("ORBSIM_SCENARIO", scenario)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "orbsim {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn simulated_now(state: &Path, scenario: &Path) -> f64 {
    let stats: serde_json::Value = serde_json::from_slice(&orbsim(state, scenario, &["stats"]).stdout).unwrap();
    stats["simulated_now_s"].as_f64().unwrap()
}

fn orbtest(dir: &Path, manifest: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-orbtest"));
    cmd.arg("orbtest")
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--config")
        .arg(dir.join("orchestrator.toml"))
        .args(args)
        .env("ORBTEST_HOME", dir.join("home"))
        .env("ORBSIM_STATE", dir.join("sim"))
        .env("NO_COLOR", "1");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("NEXTEST_") || k == "ORBSIM_SCENARIO" {
            cmd.env_remove(k);
        }
    }
    cmd.output().unwrap()
}

fn reap(dir: &Path) -> bool {
    std::fs::create_dir_all(dir).unwrap();
    // Real time: a simulated second is a second, so process overheads count in full. Small
    // machines, so 200 of them do not swap (swapping would slow every delete down).
    let scenario = dir.join("scenario.toml");
    std::fs::write(
        &scenario,
        "time_scale = 1.0\n[latency]\ndelete = \"100ms\"\n[host]\nmachine_mib = 16\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("orchestrator.toml"),
        format!(
            "[machines]\nprovider = \"sim\"\nprefixes = [\"test-\"]\n[machines.sim]\nscenario = \"{}\"\n[tiers.t]\n",
            scenario.display()
        ),
    )
    .unwrap();
    let state = dir.join("sim");
    for i in 0..200 {
        orbsim(
            &state,
            &scenario,
            &["orbctl", "create", "ubuntu:22.04", &format!("test-left-{i:03}")],
        );
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/machines/Cargo.toml");
    let before = simulated_now(&state, &scenario);
    let out = orbtest(dir, &manifest, &["clean"]);
    let after = simulated_now(&state, &scenario);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let deleted = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("deleted "))
        .count();
    let took = after - before;
    println!(
        "reap: machines=200 deleted={deleted} delete_latency=100ms parallelism=16 simulated={took:.2}s (target < 2.5s; one by one: {:.1}s)",
        200.0 * 0.1
    );
    deleted == 200 && took < 2.5
}

fn shim_overhead(dir: &Path) -> bool {
    let scenario = dir.join("scenario.toml");
    std::fs::write(&scenario, "time_scale = 1.0\n").unwrap();
    let direct = link_orbctl(Path::new(ORBSIM.as_path()), &dir.join("real")).unwrap();
    let shim = link_orbctl(Path::new(env!("CARGO_BIN_EXE_cargo-orbtest")), &dir.join("shim")).unwrap();
    let state = dir.join("sim");
    let env: Vec<(String, String)> = vec![
        ("ORBSIM_STATE".into(), state.display().to_string()),
        ("ORBSIM_SCENARIO".into(), scenario.display().to_string()),
    ];
    let run_dir = dir.join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let _broker = orbtest_machines::broker::Broker::start(
        &run_dir,
        RunSettings {
            env: env.clone(),
            ..RunSettings::new(
                "bench",
                "orbsim",
                direct.clone(),
                direct.with_file_name("orb"),
                run_dir.join("journal.jsonl"),
            )
        },
        orbtest_machines::broker::Hooks::default(),
    )
    .expect("start the broker");
    for i in 0..20 {
        orbsim(
            &state,
            &scenario,
            &["orbctl", "create", "ubuntu:22.04", &format!("m{i}")],
        );
    }
    let time = |program: &PathBuf, args: &[&str]| {
        let mut cmd = Command::new(program);
        cmd.args(args).env("ORBTEST_RUN_DIR", &run_dir);
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let start = Instant::now();
        let out = cmd.output().unwrap();
        assert!(out.status.success());
        start.elapsed()
    };
    let mut report = Vec::new();
    let mut ok = true;
    for args in [&["list", "-f", "json"][..], &["info", "m3", "-f", "json"], &["status"]] {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..200 {
            a.push(time(&direct, args));
            b.push(time(&shim, args));
        }
        let (da, db) = (median(&mut a), median(&mut b));
        let overhead = db.saturating_sub(da);
        ok &= overhead < Duration::from_millis(3);
        report.push(format!(
            "{}: direct={:.2}ms shim={:.2}ms overhead={:.2}ms",
            args[0],
            ms(da),
            ms(db),
            ms(overhead)
        ));
    }
    println!("shim-overhead (median of 200, target < 3ms): {}", report.join("; "));
    ok
}

fn create_to_clone(dir: &Path) -> bool {
    let fixture = dir.join("fixture");
    std::fs::create_dir_all(fixture.join("tests")).unwrap();
    std::fs::create_dir_all(fixture.join("src")).unwrap();
    std::fs::write(
        fixture.join("Cargo.toml"),
        "[package]\nname = \"bench-machines\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(fixture.join("src/lib.rs"), "").unwrap();
    let mut tests = String::from(
        "fn orbctl(args: &[&str]) { let s = std::process::Command::new(\"orbctl\").args(args).status().unwrap(); assert!(s.success()); }\n",
    );
    for i in 0..40 {
        tests.push_str(&format!(
            "#[test] fn machine_{i:02}() {{ let n = format!(\"test-{i}-{{}}\", std::process::id()); orbctl(&[\"create\", \"ubuntu:22.04\", &n]); orbctl(&[\"run\", \"-m\", &n, \"true\"]); orbctl(&[\"delete\", \"-f\", &n]); }}\n"
        ));
    }
    std::fs::write(fixture.join("tests/machines.rs"), tests).unwrap();
    let scenario = dir.join("scenario.toml");
    std::fs::write(
        &scenario,
        "time_scale = 0.01\n[latency]\ncreate = \"20s\"\nclone = \"3s\"\nstart = \"1s\"\ndelete = \"1s\"\n",
    )
    .unwrap();
    let mut tier_ms = Vec::new();
    for clone in [false, true] {
        let run = dir.join(if clone { "with-clone" } else { "without" });
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(
            run.join("orchestrator.toml"),
            format!(
                "[machines]\nprovider = \"sim\"\nprefixes = [\"test-\"]\n[machines.sim]\nscenario = \"{}\"\n\
                 [[machines.baseline]]\nname = \"base\"\nimage = \"ubuntu:22.04\"\nclone_for_create = {clone}\n\
                 [tiers.machines]\nthreads = 8\nmachines = true\n",
                scenario.display()
            ),
        )
        .unwrap();
        // Build once outside the measurement.
        let out = orbtest(&run, &fixture.join("Cargo.toml"), &["list", "-q"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let out = orbtest(
            &run,
            &fixture.join("Cargo.toml"),
            &["-q", "--report-dir", run.join("reports").to_str().unwrap()],
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(run.join("reports/summary.json")).unwrap()).unwrap();
        tier_ms.push(summary["tiers"][0]["duration_ms"].as_u64().unwrap());
    }
    let cut = 1.0 - tier_ms[1] as f64 / tier_ms[0] as f64;
    println!(
        "create-to-clone: tests=40 create=20s clone=3s (x0.01) slots=2 tier_without={}ms tier_with={}ms cut={:.0}% (target >= 50%)",
        tier_ms[0],
        tier_ms[1],
        cut * 100.0
    );
    cut >= 0.5
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
