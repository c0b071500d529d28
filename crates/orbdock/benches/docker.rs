//! orbdock on this host's Docker engine: create → running (systemd up) p50/p95, and clone,
//! run and delete p50, each through the `orbdock` binary as a test would call `orbctl`; plus
//! the machine image (its cache hit, or a full build with ORBDOCK_BENCH_REBUILD=1).
//!
//! `cargo bench -p orbdock --bench docker` (ORBDOCK_BENCH_N machines, default 10). Skips with a
//! message when there is no engine.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use orbdock::Engine;
use orbdock::images::{self, Recipe};

const IMAGE: &str = "ubuntu:22.04";

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

struct Bench {
    project: String,
    map: std::path::PathBuf,
}

impl Bench {
    fn orbctl(&self, args: &[&str]) -> Duration {
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_orbdock"))
            .args(args)
            .env("ORBDOCK_PROJECT", &self.project)
            .env("ORBTEST_DOCKER_IMAGES", &self.map)
            .stdin(Stdio::null())
            .output();
        let took = t.elapsed();
        match out {
            Ok(o) if o.status.success() => took,
            Ok(o) => panic!(
                "orbctl {} failed: {}{}",
                args.join(" "),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => panic!("cannot run orbdock: {e}"),
        }
    }
}

impl Drop for Bench {
    /// Whatever happened, the bench's machines go.
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_orbdock"))
            .args(["delete", "-a"])
            .env("ORBDOCK_PROJECT", &self.project)
            .stdin(Stdio::null())
            .output();
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs this too: keep that cheap.
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    let engine = match Engine::connect() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("SKIPPED: no Docker engine ({e})");
            return;
        }
    };
    let n: usize = std::env::var("ORBDOCK_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let recipe = Recipe {
        debootstrap: Some("bookworm".into()),
        ..Default::default()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let rebuild = std::env::var("ORBDOCK_BENCH_REBUILD").is_ok_and(|v| v == "1");
    let t = Instant::now();
    let image = match images::ensure(&engine, IMAGE, &recipe, rebuild, &dir.path().join("image.log")) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("SKIPPED: no machine image ({e})");
            return;
        }
    };
    let image_time = t.elapsed();
    let d = engine.describe();
    println!(
        "engine: Docker {} (API {}), {}, systemd as PID 1: {:?}",
        d.version, d.api_version, d.arch, d.systemd
    );
    println!(
        "machine image {IMAGE} (debootstrap bookworm): {} in {:.1} s",
        if image.built { "built" } else { "cache hit" },
        image_time.as_secs_f64()
    );
    let map = dir.path().join("images.json");
    std::fs::write(
        &map,
        serde_json::to_string(&HashMap::from([(IMAGE, image.id.clone())])).expect("json"),
    )
    .expect("write map");
    let b = Bench {
        project: format!("orbdock-bench-{}", ulid::Ulid::new().to_string().to_lowercase()),
        map,
    };
    let (mut create, mut run, mut clone, mut delete) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let name = format!("bench-{i}");
        let clone_name = format!("bench-{i}-c");
        create.push(b.orbctl(&["create", IMAGE, &name]));
        run.push(b.orbctl(&["run", "-m", &name, "true"]));
        clone.push(b.orbctl(&["clone", &name, &clone_name]));
        delete.push(b.orbctl(&["delete", &clone_name]));
        delete.push(b.orbctl(&["delete", &name]));
    }
    for v in [&mut create, &mut run, &mut clone, &mut delete] {
        v.sort();
    }
    println!("{n} machines, sequential, each call a separate `orbdock` process:");
    println!(
        "  create -> running (systemd up): p50 {}  p95 {}",
        ms(pct(&create, 0.5)),
        ms(pct(&create, 0.95))
    );
    println!("  run true:   p50 {}", ms(pct(&run, 0.5)));
    println!("  clone:      p50 {}", ms(pct(&clone, 0.5)));
    println!("  delete:     p50 {}", ms(pct(&delete, 0.5)));
}
