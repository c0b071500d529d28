//! `cargo orbtest list` and `cargo orbtest init`.

use crate::support::cli::{Scenario, code, stderr};

#[test]
fn list_shows_each_tiers_tests_and_warns_about_unselected_ones() {
    let config = r#"
[tiers.fast]
filter = "kind(lib) & test(/pass|slow/)"
timeout = "30s"
[tiers.integration]
filter = "binary(integration_api) | test(=tests::passes)"
needs = ["fast"]
"#;
    let s = Scenario::new("basic", config);
    let out = s.command(["list"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("tier fast\n  filter: kind(lib) & test(/pass|slow/)"),
        "{text}"
    );
    assert!(text.contains("timeout: 30s"), "{text}");
    assert!(
        text.contains("  2 tests:\n    fixture-basic tests::passes\n    fixture-basic tests::slow"),
        "{text}"
    );
    assert!(text.contains("fixture-basic::integration_api adds"), "{text}");
    assert!(text.contains("selected by no tier"), "{text}");
    assert!(text.contains("fixture-basic::e2e_flow end_to_end"), "{text}");
    assert!(
        text.contains("fixture-basic tests::passes (fast, integration)"),
        "{text}"
    );
}

#[test]
fn init_writes_a_starter_that_loads_and_refuses_to_overwrite() {
    let s = Scenario::new("basic", "");
    let path = s.path().join("orchestrator.toml");
    std::fs::remove_file(&path).unwrap();
    let out = s.command(["init"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let config = orbtest::config::load(&path).expect("the starter config is valid");
    assert_eq!(config.tier_names(), ["fast", "integration", "e2e"]);
    let out = s.command(["init"]).output().unwrap();
    assert_eq!(code(&out), 64);
    assert!(stderr(&out).contains("already exists"));
}
