use orbtest::config::{Source, parse};
use proptest::prelude::*;

/// Values a key might be given, valid and not.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\"60s\"".to_string()),
        Just("\"5m\"".to_string()),
        Just("\"soon\"".to_string()),
        Just("\"num-cpus\"".to_string()),
        Just("\"kind(lib)\"".to_string()),
        Just("\"exponential\"".to_string()),
        Just("\"warn\"".to_string()),
        Just("\"test-\"".to_string()),
        Just("true".to_string()),
        (-5i64..300).prop_map(|n| n.to_string()),
        Just("[\"fast\"]".to_string()),
        Just("[\"test(=x)\", \"binary(y)\"]".to_string()),
        Just("{ count = 2, delay = \"1s\", backoff = \"exponential\" }".to_string()),
        Just("{ count = 1 }".to_string()),
        Just("{ create = \"10s\" }".to_string()),
        Just("[\"pytest\", \"-q\", \"--junitxml={junit}\"]".to_string()),
        Just("[\"sh\", \"-c\", \"echo {bad}\"]".to_string()),
        Just("{ A = \"{tier}\", B = \"{{x}}\" }".to_string()),
        Just("{ image = \"ubuntu:22.04\", count = \"threads\" }".to_string()),
        "[a-z ]{0,6}".prop_map(|s| format!("\"{s}\"")),
    ]
}

fn key() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "filter",
        "threads",
        "timeout",
        "grace_period",
        "retries",
        "flaky",
        "flaky_retries",
        "fail_fast",
        "slowest_first",
        "no_tests",
        "needs",
        "machines",
        "command",
        "rerun",
        "workdir",
        "env",
        "workers",
        "restart",
        "bogus",
        "provider",
        "prefixes",
        "protect",
        "max_concurrent_creates",
        "timeouts",
        "swap_limit_percent",
        "on_pressure",
        "max_failed",
        "max_duration",
        "sample_every",
    ])
}

fn section() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "[tiers.fast]",
        "[tiers.integration]",
        "[tiers.e2e]",
        "[machines]",
        "[pressure]",
        "[gate]",
        "[monitor]",
        "[gate.tiers.fast]",
    ])
    .prop_map(str::to_string)
}

fn document() -> impl Strategy<Value = String> {
    prop::collection::vec((section(), prop::collection::vec((key(), value()), 0..4)), 1..5).prop_map(|sections| {
        let mut seen = std::collections::HashSet::new();
        let mut text = String::new();
        for (header, entries) in sections {
            if !seen.insert(header.clone()) {
                continue;
            }
            text.push_str(&header);
            text.push('\n');
            let mut keys = std::collections::HashSet::new();
            for (k, v) in entries {
                if keys.insert(k) {
                    text.push_str(&format!("{k} = {v}\n"));
                }
            }
        }
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse(Source::new("orchestrator.toml", text));
    }

    #[test]
    fn accepted_configs_round_trip_through_their_explicit_form(text in document()) {
        if let Ok(config) = parse(Source::new("orchestrator.toml", text.clone())) {
            let explicit = config.to_explicit_toml();
            let again = parse(Source::new("explicit.toml", explicit.clone()))
                .unwrap_or_else(|e| panic!("explicit form rejected:\n{e}\n--- from ---\n{text}\n--- explicit ---\n{explicit}"));
            prop_assert_eq!(&again.to_explicit_toml(), &explicit);
            prop_assert_eq!(again.tier_names(), config.tier_names());
        }
    }

    #[test]
    fn rejected_configs_always_say_where(text in document()) {
        if let Err(e) = parse(Source::new("orchestrator.toml", text)) {
            prop_assert!(!e.diagnostics.is_empty());
            let shown = e.to_string();
            prop_assert!(shown.starts_with("orchestrator.toml:"), "{}", shown);
        }
    }
}
