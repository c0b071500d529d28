//! Whole JUnit documents joined, not read into results: the run's `junit.xml` from its tiers'
//! reports, and a merged run's from its shards'. Suites are copied as they are (output,
//! properties, timestamps), so quick-junit's document model does the work; every tier's JUnit
//! has been through [`super::read`] by then (nextest's and the normalized command-tier copies
//! are the shape quick-junit reads).

use std::path::Path;
use std::time::Duration;

use quick_junit::{Report, TestSuite};

use crate::results::RunResult;

/// One `junit.xml` for the whole run: every tier's suites, named `<tier>/<binary-id>` so CI
/// test viewers group them by tier. Tiers without a readable file contribute nothing (their
/// state is in summary.json).
pub(crate) fn merge_tiers(run: &RunResult) -> Result<String, quick_junit::SerializeError> {
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
    merged.to_string()
}

/// One JUnit document from the shards' `junit.xml` files: suites of the same name
/// (`<tier>/<binary-id>`) are joined. Shards without a readable file are reported back.
pub(crate) fn merge_shards(dirs: &[&Path], duration: Duration) -> (String, Vec<String>) {
    let mut suites: Vec<TestSuite> = Vec::new();
    let mut problems = Vec::new();
    for dir in dirs {
        let path = dir.join("junit.xml");
        let report = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| Report::deserialize_from_str(&text).map_err(|e| e.to_string()));
        let report = match report {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        for suite in report.test_suites {
            match suites.iter_mut().find(|s| s.name == suite.name) {
                Some(into) => {
                    into.add_test_cases(suite.test_cases);
                    into.time = match (into.time, suite.time) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        (a, b) => a.or(b),
                    };
                }
                None => {
                    let mut fresh = TestSuite::new(suite.name.clone());
                    fresh.time = suite.time;
                    fresh.timestamp = suite.timestamp;
                    fresh.add_test_cases(suite.test_cases);
                    suites.push(fresh);
                }
            }
        }
    }
    let mut merged = Report::new("orbtest-run");
    merged.set_time(duration);
    merged.add_test_suites(suites);
    let xml = merged.to_string().unwrap_or_else(|e| {
        problems.push(format!("could not write the merged JUnit: {e}"));
        String::new()
    });
    (xml, problems)
}
