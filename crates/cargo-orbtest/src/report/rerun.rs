//! The command that reruns a failed test, as the terminal, report.html and GitHub show it. It
//! keeps what the run was given besides its selection (`--run-ignored all`, `-j 2`, build
//! options after `--`), so the rerun selects and runs the test the same way.

use crate::results::{RunResult, TestId, TierResult};

/// The command that reruns one failed test of `tier` in `run`: a command tier (whose runner
/// orbtest cannot filter) is rerun whole.
pub fn rerun_in(run: &RunResult, tier: &str, id: &TestId) -> String {
    let kept = &run.invocation.rerun_args;
    match run.tiers.iter().find(|t| t.name == tier) {
        Some(t) => rerun_for(t, id, kept),
        None => rerun_command(tier, id, kept),
    }
}

/// [`rerun_in`] for a tier at hand; `kept` are the run's arguments a rerun keeps.
pub fn rerun_for(tier: &TierResult, id: &TestId, kept: &[String]) -> String {
    if tier.command.is_some() {
        return with_kept(format!("cargo orbtest --tier {} --ignore-needs", tier.name), kept);
    }
    rerun_command(&tier.name, id, kept)
}

/// The command that reruns one test of a nextest tier.
pub fn rerun_command(tier: &str, id: &TestId, kept: &[String]) -> String {
    let filter = format!("binary_id(={}) & test(={})", id.binary_id, id.name);
    with_kept(
        format!("cargo orbtest --tier {tier} --ignore-needs -E {}", shell_quote(&filter)),
        kept,
    )
}

fn with_kept(mut command: String, kept: &[String]) -> String {
    for arg in kept {
        command.push(' ');
        command.push_str(&shell_word(arg));
    }
    command
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `s` as one shell word: as is when it needs no quoting.
pub fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '=' | ',' | '+' | '@'));
    if plain { s.to_string() } else { shell_quote(s) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reruns_keep_the_runs_own_arguments() {
        let id = TestId {
            binary_id: "calc::api".into(),
            name: "tests::it's".into(),
        };
        assert_eq!(
            rerun_command(
                "fast",
                &id,
                &[
                    "--run-ignored".into(),
                    "all".into(),
                    "--".into(),
                    "--features".into(),
                    "a b".into()
                ]
            ),
            "cargo orbtest --tier fast --ignore-needs -E 'binary_id(=calc::api) & test(=tests::it'\\''s)' \
             --run-ignored all -- --features 'a b'"
        );
    }
}
