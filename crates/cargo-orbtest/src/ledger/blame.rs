//! Whose fault a failing attempt was: the test's own, or the machine layer's. An attempt is
//! the machine layer's when, in the run's journal, one of the test's own machine calls failed
//! in the layer: a create, clone or import that timed out, OrbStack down (or not running), or
//! a recovery that did not bring the machine back. A recovery that succeeded is not blame (the
//! test got its machine).
//!
//! The shape is summary.json's per-attempt `blame`: `"test"` or `{"machines": "<reason>"}`.

use orbtest_machines::journal::OpRecord;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Blame {
    /// Always the string `"test"`.
    Test(TestBlame),
    Machines {
        machines: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestBlame {
    Test,
}

impl Blame {
    pub fn test() -> Self {
        Blame::Test(TestBlame::Test)
    }

    pub fn machines(reason: impl Into<String>) -> Self {
        Blame::Machines {
            machines: reason.into(),
        }
    }

    pub fn is_machines(&self) -> bool {
        matches!(self, Blame::Machines { .. })
    }

    pub fn describe(&self) -> String {
        match self {
            Blame::Test(_) => "test".to_string(),
            Blame::Machines { machines } => format!("machines: {machines}"),
        }
    }
}

/// The machine-layer failure among `ops` that the test `test` (summary.json's name) ran into,
/// if any, optionally only within `window` (epoch milliseconds of the attempt).
pub fn machine_failure(test: &str, ops: &[OpRecord], window: Option<(u64, u64)>) -> Option<String> {
    let key = crate::shard::ids::match_key(test);
    ops.iter()
        .filter(|op| {
            op.test
                .as_deref()
                .is_some_and(|t| t == test || crate::shard::ids::match_key(t) == key)
        })
        .filter(|op| match window {
            // An op's record is written when it ends; it overlaps the attempt if it ended
            // after the attempt started and began before the attempt ended.
            Some((start, end)) => op.ts_ms >= start && op.ts_ms.saturating_sub(op.duration_ms) <= end,
            None => true,
        })
        .find_map(reason)
}

/// Why `op` is a machine-layer failure, or `None`.
fn reason(op: &OpRecord) -> Option<String> {
    let create_class = matches!(op.op.as_str(), "create" | "clone" | "import");
    let error = op.error.as_deref().unwrap_or("");
    if error.contains("OrbStack down") || error.contains("not running") {
        return Some(format!("OrbStack was down during `{}`", describe(op)));
    }
    if op.outcome == "timed-out" && create_class {
        let limit = op
            .timeout_ms
            .map(|ms| {
                format!(
                    " after {}",
                    crate::report::human_duration(std::time::Duration::from_millis(ms))
                )
            })
            .unwrap_or_default();
        return Some(format!("`{}` timed out{limit}", describe(op)));
    }
    if op.recovery_ms > 0 && op.outcome != "ok" {
        return Some(format!("recovering `{}` failed", describe(op)));
    }
    if op.outcome == "timed-out" {
        return Some(format!("`{}` timed out in the machine layer", describe(op)));
    }
    None
}

fn describe(op: &OpRecord) -> String {
    match &op.machine {
        Some(m) => format!("orbctl {} {m}", op.op),
        None => format!("orbctl {}", op.op),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn op(test: &str, verb: &str, outcome: &str, error: Option<&str>) -> OpRecord {
        OpRecord {
            ts_ms: 10_000,
            run_id: "r".into(),
            pid: 1,
            test: Some(test.into()),
            op: verb.into(),
            machine: Some("test-a".into()),
            attempt: 1,
            timeout_ms: Some(180_000),
            waited_ms: 0,
            recovery_ms: 0,
            duration_ms: 2_000,
            outcome: outcome.into(),
            recovered: false,
            error: error.map(str::to_string),
            exit_code: None,
        }
    }

    #[test]
    fn create_timeouts_and_orbstack_down_are_the_machine_layers() {
        let ops = [
            op("pkg::it::a", "create", "timed-out", None),
            op("pkg::it::b", "info", "timed-out", Some("OrbStack down")),
            op("pkg::it::c", "create", "ok", None),
            op("pkg::it::d", "run", "failed", Some("other")),
        ];
        let a = machine_failure("pkg::it::a", &ops, None).unwrap();
        assert!(a.contains("orbctl create test-a` timed out after 3m"), "{a}");
        assert!(
            machine_failure("pkg::it::b", &ops, None)
                .unwrap()
                .contains("OrbStack was down")
        );
        assert_eq!(machine_failure("pkg::it::c", &ops, None), None);
        // A failing `orbctl run` is what the test asked for: its own failure.
        assert_eq!(machine_failure("pkg::it::d", &ops, None), None);
        // Another test's failure is not this one's.
        assert_eq!(machine_failure("pkg::it::e", &ops, None), None);
        // Only within the attempt's time, when known.
        assert!(machine_failure("pkg::it::a", &ops, Some((8_000, 9_000))).is_some());
        assert_eq!(machine_failure("pkg::it::a", &ops, Some((10_001, 20_000))), None);
    }

    #[test]
    fn a_recovery_that_worked_is_not_blame_one_that_failed_is() {
        let mut ok = op("t", "create", "ok", None);
        ok.recovered = true;
        ok.recovery_ms = 5_000;
        assert_eq!(machine_failure("t", &[ok], None), None);
        let mut failed = op("t", "create", "failed", Some("other"));
        failed.recovery_ms = 5_000;
        assert!(machine_failure("t", &[failed], None).unwrap().contains("recovering"));
    }

    #[test]
    fn pytest_node_ids_match_junit_names() {
        let ops = [op("tests/test_m.py::test_create[1]", "create", "timed-out", None)];
        assert!(machine_failure("tests.test_m::test_create[1]", &ops, None).is_some());
    }

    #[test]
    fn blame_serializes_as_summary_json_spells_it() {
        assert_eq!(serde_json::to_string(&Blame::test()).unwrap(), r#""test""#);
        assert_eq!(
            serde_json::to_string(&Blame::machines("x")).unwrap(),
            r#"{"machines":"x"}"#
        );
        let back: Blame = serde_json::from_str(r#"{"machines":"y"}"#).unwrap();
        assert!(back.is_machines());
    }
}
