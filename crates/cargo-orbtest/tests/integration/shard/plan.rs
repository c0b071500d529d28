//! `cargo orbtest shard plan`: the same history gives the same plan, byte for byte, whatever
//! order it was read in; the plan balances skewed suites; formats.

use rand::SeedableRng;
use rand::seq::SliceRandom;

use orbtest::shard::planner::{TestInput, TierInput, Timing, plan};

use crate::support::cli::{Scenario, code, stderr};

fn skewed_tier(name: &str, threads: u32) -> TierInput {
    let mut tests = Vec::new();
    // A few binaries hold most of the time, as in real suites.
    for b in 0..20 {
        for t in 0..20 {
            let heavy = b < 3;
            tests.push(TestInput {
                group: format!("pkg::bin{b:02}"),
                name: format!("t{t:02}"),
                timing: (t != 7).then_some(Timing {
                    duration_ms: if heavy {
                        2_000 + (t * 97 % 1_000)
                    } else {
                        15 + (t * 13 % 40)
                    },
                    create_ms: if heavy { 400 } else { 0 },
                }),
            });
        }
    }
    TierInput {
        name: name.into(),
        command: false,
        threads,
        create_slots: Some(2),
        split: true,
        tests,
        whole_ms: None,
        overhead_ms: 0,
    }
}

#[test]
fn the_same_inputs_give_the_same_plan_in_any_order() {
    let tiers = vec![skewed_tier("fast", 2), skewed_tier("integration", 4)];
    let first = plan(&tiers, 4, 7).to_json();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
    for _ in 0..5 {
        let mut shuffled = tiers.clone();
        for t in &mut shuffled {
            t.tests.shuffle(&mut rng);
        }
        assert_eq!(plan(&shuffled, 4, 7).to_json(), first, "input order changed the plan");
    }
    let parsed: serde_json::Value = serde_json::from_str(&first).unwrap();
    let times: Vec<f64> = parsed["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["predicted_ms"].as_f64().unwrap())
        .collect();
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let max = times.iter().copied().fold(0.0, f64::max);
    assert!(max / mean <= 1.05, "predicted spread {times:?}");
    // Tests without history were planned at their tier's median, and said so.
    assert_eq!(parsed["history"]["tests_median"], 40);
}

#[test]
fn shard_plan_writes_the_same_file_from_the_same_history() {
    let s = Scenario::new(
        "basic",
        "[tiers.unit]\nfilter = \"kind(lib)\"\n[tiers.integration]\nfilter = \"kind(test)\"\n",
    );
    let dirs = [s.path().join("a"), s.path().join("b")];
    for (i, dir) in dirs.iter().enumerate() {
        std::fs::create_dir(dir).unwrap();
        let mut text = String::new();
        for t in 0..6 {
            text.push_str(&format!(
                r#"{{"kind":"test","run_id":"r{i}","started_at":"2026-11-0{}T00:00:00Z","tier":"unit","binary_id":"fixture-basic","name":"tests::t{t}","status":"passed","duration_ms":{},"attempts":[]}}"#,
                i + 1,
                100 * (t + 1) + i
            ));
            text.push('\n');
        }
        std::fs::write(dir.join("ledger.jsonl"), text).unwrap();
    }
    let plan_with = |order: [&std::path::Path; 2], format: &str| {
        let out = s
            .command([
                "shard",
                "plan",
                "--shards",
                "3",
                "--no-build",
                "--format",
                format,
                "--history",
            ])
            .args(order)
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let err = stderr(&out);
        (String::from_utf8(out.stdout).unwrap(), err)
    };
    let (a, table) = plan_with([&dirs[0], &dirs[1]], "json");
    let (b, _) = plan_with([&dirs[1], &dirs[0]], "json");
    assert_eq!(a, b, "history order changed the plan");
    let plan: serde_json::Value = serde_json::from_str(&a).unwrap();
    assert_eq!(plan["count"], 3);
    assert_eq!(plan["history"]["runs"], 2);
    assert!(
        table.contains("predicted") && table.contains(plan["plan_id"].as_str().unwrap()),
        "{table}"
    );

    let (matrix, _) = plan_with([&dirs[0], &dirs[1]], "github");
    let matrix: serde_json::Value = serde_json::from_str(matrix.trim()).expect("one line of JSON");
    let shards: Vec<&str> = matrix["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["shard"].as_str().unwrap())
        .collect();
    assert_eq!(shards, ["1/3", "2/3", "3/3"]);
}
