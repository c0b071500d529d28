//! One `junit.xml` for the whole run: every tier's suites, named `<tier>/<binary-id>` so CI
//! test viewers group them by tier.

use quick_junit::Report;

use crate::results::RunResult;

/// Merges the tiers' JUnit files. Tiers without a readable file contribute nothing (their
/// state is in summary.json).
pub fn merge(run: &RunResult) -> Result<String, String> {
    let mut merged = Report::new("orbtest-run");
    merged.set_time(run.duration);
    for tier in &run.tiers {
        let Some(path) = &tier.junit else { continue };
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let Ok(report) = Report::deserialize_from_str(&text) else {
            continue;
        };
        for mut suite in report.test_suites {
            suite.name = format!("{}/{}", tier.name, suite.name.as_str()).into();
            merged.add_test_suite(suite);
        }
    }
    merged
        .to_string()
        .map_err(|e| format!("could not write merged JUnit: {e}"))
}
