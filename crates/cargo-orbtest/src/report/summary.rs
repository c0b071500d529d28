//! `summary.json`: the run's results for CI and tools. The documented fields (design.md
//! "Contracts") are never renamed; fields are only ever added.

use serde::{Deserialize, Serialize};

use crate::results::{Attempt, Blame, RunInvocation, RunResult, ShardInfo, TestResult, TestStatus, TierResult};

pub(super) const SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema: u32,
    pub run_id: String,
    /// passed | failed | gate-failed | error
    pub outcome: String,
    pub duration_ms: u64,
    pub started_at: String,
    /// "SIGINT" or "SIGTERM" when the run was interrupted (outcome is then "error").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub exit_code: i32,
    pub nextest_version: String,
    pub tiers: Vec<TierSummary>,
    pub machines: MachinesSummary,
    pub resources: ResourcesSummary,
    pub gate: GateSummary,
    /// Run ids of the shard reports `cargo orbtest report merge` combined into this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
    /// The shard this run was (`--shard K/N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardSummary>,
    /// A merged report's shards: each one's predicted and actual time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardActual>,
    /// How the run was asked for (absent in reports written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation: Option<InvocationSummary>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvocationSummary {
    /// The command line, shell-quoted.
    pub command_line: String,
    /// What a rerun of one test keeps of it (what selected tests left out).
    #[serde(default)]
    pub rerun_args: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl InvocationSummary {
    pub fn of(i: &RunInvocation) -> Option<Self> {
        (*i != RunInvocation::default()).then(|| Self {
            command_line: i.command_line.clone(),
            rerun_args: i.rerun_args.clone(),
            git_commit: i.git_commit.clone(),
            host: i.host.clone(),
        })
    }

    pub(crate) fn to_invocation(&self) -> RunInvocation {
        RunInvocation {
            command_line: self.command_line.clone(),
            rerun_args: self.rerun_args.clone(),
            git_commit: self.git_commit.clone(),
            host: self.host.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSummary {
    /// `K/N`
    pub spec: String,
    pub index: u32,
    pub count: u32,
    /// The plan it ran (`--plan`); absent for nextest's `slice:` without a plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_ms: Option<u64>,
    /// Tests the plan did not know, run here because their hash says so (`tier: id`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub newer_than_plan: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardActual {
    pub run_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_ms: Option<u64>,
    pub actual_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineSummary {
    pub name: String,
    /// failed | timed-out
    pub status: String,
    pub reason: String,
    pub owner: String,
    pub expires: String,
    /// Every attempt, as for failed tests.
    #[serde(default)]
    pub attempts: Vec<AttemptSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierSummary {
    pub name: String,
    /// passed | failed | skipped
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the tier's nextest run started (absent for skipped tiers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    pub duration_ms: u64,
    pub tests: CountsSummary,
    pub failed_tests: Vec<String>,
    pub flaky_tests: Vec<String>,
    /// Failed and timed-out tests with what they printed and how to rerun them.
    #[serde(default)]
    pub failures: Vec<FailureSummary>,
    /// Flaky tests with every attempt.
    #[serde(default)]
    pub flaky: Vec<FlakySummary>,
    /// A command tier's command line (absent for nextest tiers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Failing tests a `[[quarantine]]` entry covered: they did not fail the tier.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarantined_tests: Vec<QuarantineSummary>,
    /// The tier selected no test (its `no_tests` decided; a run failing only for this exits 4).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nothing_selected: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountsSummary {
    pub passed: u64,
    pub failed: u64,
    pub flaky: u64,
    pub timed_out: u64,
    pub skipped: u64,
    #[serde(default)]
    pub not_run: u64,
    #[serde(default)]
    pub quarantined: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureSummary {
    /// `binary-id::test-name`.
    pub name: String,
    /// The two parts of `name` (a binary id may itself hold `::`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub binary_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub test: String,
    /// failed | timed-out
    pub status: String,
    /// Every attempt, oldest first; the last is the one the test's outcome comes from.
    #[serde(deserialize_with = "attempts_or_count")]
    pub attempts: Vec<AttemptSummary>,
    /// The final attempt's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The final attempt's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tail: Option<String>,
    pub rerun: String,
}

/// A test that failed, then passed on a retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlakySummary {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub binary_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub test: String,
    pub attempts: Vec<AttemptSummary>,
}

/// One attempt of a failed or flaky test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptSummary {
    /// 1 for the first run.
    pub n: u32,
    /// passed | failed | timed-out
    pub status: String,
    pub duration_ms: u64,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub output_tail: Option<String>,
    #[serde(default)]
    pub blame: BlameSummary,
}

/// `"test"`, or `{"machines": "<reason>"}` when the machine layer failed the attempt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlameSummary {
    #[default]
    Test,
    Machines(String),
}

/// Summaries before attempts were kept had their number only.
fn attempts_or_count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<AttemptSummary>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<AttemptSummary>),
        Count(u32),
    }
    Ok(match Either::deserialize(d)? {
        Either::List(list) => list,
        Either::Count(n) => (1..=n)
            .map(|n| AttemptSummary {
                n,
                status: "failed".into(),
                duration_ms: 0,
                message: None,
                output_tail: None,
                blame: BlameSummary::Test,
            })
            .collect(),
    })
}

impl AttemptSummary {
    pub fn of(a: &Attempt) -> Self {
        Self {
            n: a.n,
            status: a.status.as_str().to_string(),
            duration_ms: a.duration.as_millis() as u64,
            message: a.message.clone(),
            output_tail: a.output.as_deref().map(|o| super::tail(o, TAIL_LINES)),
            blame: match &a.blame {
                Blame::Test => BlameSummary::Test,
                Blame::Machines(reason) => BlameSummary::Machines(reason.clone()),
            },
        }
    }

    pub(crate) fn to_attempt(&self) -> Attempt {
        Attempt {
            message: self.message.clone(),
            output: self.output_tail.clone(),
            blame: match &self.blame {
                BlameSummary::Test => Blame::Test,
                BlameSummary::Machines(reason) => Blame::Machines(reason.clone()),
            },
            ..Attempt::new(
                self.n,
                TestStatus::parse(&self.status).unwrap_or(TestStatus::Failed),
                std::time::Duration::from_millis(self.duration_ms),
            )
        }
    }
}

/// A test's attempts as summary.json lists them (one for a test that kept none).
fn attempts(r: &TestResult) -> Vec<AttemptSummary> {
    if r.attempt_log.is_empty() {
        let mut a = Attempt::new(1, r.status, r.duration);
        a.message.clone_from(&r.message);
        a.output.clone_from(&r.output);
        return vec![AttemptSummary::of(&a)];
    }
    r.attempt_log.iter().map(AttemptSummary::of).collect()
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachinesSummary {
    pub created: u64,
    #[serde(default)]
    pub cloned: u64,
    pub recovered: u64,
    pub retried: u64,
    /// How many prefix-matched machines remained after postflight.
    pub leftover: u64,
    #[serde(default)]
    pub leftover_names: Vec<String>,
    pub peak_concurrent_creates: u64,
    /// Why postflight could not list or delete the run's machines (then the run is an
    /// infrastructure failure and the next run reaps them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postflight_error: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourcesSummary {
    pub peak_memory_percent: Option<f64>,
    pub peak_swap_percent: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateSummary {
    pub evaluated: bool,
    pub passed: bool,
    pub violations: Vec<String>,
}

/// Lines of a failed test's output kept in summary.json.
const TAIL_LINES: usize = 30;

impl Summary {
    pub(crate) fn from_run(run: &RunResult) -> Self {
        Self {
            schema: SCHEMA,
            run_id: run.run_id.clone(),
            outcome: run.outcome().as_str().to_string(),
            duration_ms: run.duration.as_millis() as u64,
            started_at: humantime::format_rfc3339_millis(run.started_at).to_string(),
            interrupted: run.interrupted.map(|i| i.name().to_string()),
            error: run.error.clone(),
            exit_code: run.exit_code(),
            nextest_version: run.nextest_version.clone(),
            tiers: run.tiers.iter().map(|t| tier(t, &run.invocation.rerun_args)).collect(),
            machines: MachinesSummary {
                created: run.machines.created,
                cloned: run.machines.cloned,
                recovered: run.machines.recovered,
                retried: run.machines.retried,
                leftover: run.machines.leftover.len() as u64,
                leftover_names: run.machines.leftover.clone(),
                peak_concurrent_creates: run.machines.peak_concurrent_creates,
                postflight_error: run.machines.postflight_error.clone(),
            },
            resources: ResourcesSummary {
                peak_memory_percent: run.resources.peak_memory_percent,
                peak_swap_percent: run.resources.peak_swap_percent,
            },
            gate: GateSummary {
                evaluated: run.gate.evaluated,
                passed: run.gate.passed,
                violations: run.gate.violations.clone(),
            },
            merged_from: Vec::new(),
            shard: run.shard.as_ref().map(shard_summary),
            shards: Vec::new(),
            invocation: InvocationSummary::of(&run.invocation),
        }
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

fn tier(t: &TierResult, kept: &[String]) -> TierSummary {
    TierSummary {
        name: t.name.clone(),
        outcome: t.outcome.as_str().to_string(),
        reason: t.reason.clone(),
        started_at: t.started_at.map(|t| humantime::format_rfc3339_millis(t).to_string()),
        duration_ms: t.duration.as_millis() as u64,
        tests: CountsSummary {
            passed: t.counts.passed,
            failed: t.counts.failed,
            flaky: t.counts.flaky,
            timed_out: t.counts.timed_out,
            skipped: t.counts.skipped,
            not_run: t.counts.not_run,
            quarantined: t.counts.quarantined,
        },
        failed_tests: t.failures().map(|r| r.id.to_string()).collect(),
        flaky_tests: t.flaky().map(|r| r.id.to_string()).collect(),
        failures: t
            .failures()
            .map(|r| FailureSummary {
                name: r.id.to_string(),
                binary_id: r.id.binary_id.clone(),
                test: r.id.name.clone(),
                status: r.status.as_str().to_string(),
                attempts: attempts(r),
                message: r.message.clone(),
                output_tail: r.output.as_deref().map(|o| super::tail(o, TAIL_LINES)),
                rerun: super::rerun_for(t, &r.id, kept),
            })
            .collect(),
        flaky: t
            .flaky()
            .map(|r| FlakySummary {
                name: r.id.to_string(),
                binary_id: r.id.binary_id.clone(),
                test: r.id.name.clone(),
                attempts: attempts(r),
            })
            .collect(),
        command: t.command.clone(),
        quarantined_tests: t
            .quarantined
            .iter()
            .map(|q| QuarantineSummary {
                name: q.id.to_string(),
                status: q.status.as_str().to_string(),
                reason: q.reason.clone(),
                owner: q.owner.clone(),
                expires: q.expires.clone(),
                attempts: t.tests.iter().find(|r| r.id == q.id).map(attempts).unwrap_or_default(),
            })
            .collect(),
        nothing_selected: t.nothing_selected,
    }
}

fn shard_summary(s: &ShardInfo) -> ShardSummary {
    let (index, count) = s
        .spec
        .split_once('/')
        .and_then(|(k, n)| Some((k.parse().ok()?, n.parse().ok()?)))
        .unwrap_or((0, 0));
    ShardSummary {
        spec: s.spec.clone(),
        index,
        count,
        plan_id: s.plan_id.clone(),
        predicted_ms: s.predicted_ms,
        newer_than_plan: s.newer_than_plan.clone(),
    }
}
