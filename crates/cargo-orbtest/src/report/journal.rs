//! Reading the machine-operation records of a run's `journal.jsonl` (written by the machines
//! layer, one JSON object per attempt) and turning them into latency figures per operation.
//! Reading is tolerant: lines of other kinds, or that do not parse, are skipped.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

pub(crate) const JOURNAL_FILE: &str = "journal.jsonl";

/// One attempt of one machine operation (`"event":"op"`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct JournalOp {
    #[serde(default)]
    pub ts_ms: u64,
    #[serde(default)]
    pub test: Option<String>,
    pub op: String,
    #[serde(default)]
    pub machine: Option<String>,
    #[serde(default = "first")]
    pub attempt: u32,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub waited_ms: u64,
    pub duration_ms: u64,
    /// ok | failed | timed-out
    pub outcome: String,
    #[serde(default)]
    pub recovered: bool,
    #[serde(default)]
    pub exit_code: Option<i32>,
}

fn first() -> u32 {
    1
}

/// The op records of a journal; a missing file is an empty journal (no machine tier ran).
pub(crate) fn read_journal(path: &Path) -> std::io::Result<Vec<JournalOp>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(parse_journal(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

pub(crate) fn parse_journal(text: &str) -> Vec<JournalOp> {
    text.lines()
        .filter_map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).ok()?;
            if value.get("event").and_then(|e| e.as_str()) != Some("op") {
                return None;
            }
            serde_json::from_value(value).ok()
        })
        .collect()
}

/// Latency and reliability of one operation kind, over all its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpStats {
    pub op: String,
    pub attempts: u64,
    pub ok: u64,
    pub failed: u64,
    pub timed_out: u64,
    /// Attempts after the first (attempt > 1).
    pub retries: u64,
    /// Records marked `recovered` (a timed-out or "already exists" create that had succeeded).
    pub recoveries: u64,
    pub p50_ms: u64,
    pub p95_ms: u64,
    pub max_ms: u64,
    /// Longest wait for a create slot or for pressure to drop.
    pub max_waited_ms: u64,
}

/// One row per operation, the usual lifecycle order first, then the rest by name.
pub(crate) fn op_stats(records: &[JournalOp]) -> Vec<OpStats> {
    let mut by_op: BTreeMap<&str, Vec<&JournalOp>> = BTreeMap::new();
    for r in records {
        by_op.entry(r.op.as_str()).or_default().push(r);
    }
    const ORDER: &[&str] = &["create", "clone", "import", "start", "run", "stop", "restart", "delete"];
    let rank = |op: &str| ORDER.iter().position(|o| *o == op).unwrap_or(ORDER.len());
    let mut ops: Vec<_> = by_op.into_iter().collect();
    ops.sort_by(|a, b| rank(a.0).cmp(&rank(b.0)).then(a.0.cmp(b.0)));
    ops.into_iter()
        .map(|(op, rs)| {
            let mut durations: Vec<u64> = rs.iter().map(|r| r.duration_ms).collect();
            durations.sort_unstable();
            let count = |o: &str| rs.iter().filter(|r| r.outcome == o).count() as u64;
            OpStats {
                op: op.to_string(),
                attempts: rs.len() as u64,
                ok: count("ok"),
                failed: count("failed"),
                timed_out: count("timed-out"),
                retries: rs.iter().filter(|r| r.attempt > 1).count() as u64,
                recoveries: rs.iter().filter(|r| r.recovered).count() as u64,
                p50_ms: percentile(&durations, 50),
                p95_ms: percentile(&durations, 95),
                max_ms: durations.last().copied().unwrap_or(0),
                max_waited_ms: rs.iter().map(|r| r.waited_ms).max().unwrap_or(0),
            }
        })
        .collect()
}

/// Nearest-rank percentile of sorted values (0 for none).
pub(crate) fn percentile(sorted: &[u64], p: u32) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_other_events_and_garbage_and_computes_latency() {
        let mut text = String::new();
        for (i, d) in [100u64, 200, 300, 400, 5000].iter().enumerate() {
            text.push_str(&format!(
                "{{\"event\":\"op\",\"ts_ms\":1,\"run_id\":\"r\",\"pid\":1,\"test\":null,\"op\":\"create\",\"machine\":\"m{i}\",\"attempt\":{},\"timeout_ms\":180000,\"waited_ms\":{i},\"duration_ms\":{d},\"outcome\":\"{}\",\"recovered\":{},\"exit_code\":0}}\n",
                if i == 4 { 2 } else { 1 },
                if i == 3 { "timed-out" } else { "ok" },
                i == 4
            ));
        }
        text.push_str("{\"event\":\"owned\",\"machine\":\"m1\"}\nnot json\n{\"event\":\"op\",\"op\":\"delete\"\n");
        text.push_str("{\"event\":\"op\",\"op\":\"delete\",\"duration_ms\":50,\"outcome\":\"ok\"}\n");
        let records = parse_journal(&text);
        assert_eq!(records.len(), 6);
        let stats = op_stats(&records);
        assert_eq!(stats.len(), 2);
        let create = &stats[0];
        assert_eq!(create.op, "create");
        assert_eq!((create.attempts, create.ok, create.timed_out), (5, 4, 1));
        assert_eq!((create.retries, create.recoveries), (1, 1));
        assert_eq!((create.p50_ms, create.p95_ms, create.max_ms), (300, 5000, 5000));
        assert_eq!(create.max_waited_ms, 4);
        assert_eq!(stats[1].op, "delete");
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), 50);
        assert_eq!(percentile(&v, 95), 95);
        assert_eq!(percentile(&[7], 95), 7);
        assert_eq!(percentile(&[], 50), 0);
    }
}
