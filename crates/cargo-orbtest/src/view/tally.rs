//! Where the running tier stands, kept by both views from the same events: its counts (the
//! same [`TestCounts`] the final summary adds up, so a timeout is never "failed"), the tests
//! running now, and an ETA from the durations earlier runs recorded.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::results::{TestCounts, TestStatus};

#[derive(Debug, Clone)]
pub(crate) struct Tally {
    pub tier: String,
    pub counts: TestCounts,
    /// Tests finished (final status) and the total nextest announced.
    pub done: usize,
    pub total: usize,
    /// Running now, longest running first, with when that was measured.
    pub running: Vec<(String, Duration)>,
    running_at: Option<Instant>,
    /// Tests at once.
    threads: usize,
    /// Each known test's last duration.
    expected: HashMap<String, Duration>,
    finished: HashSet<String>,
    /// Durations of the tests finished in this run.
    took: Vec<Duration>,
}

impl Tally {
    pub(crate) fn new(tier: &str) -> Self {
        Self {
            tier: tier.to_string(),
            counts: TestCounts::default(),
            done: 0,
            total: 0,
            running: Vec::new(),
            running_at: None,
            threads: 1,
            expected: HashMap::new(),
            finished: HashSet::new(),
            took: Vec::new(),
        }
    }

    pub(crate) fn expect(&mut self, threads: usize, durations: &[(String, Duration)]) {
        self.threads = threads.max(1);
        self.expected = durations.iter().cloned().collect();
    }

    /// A test's final status: counted as the summary counts it.
    pub(crate) fn finished(&mut self, test: &str, status: TestStatus, duration: Duration, done: usize, total: usize) {
        match status {
            TestStatus::Passed => self.counts.passed += 1,
            TestStatus::Flaky => {
                self.counts.passed += 1;
                self.counts.flaky += 1;
            }
            TestStatus::Failed => self.counts.failed += 1,
            TestStatus::TimedOut => self.counts.timed_out += 1,
            TestStatus::Skipped => self.counts.skipped += 1,
        }
        self.done = done;
        self.total = total;
        self.finished.insert(test.to_string());
        self.took.push(duration);
        self.running.retain(|(t, _)| t != test);
    }

    pub(crate) fn set_running(&mut self, tests: &[(String, Duration)]) {
        let mut running: Vec<(String, Duration)> = tests
            .iter()
            .filter(|(t, _)| !self.finished.contains(t))
            .cloned()
            .collect();
        running.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        self.running = running;
        self.running_at = Some(Instant::now());
    }

    /// The running tests with their time so far, advanced to now.
    pub(crate) fn running_now(&self) -> Vec<(String, Duration)> {
        let since = self.running_at.map(|t| t.elapsed()).unwrap_or_default();
        self.running.iter().map(|(t, d)| (t.clone(), *d + since)).collect()
    }

    /// Time left, from recorded durations: the tests not started yet (each as long as it took
    /// last time, else as the tests finished so far did) and what the running ones have left,
    /// spread over the tier's threads, and never less than the longest running test needs.
    /// `None` while nothing tells how long a test takes.
    pub(crate) fn eta(&self) -> Option<Duration> {
        if self.total > 0 && self.done >= self.total {
            return None;
        }
        let running = self.running_now();
        let names: HashSet<&str> = running.iter().map(|(t, _)| t.as_str()).collect();
        let unseen: Vec<Duration> = self
            .expected
            .iter()
            .filter(|(t, _)| !self.finished.contains(*t) && !names.contains(t.as_str()))
            .map(|(_, d)| *d)
            .collect();
        let mean = |v: &[Duration]| (!v.is_empty()).then(|| v.iter().sum::<Duration>() / v.len() as u32);
        let typical = mean(&unseen).or_else(|| mean(&self.took))?;
        let waiting = self.total.saturating_sub(self.done + running.len());
        // The known tests still to come, slowest first; the rest at the typical duration.
        let mut unseen = unseen;
        unseen.sort_unstable_by(|a, b| b.cmp(a));
        let queued: Duration =
            unseen.iter().take(waiting).sum::<Duration>() + typical * waiting.saturating_sub(unseen.len()) as u32;
        let left: Vec<Duration> = running
            .iter()
            .map(|(t, ran)| self.expected.get(t).copied().unwrap_or(typical).saturating_sub(*ran))
            .collect();
        let longest = left.iter().copied().max().unwrap_or_default();
        let work = queued + left.iter().sum::<Duration>();
        Some((work / self.threads as u32).max(longest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn timeouts_are_not_failures() {
        let mut t = Tally::new("fast");
        t.finished("a x", TestStatus::TimedOut, secs(1), 1, 3);
        t.finished("a y", TestStatus::Failed, secs(1), 2, 3);
        t.finished("a z", TestStatus::Flaky, secs(1), 3, 3);
        assert_eq!(
            (t.counts.failed, t.counts.timed_out, t.counts.passed, t.counts.flaky),
            (1, 1, 1, 1)
        );
    }

    #[test]
    fn the_eta_comes_from_recorded_durations_not_from_progress() {
        let mut t = Tally::new("slow");
        t.expect(
            2,
            &[
                ("a long".into(), secs(12)),
                ("a short".into(), secs(1)),
                ("a mid".into(), secs(4)),
            ],
        );
        t.total = 3;
        assert!(
            t.eta().is_some_and(|d| d >= secs(8)),
            "17s of work on 2 threads: {:?}",
            t.eta()
        );
        // 12 s tests running for 2 s: not "0s" while nothing has finished.
        t.set_running(&[("a long".into(), secs(2)), ("a mid".into(), secs(2))]);
        let eta = t.eta().unwrap();
        assert!(eta >= secs(9) && eta < secs(13), "{eta:?}");
        t.finished("a mid", TestStatus::Passed, secs(4), 1, 3);
        t.finished("a short", TestStatus::Passed, secs(1), 2, 3);
        t.set_running(&[("a long".into(), secs(11))]);
        let eta = t.eta().unwrap();
        assert!(eta <= secs(2), "{eta:?}");
    }

    #[test]
    fn without_history_the_eta_waits_for_a_finished_test() {
        let mut t = Tally::new("new");
        t.total = 10;
        assert_eq!(t.eta(), None);
        t.finished("a one", TestStatus::Passed, secs(2), 1, 10);
        assert_eq!(t.eta(), Some(secs(18)), "9 more at 2 s on one thread");
    }

    #[test]
    fn running_tests_are_longest_first_and_leave_when_finished() {
        let mut t = Tally::new("t");
        t.set_running(&[("b".into(), secs(1)), ("a".into(), secs(5)), ("c".into(), secs(3))]);
        let names: Vec<String> = t.running.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(names, ["a", "c", "b"]);
        t.finished("c", TestStatus::Passed, secs(3), 1, 3);
        assert_eq!(t.running.len(), 2);
    }
}
