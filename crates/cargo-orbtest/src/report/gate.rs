//! The release gate: `[gate]` criteria checked against a finished run. Each violation is one
//! sentence that says what was measured and what the limit is.

use std::time::Duration;

use crate::config::{GateConfig, TierGate};
use crate::report::human_duration;
use crate::results::{GateVerdict, RunResult, TestCounts, TierOutcome};

pub fn evaluate(config: &GateConfig, run: &RunResult) -> GateVerdict {
    let mut violations = Vec::new();
    let counts = run.counts();
    check_counts(
        &mut violations,
        "",
        &counts,
        &TierGate {
            max_failed: config.max_failed,
            max_timed_out: config.max_timed_out,
            max_flaky: config.max_flaky,
            max_duration: None,
        },
    );
    if let Some(max) = config.max_duration {
        check_duration(&mut violations, "the run", run.duration, max);
    }
    // A release gate never passes on nothing, whatever `no_tests` let the tiers do.
    if counts.passed + counts.failed + counts.timed_out == 0 {
        violations.push("no test ran".to_string());
    }
    if counts.not_run > 0 {
        violations.push(format!(
            "{} selected {} did not run",
            counts.not_run,
            plural(counts.not_run, "test", "tests")
        ));
    }
    if let Some(max) = config.max_peak_swap_percent {
        match run.resources.peak_swap_percent {
            Some(peak) if peak > max => {
                violations.push(format!("peak swap use was {peak:.1}% (max {max}%)"));
            }
            Some(_) => {}
            None => violations.push(format!(
                "peak swap use was not measured (max {max}%): the run has no resource timeline"
            )),
        }
    }
    if let Some(max) = config.max_leftover_machines {
        let left = &run.machines.leftover;
        if left.len() as u64 > max {
            violations.push(format!(
                "{} leftover {} after the run (max {max}): {}",
                left.len(),
                plural(left.len() as u64, "machine", "machines"),
                left.join(", ")
            ));
        }
    }
    if let Some(e) = &run.machines.postflight_error {
        violations.push(format!("postflight could not clean up: {e}"));
    }
    if let Some(max) = config.max_quarantined {
        let n = counts.quarantined;
        if n > max {
            violations.push(format!(
                "{n} failing {} excused by quarantine (max {max})",
                plural(n, "test", "tests")
            ));
        }
    }
    for (name, gate) in &config.tiers {
        let scope = format!("tier `{name}`: ");
        match run.tiers.iter().find(|t| &t.name == name) {
            // Criteria for a tier that never ran cannot be met: a release gate must not pass on
            // a run that skipped what it was asked to judge.
            None => violations.push(format!("{scope}has gate criteria but was not part of this run")),
            Some(t) if t.outcome == TierOutcome::Skipped => violations.push(format!(
                "{scope}has gate criteria but was skipped ({})",
                t.reason.as_deref().unwrap_or("no reason given")
            )),
            Some(t) => {
                check_counts(&mut violations, &scope, &t.counts, gate);
                if let Some(max) = gate.max_duration {
                    check_duration(&mut violations, &format!("tier `{name}`"), t.duration, max);
                }
            }
        }
    }
    GateVerdict {
        evaluated: true,
        passed: violations.is_empty(),
        violations,
    }
}

fn check_counts(out: &mut Vec<String>, scope: &str, c: &TestCounts, gate: &TierGate) {
    let checks = [
        (c.failed, gate.max_failed, "test failed", "tests failed"),
        (c.timed_out, gate.max_timed_out, "test timed out", "tests timed out"),
        (c.flaky, gate.max_flaky, "flaky test", "flaky tests"),
    ];
    for (n, max, one, many) in checks {
        if let Some(max) = max
            && n > max
        {
            out.push(format!("{scope}{n} {} (max {max})", plural(n, one, many)));
        }
    }
}

fn check_duration(out: &mut Vec<String>, what: &str, took: Duration, max: Duration) {
    if took > max {
        out.push(format!(
            "{what} took {} (max {})",
            human_duration(took),
            human_duration(max)
        ));
    }
}

fn plural<'a>(n: u64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::results::{ResourcePeaks, TierResult};

    fn run(failed: u64, flaky: u64, swap: Option<f64>) -> RunResult {
        let mut tier = TierResult::skipped("fast", String::new());
        tier.outcome = if failed > 0 {
            TierOutcome::Failed
        } else {
            TierOutcome::Passed
        };
        tier.reason = None;
        tier.duration = Duration::from_secs(90);
        tier.counts = TestCounts {
            passed: 10,
            failed,
            flaky,
            ..Default::default()
        };
        RunResult {
            run_id: "r".into(),
            invocation: Default::default(),
            started_at: SystemTime::UNIX_EPOCH,
            duration: Duration::from_secs(100),
            tiers: vec![tier],
            interrupted: None,
            error: None,
            nextest_version: "0.9.143".into(),
            machines: Default::default(),
            resources: ResourcePeaks {
                peak_memory_percent: Some(50.0),
                peak_swap_percent: swap,
            },
            gate: Default::default(),
            shard: None,
        }
    }

    #[test]
    fn defaults_pass_a_clean_run() {
        let v = evaluate(&GateConfig::default(), &run(0, 3, None));
        assert!(v.evaluated && v.passed, "{v:?}");
    }

    #[test]
    fn each_criterion_names_the_measure_and_the_limit() {
        let mut config = GateConfig {
            max_flaky: Some(2),
            max_duration: Some(Duration::from_secs(60)),
            max_peak_swap_percent: Some(50.0),
            ..GateConfig::default()
        };
        config.tiers.push((
            "fast".into(),
            TierGate {
                max_duration: Some(Duration::from_secs(30)),
                ..Default::default()
            },
        ));
        config.tiers.push(("e2e".into(), TierGate::default()));
        let mut r = run(1, 3, Some(88.04));
        r.machines.leftover = vec!["test-a".into()];
        let v = evaluate(&config, &r);
        assert!(!v.passed);
        assert_eq!(
            v.violations,
            [
                "1 test failed (max 0)",
                "3 flaky tests (max 2)",
                "the run took 1m 40s (max 1m 00s)",
                "peak swap use was 88.0% (max 50%)",
                "1 leftover machine after the run (max 0): test-a",
                "tier `fast` took 1m 30s (max 30.0s)",
                "tier `e2e`: has gate criteria but was not part of this run",
            ]
        );
    }

    #[test]
    fn a_gate_never_passes_on_nothing_or_on_tests_that_did_not_run() {
        let mut nothing = run(0, 0, None);
        nothing.tiers[0].counts = TestCounts::default();
        let v = evaluate(&GateConfig::default(), &nothing);
        assert_eq!(v.violations, ["no test ran"]);
        let mut skipped = run(0, 0, None);
        skipped.tiers[0].counts.not_run = 7;
        let v = evaluate(&GateConfig::default(), &skipped);
        assert_eq!(v.violations, ["7 selected tests did not run"]);
    }

    #[test]
    fn unmeasured_swap_fails_a_swap_criterion() {
        let config = GateConfig {
            max_peak_swap_percent: Some(50.0),
            ..GateConfig::default()
        };
        let v = evaluate(&config, &run(0, 0, None));
        assert!(!v.passed);
        assert!(v.violations[0].contains("not measured"), "{v:?}");
    }
}
