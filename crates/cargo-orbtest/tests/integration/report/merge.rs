//! `report merge`: three `--partition hash:k/3` shard runs merged give the counts of one
//! unpartitioned run.

use crate::support::cli::{Scenario, code, counts, stderr};

/// Tiers of the basic fixture without its waiting and hanging tests (also the shard tests').
pub(crate) const CONFIG: &str = r#"
[tiers.unit]
filter = "kind(lib) & !test(=tests::waits_on_request) & !test(=tests::hangs_on_request) & !test(=tests::stubborn_on_request)"
flaky = ["test(=tests::flaky_listed)"]
[tiers.integration]
filter = "kind(test)"
"#;

fn run(extra: &[&str]) -> (Scenario, i32) {
    let s = Scenario::new("basic", CONFIG);
    let mut cmd = s.command([
        "--report-dir".as_ref(),
        s.reports().as_os_str(),
        "--no-fail-fast".as_ref(),
    ]);
    let out = cmd
        .args(extra)
        .env("FIXTURE_FAIL", "1")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    assert!(matches!(code(&out), 0 | 1), "{}", stderr(&out));
    (s, code(&out))
}

fn testcases(junit: &str) -> usize {
    junit.matches("<testcase ").count()
}

#[test]
fn three_merged_shards_count_like_one_unpartitioned_run() {
    let (whole, whole_code) = run(&[]);
    assert_eq!(whole_code, 1, "fails_on_request and flaky_unlisted fail");
    let shards: Vec<Scenario> = (1..=3)
        .map(|k| run(&["--", "--partition", &format!("hash:{k}/3")]).0)
        .collect();
    let out_dir = whole.path().join("merged");
    let mut cmd = whole.command(["report", "merge", "--out"]);
    cmd.arg(&out_dir);
    for s in &shards {
        cmd.arg(s.reports());
    }
    let out = cmd.env_remove("GITHUB_ACTIONS").output().unwrap();
    assert_eq!(
        code(&out),
        1,
        "the merged run failed, as the shards did: {}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("merged 3 shard reports"), "{}", stderr(&out));

    let merged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap()).unwrap();
    let expected = whole.summary();
    assert_eq!(merged["outcome"], expected["outcome"]);
    for name in ["unit", "integration"] {
        let tier = |v: &serde_json::Value| {
            v["tiers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["name"] == name)
                .unwrap()
                .clone()
        };
        let (m, e) = (tier(&merged), tier(&expected));
        assert_eq!(counts(&m), counts(&e), "tier {name}: merged {m} vs whole {e}");
        assert_eq!(m["outcome"], e["outcome"], "tier {name}");
        let sorted = |v: &serde_json::Value, key: &str| {
            let mut names: Vec<String> = v[key].as_array().unwrap().iter().map(|s| s.to_string()).collect();
            names.sort();
            names
        };
        assert_eq!(sorted(&m, "failed_tests"), sorted(&e, "failed_tests"));
        assert_eq!(sorted(&m, "flaky_tests"), sorted(&e, "flaky_tests"));
    }
    let ids: Vec<&str> = merged["merged_from"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);

    let junit = std::fs::read_to_string(out_dir.join("junit.xml")).unwrap();
    let whole_junit = std::fs::read_to_string(whole.reports().join("junit.xml")).unwrap();
    assert_eq!(testcases(&junit), testcases(&whole_junit), "{junit}");
    assert_eq!(
        junit.matches("<testsuite name=\"unit/fixture-basic\"").count(),
        1,
        "a suite split across shards is joined"
    );

    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(html.contains("Merged from 3 shard reports"));
    assert_eq!(
        html.matches("<svg class=\"timeline\"").count(),
        3,
        "one chart per shard"
    );
}

/// A shard given twice would count its tests twice: the same directory, or a copy of it.
#[test]
fn a_shard_given_twice_is_refused() {
    let s = crate::support::pysuite::Scenario::new("[tiers.cmd]\ncommand = [\"true\"]\n", None, None);
    let shard = s.path().join("shard-1");
    let out = s.run(&["--report-dir", shard.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let copy = s.path().join("shard-1-copy");
    std::fs::create_dir(&copy).unwrap();
    for f in std::fs::read_dir(&shard).unwrap().flatten() {
        std::fs::copy(f.path(), copy.join(f.file_name())).unwrap();
    }
    for second in [&shard, &copy] {
        let out = s
            .command(&["report", "merge", "--out"])
            .arg(s.path().join("merged"))
            .arg(&shard)
            .arg(second)
            .output()
            .unwrap();
        assert_eq!(code(&out), 64, "{}", stderr(&out));
        assert!(stderr(&out).contains("is given twice"), "{}", stderr(&out));
        assert!(!s.path().join("merged/summary.json").exists());
    }
}
