//! What the machines layer adds to an orbsim call: the same operation run directly
//! (std::process::Command) and through `Client::execute` (policy, process group, capture,
//! classification). Prints figures; target: under 2 ms added per operation.
//!
//! Run with `cargo bench --bench machines`.

mod support;

static ORBSIM: std::sync::LazyLock<std::path::PathBuf> = std::sync::LazyLock::new(support::orbsim_binary);

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use orbtest_machines::{Client, Op, OrbctlProvider, Policy};

fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let orbctl = orbctl::links::link_orbctl(&ORBSIM, &dir.path().join("bin")).expect("link orbsim as orbctl");
    let provider = OrbctlProvider::sim(orbctl, ORBSIM.clone(), &state, None);
    let orbctl = provider.program().to_path_buf();
    let client = Client::new(Arc::new(provider)).with_policy(Policy::default());
    for i in 0..20 {
        let op = Op::Create {
            image: "ubuntu".into(),
            name: Some(format!("m{i:02}")),
            arch: None,
            user: None,
            user_data: None,
            set_password: false,
        };
        assert!(client.execute(&op).expect("create").is_success());
    }

    let ops = [
        Op::Info {
            name: "m07".into(),
            format: Some("json".into()),
        },
        Op::List {
            running: false,
            quiet: false,
            format: Some("json".into()),
        },
        Op::Status,
    ];
    const N: usize = 60;
    println!("{:<36} {:>10} {:>10} {:>10}", "operation", "direct", "layer", "added");
    let mut worst: f64 = 0.0;
    for op in &ops {
        let argv = op.to_argv();
        let mut direct = Vec::with_capacity(N);
        let mut layered = Vec::with_capacity(N);
        // Interleave the two so drift in machine load affects both alike.
        for _ in 0..N {
            let t = Instant::now();
            let out = Command::new(&orbctl)
                .args(&argv)
                .env("ORBSIM_STATE", &state)
                .env_remove("ORBSIM_SCENARIO")
                .stdin(Stdio::null())
                .output()
                .expect("direct call");
            direct.push(t.elapsed());
            assert!(out.status.success());

            let t = Instant::now();
            let r = client.execute(op).expect("layered call");
            layered.push(t.elapsed());
            assert!(r.is_success());
        }
        let (d, l) = (median_ms(direct), median_ms(layered));
        worst = worst.max(l - d);
        println!("{:<36} {d:>7.2} ms {l:>7.2} ms {:>7.2} ms", op.to_string(), l - d);
    }
    let verdict = if worst < 2.0 { "ok" } else { "OVER TARGET" };
    println!("largest median overhead: {worst:.2} ms (target < 2 ms: {verdict})");
}
