//! From what a report lists to a test's result: attempts numbered and labelled, and entries of
//! the same test merged. Shared by the reader and by command tiers, whose attempts are runs of
//! their command.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use crate::results::{Attempt, TestId, TestResult, TestStatus};

/// Lines of output kept per merged failure.
const OUTPUT_LINES: usize = 200;

/// A test's result from its attempts (oldest first; empty for a test that passed at once):
/// numbered, timed-out ones labelled, message and output from the final attempt (a flaky
/// test's: from its last failure).
pub fn from_attempts(id: TestId, status: TestStatus, mut log: Vec<Attempt>) -> TestResult {
    for (i, a) in log.iter_mut().enumerate() {
        a.n = i as u32 + 1;
        if a.status == TestStatus::TimedOut && a.message.is_none() {
            a.message = Some(crate::results::timed_out_after(a.duration));
        }
    }
    let last = log.last();
    let failing = log.iter().rev().find(|a| a.status.is_failure());
    let (message, output) = match status {
        TestStatus::Flaky => (failing.and_then(|a| a.message.clone()), None),
        _ => (
            last.and_then(|a| a.message.clone()),
            last.and_then(|a| a.output.clone()),
        ),
    };
    TestResult {
        id,
        status,
        duration: last.map_or(Duration::ZERO, |a| a.duration),
        attempts: log.len().max(1) as u32,
        message,
        output,
        attempt_log: if status == TestStatus::Passed { Vec::new() } else { log },
    }
}

/// Entries of the same test, in order, become one: flaky when an earlier entry failed and the
/// last passed (gotestsum's reruns, each entry an attempt); failed when the last failed, as one
/// attempt with every failing entry's message and output (pytest lists a failure and a
/// teardown error of the same run separately).
pub fn merge_duplicates(results: Vec<TestResult>) -> Vec<TestResult> {
    let keyed = results.into_iter().map(|r| ((), r)).collect();
    merge_duplicates_by(keyed).into_iter().map(|(_, r)| r).collect()
}

/// [`merge_duplicates`] within each `K` (a suite): the same test under two keys stays two.
pub(crate) fn merge_duplicates_by<K: Clone + Eq + Hash>(results: Vec<(K, TestResult)>) -> Vec<(K, TestResult)> {
    let mut order: Vec<(K, TestId)> = Vec::new();
    let mut groups: HashMap<(K, TestId), Vec<TestResult>> = HashMap::new();
    for (key, r) in results {
        let group = (key, r.id.clone());
        let entry = groups.entry(group.clone()).or_default();
        if entry.is_empty() {
            order.push(group);
        }
        entry.push(r);
    }
    order
        .into_iter()
        .filter_map(|group| {
            let entries = groups.remove(&group)?;
            let (key, id) = group;
            merge_entries(id, entries).map(|r| (key, r))
        })
        .collect()
}

/// One test's entries, in order, as one result.
fn merge_entries(id: TestId, mut entries: Vec<TestResult>) -> Option<TestResult> {
    let mut last = entries.pop()?;
    let earlier_failures: Vec<TestResult> = entries.into_iter().filter(|e| e.status.is_failure()).collect();
    if earlier_failures.is_empty() {
        return Some(last);
    }
    if last.status.is_failure() {
        let mut outputs: Vec<String> = earlier_failures.iter().filter_map(|e| e.output.clone()).collect();
        outputs.extend(last.output.take());
        let output =
            (!outputs.is_empty()).then(|| orbtest_machines::text::tail(&outputs.join("\n"), OUTPUT_LINES, 2_000));
        let messages: Vec<String> = earlier_failures
            .iter()
            .chain(std::iter::once(&last))
            .filter_map(|e| e.message.clone())
            .collect();
        let message = (!messages.is_empty()).then(|| messages.join("; "));
        if let Some(a) = last.attempt_log.last_mut() {
            a.message.clone_from(&message);
            a.output.clone_from(&output);
        }
        last.message = message;
        last.output = output;
        Some(last)
    } else if matches!(last.status, TestStatus::Passed | TestStatus::Flaky) {
        let log = earlier_failures
            .into_iter()
            .chain(std::iter::once(last))
            .flat_map(attempts_of)
            .collect();
        Some(from_attempts(id, TestStatus::Flaky, log))
    } else {
        Some(last)
    }
}

/// A result's attempts; one that passed at once (and so keeps no log) is one passed attempt.
pub fn attempts_of(r: TestResult) -> Vec<Attempt> {
    if r.attempt_log.is_empty() && r.status != TestStatus::Skipped {
        let mut a = Attempt::new(1, r.status, r.duration);
        a.message = r.message;
        a.output = r.output;
        vec![a]
    } else {
        r.attempt_log
    }
}
