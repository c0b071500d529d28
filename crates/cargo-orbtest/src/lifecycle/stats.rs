//! What a run (or one tier of it) did with machines, read from its journal.

use std::time::Duration;

use crate::results::{MachineActivity, MachineStats};
use orbtest_machines::{JournalView, OpRecord};

/// What the run's tests did with machines between two moments (one tier): every operation
/// but the orchestrator's own (process `orchestrator`). Not only those with a test name: a
/// command tier's runner (a shell script, a build tool) calls `orbctl` without one.
pub(crate) fn activity(view: &JournalView, from_ms: u64, to_ms: u64, orchestrator: u32) -> MachineActivity {
    let ops: Vec<&OpRecord> = view
        .ops
        .iter()
        .filter(|o| o.ts_ms >= from_ms && o.ts_ms <= to_ms && o.pid != orchestrator)
        .collect();
    let ok = |op: &str| ops.iter().filter(|o| o.op == op && o.outcome == "ok").count() as u64;
    let creates: Vec<(u64, u64)> = ops
        .iter()
        .filter(|o| matches!(o.op.as_str(), "create" | "clone" | "import"))
        .map(|o| (o.ts_ms.saturating_sub(o.duration_ms + o.recovery_ms), o.ts_ms))
        .collect();
    let mut slowest: Vec<_> = ops
        .iter()
        .filter(|o| o.op != "run")
        .map(|o| {
            (
                o.op.clone(),
                o.machine.clone(),
                Duration::from_millis(o.duration_ms + o.recovery_ms),
            )
        })
        .collect();
    slowest.sort_by_key(|s| std::cmp::Reverse(s.2));
    slowest.truncate(3);
    MachineActivity {
        creates: ok("create") + ok("import"),
        clones: ok("clone"),
        recoveries: ops.iter().filter(|o| o.recovered).count() as u64,
        retries: ops.iter().filter(|o| o.attempt > 1).count() as u64,
        peak_concurrent_creates: peak_overlap(&creates),
        slowest,
    }
}

/// The run's machine figures from its journal.
pub(crate) fn stats(view: &JournalView) -> MachineStats {
    let ok = |op: &str| view.ops.iter().filter(|o| o.op == op && o.outcome == "ok").count() as u64;
    let creates: Vec<(u64, u64)> = view
        .ops
        .iter()
        .filter(|o| matches!(o.op.as_str(), "create" | "clone" | "import"))
        .map(|o| (o.ts_ms.saturating_sub(o.duration_ms + o.recovery_ms), o.ts_ms))
        .collect();
    MachineStats {
        created: ok("create") + ok("import"),
        cloned: ok("clone"),
        recovered: view.ops.iter().filter(|o| o.recovered).count() as u64,
        retried: view.ops.iter().filter(|o| o.attempt > 1).count() as u64,
        peak_concurrent_creates: peak_overlap(&creates),
        leftover: Vec::new(),
        postflight_error: None,
    }
}

/// The most intervals that overlap at one moment.
fn peak_overlap(intervals: &[(u64, u64)]) -> u64 {
    let mut edges: Vec<(u64, i64)> = Vec::with_capacity(intervals.len() * 2);
    for &(start, end) in intervals {
        edges.push((start, 1));
        edges.push((end, -1));
    }
    // Ends sort before starts at the same instant: back-to-back is not overlap.
    edges.sort();
    let (mut now, mut peak) = (0i64, 0i64);
    for (_, d) in edges {
        now += d;
        peak = peak.max(now);
    }
    peak as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_counts_concurrent_intervals_only() {
        assert_eq!(peak_overlap(&[]), 0);
        assert_eq!(peak_overlap(&[(0, 10), (10, 20)]), 1);
        assert_eq!(peak_overlap(&[(0, 10), (5, 15), (6, 7)]), 3);
    }
}
