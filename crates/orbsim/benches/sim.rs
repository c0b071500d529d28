//! orbsim speed: `list -f json` over 100 machines and a zero-latency `create`, each as a whole
//! process call (what a test suite pays). Prints figures; targets: both under 10 ms.
//!
//! Run with `cargo bench --bench sim`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn orbctl(bin: &Path, state: &Path, args: &[&str]) -> Duration {
    let t = Instant::now();
    let out = Command::new(bin.join("orbctl"))
        .args(args)
        .env("ORBSIM_STATE", state)
        .env_remove("ORBSIM_SCENARIO")
        .stdin(Stdio::null())
        .output()
        .expect("run orbctl");
    let took = t.elapsed();
    assert!(out.status.success(), "orbctl {args:?} failed: {out:?}");
    took
}

/// Median and 90th percentile in milliseconds.
fn summary(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(v[v.len() / 2]), ms(v[v.len() * 9 / 10]))
}

fn report(what: &str, samples: Vec<Duration>, target_ms: f64) {
    let n = samples.len();
    let (median, p90) = summary(samples);
    let verdict = if median < target_ms { "ok" } else { "OVER TARGET" };
    println!("{what:<44} median {median:6.2} ms   p90 {p90:6.2} ms   (n={n}, target < {target_ms} ms: {verdict})");
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("bin");
    let state = dir.path().join("state");
    let linked = Command::new(env!("CARGO_BIN_EXE_orbsim"))
        .arg("link")
        .arg(&bin)
        .output()
        .expect("orbsim link");
    assert!(linked.status.success());

    let creates: Vec<Duration> = (0..100)
        .map(|i| orbctl(&bin, &state, &["create", "ubuntu:22.04", &format!("bench-{i:03}")]))
        .collect();
    report("orbsim create (zero latency, 0..100 machines)", creates, 10.0);

    let lists: Vec<Duration> = (0..100)
        .map(|_| orbctl(&bin, &state, &["list", "-f", "json"]))
        .collect();
    report("orbsim list -f json (100 machines)", lists, 10.0);

    let infos: Vec<Duration> = (0..100)
        .map(|i| orbctl(&bin, &state, &["info", &format!("bench-{i:03}"), "-f", "json"]))
        .collect();
    report("orbsim info -f json (100 machines)", infos, 10.0);
}
