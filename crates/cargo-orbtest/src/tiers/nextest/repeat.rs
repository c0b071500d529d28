//! `new_test_runs = K`: tests the flake ledger has never seen run K times, so a flaky newcomer
//! shows before it lands (early flake detection). After the tier's own run, nextest runs just
//! those tests K-1 more times (same profile, `-E` narrowed to them); a test that passed in the
//! tier's run and failed in any extra run is flaky, with the failing runs as its attempts.
//! The tier's JUnit stays its own run's.

use std::collections::HashMap;

use super::{Built, TierRun, ToolConfig, run_tier};
use crate::errors::{Error, Result};
use crate::report::RunDir;
use crate::results::{Attempt, TestId, TestStatus, TierResult};
use crate::signals::Interrupts;
use crate::workspace::Workspace;

pub(crate) struct Repeat<'a> {
    pub ws: &'a Workspace,
    pub tier: &'a str,
    /// How many runs each new test gets in all (the tier's own included).
    pub runs: u32,
    pub tool_config: &'a ToolConfig,
    pub built: &'a Built,
    pub run_args: &'a [String],
    pub dir: &'a RunDir,
    pub env: Vec<(String, String)>,
    pub interrupts: &'a Interrupts,
}

/// Runs `new` (tests of `result` the ledger never saw) again; returns what to tell the user.
pub(crate) fn repeat_new_tests(r: &Repeat<'_>, result: &mut TierResult, new: &[TestId]) -> Result<Option<String>> {
    let candidates: Vec<TestId> = new
        .iter()
        .filter(|id| {
            result
                .tests
                .iter()
                .any(|t| &t.id == *id && matches!(t.status, TestStatus::Passed | TestStatus::Flaky))
        })
        .cloned()
        .collect();
    if candidates.is_empty() || r.runs < 2 {
        return Ok(None);
    }
    let junit = r.dir.junit_path(r.tier);
    let tier_dir = r
        .dir
        .tier_dir(r.tier)
        .map_err(|e| Error::io("cannot create", r.dir.path.join("tiers"), e))?;
    let own = tier_dir.join("junit-own-run.xml");
    std::fs::rename(&junit, &own).map_err(|e| Error::io("cannot move", &junit, e))?;
    let pairs: Vec<(String, String)> = candidates
        .iter()
        .map(|t| (t.binary_id.clone(), t.name.clone()))
        .collect();
    let mut args: Vec<String> = r
        .run_args
        .iter()
        .filter(|a| !a.starts_with("--partition"))
        .cloned()
        .collect();
    args.extend(["-E".to_string(), super::filterset::filterset(&pairs)]);
    let mut failures: HashMap<TestId, Vec<Attempt>> = HashMap::new();
    let mut done = 1;
    for n in 2..=r.runs {
        if r.interrupts.received().is_some() {
            break;
        }
        let run = TierRun {
            ws: r.ws,
            tier: r.tier,
            tool_config: r.tool_config,
            built: r.built,
            run_args: &args,
            log_path: tier_dir.join(format!("new-tests-run-{n}.log")),
            env: r.env.clone(),
            echo: false,
            on_spawn: None,
            interrupts: r.interrupts.clone(),
        };
        run_tier(&run, &mut |_, _| {})?;
        done = n;
        let Ok(tests) = crate::junit::read_path(&junit) else {
            continue;
        };
        for t in tests.into_iter().filter(|t| t.status.is_failure()) {
            let mut attempt = Attempt::new(n, t.status, t.duration);
            attempt.message = Some(format!(
                "new test, run {n} of {}: {}",
                r.runs,
                t.message.unwrap_or_default()
            ));
            attempt.output = t.output;
            failures.entry(t.id).or_default().push(attempt);
        }
        let _ = std::fs::remove_file(&junit);
    }
    std::fs::rename(&own, &junit).map_err(|e| Error::io("cannot move back", &own, e))?;
    let mut flaky = Vec::new();
    for test in result.tests.iter_mut() {
        let Some(failed) = failures.remove(&test.id) else {
            continue;
        };
        if test.status == TestStatus::Passed {
            result.counts.flaky += 1;
        }
        if test.attempt_log.is_empty() {
            test.attempt_log
                .push(Attempt::new(1, TestStatus::Passed, test.duration));
        }
        test.message = Some(format!(
            "new test: failed {} of {done} runs (new_test_runs = {})",
            failed.len(),
            r.runs
        ));
        test.attempts += failed.len() as u32;
        test.attempt_log.extend(failed);
        test.status = TestStatus::Flaky;
        flaky.push(test.id.to_string());
    }
    Ok(Some(format!(
        "tier `{}`: {} tests new to the ledger ran {done} times each (new_test_runs){}",
        r.tier,
        candidates.len(),
        if flaky.is_empty() {
            ": none is flaky".to_string()
        } else {
            format!(": flaky {}", flaky.join(", "))
        }
    )))
}
