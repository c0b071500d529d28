//! The command that reruns a failed test, as the terminal, report.html and GitHub show it.

use crate::results::{RunResult, TestId, TierResult};

/// The command that reruns one failed test of `tier` in `run`: a command tier (whose runner
/// orbtest cannot filter) is rerun whole.
pub fn rerun_in(run: &RunResult, tier: &str, id: &TestId) -> String {
    match run.tiers.iter().find(|t| t.name == tier) {
        Some(t) => rerun_for(t, id),
        None => rerun_command(tier, id),
    }
}

/// [`rerun_in`] for a tier at hand.
pub fn rerun_for(tier: &TierResult, id: &TestId) -> String {
    if tier.command.is_some() {
        return format!("cargo orbtest --tier {} --ignore-needs", tier.name);
    }
    rerun_command(&tier.name, id)
}

/// The command that reruns one test of a nextest tier.
pub fn rerun_command(tier: &str, id: &TestId) -> String {
    let filter = format!("binary_id(={}) & test(={})", id.binary_id, id.name);
    format!(
        "cargo orbtest --tier {tier} --ignore-needs -- -E {}",
        shell_quote(&filter)
    )
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
