//! A command tier's `list` command: the ids of its tests, one per line up to the first empty
//! line (pytest's `--collect-only -q` prints its summary after one). Shards use it to split the
//! tier and to notice tests a plan does not know.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{process, threads};
use crate::config::{Tier, placeholders};

/// How long a `list` command may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub(crate) enum ListError {
    #[error("tier `{tier}`: its `list` command {source}")]
    Spawn {
        tier: String,
        #[source]
        source: process::SpawnError,
    },
    #[error("tier `{tier}`: its `list` command `{command}` {how}:\n{tail}")]
    Failed {
        tier: String,
        command: String,
        how: String,
        tail: String,
    },
}

/// Runs the tier's `list` (`None` when it has none) in its workdir with its environment;
/// `run_dir` is what `{run_dir}` means. Each id is split at its first `::` (group, name).
pub(crate) fn list_tests(
    tier: &Tier,
    config_dir: &Path,
    run_dir: &Path,
    env: &[(String, String)],
) -> Result<Option<Vec<(String, String)>>, ListError> {
    let Some(command) = &tier.command else {
        return Ok(None);
    };
    let Some(list) = &command.list else {
        return Ok(None);
    };
    let value = |name: &str| -> Option<String> {
        Some(match name {
            "threads" => threads(tier.threads).to_string(),
            "tier" => tier.name.clone(),
            "run_dir" => run_dir.display().to_string(),
            "junit" | "tests" => String::new(),
            _ => return None,
        })
    };
    let argv: Vec<String> = list.iter().map(|a| placeholders::expand(a, value)).collect();
    let mut full_env: Vec<(String, String)> = env.to_vec();
    full_env.extend(
        command
            .env
            .iter()
            .map(|(k, v)| (k.clone(), placeholders::expand(v, value))),
    );
    full_env.push((crate::env::TIER.to_string(), tier.name.clone()));
    let workdir = command.workdir(config_dir);
    let mut lines = Vec::new();
    let mut ended = false;
    let exit = process::run(
        &process::Spawn {
            argv: &argv,
            workdir: &workdir,
            env: &full_env,
            deadline: Instant::now() + LIST_TIMEOUT,
            grace: tier.grace_period,
            interrupts: crate::signals::current(),
        },
        &mut |_| {},
        &mut |line| {
            let line = line.trim();
            if line.is_empty() {
                ended |= !lines.is_empty();
            } else if !ended {
                lines.push(line.to_string());
            }
        },
    )
    .map_err(|source| ListError::Spawn {
        tier: tier.name.clone(),
        source,
    })?;
    if !exit.status.success() {
        return Err(ListError::Failed {
            tier: tier.name.clone(),
            command: super::display(&argv),
            how: if exit.status.timed_out {
                format!("took longer than {}", humantime::format_duration(LIST_TIMEOUT))
            } else {
                exit.status.describe()
            },
            tail: exit.tail,
        });
    }
    Ok(Some(lines.iter().map(|id| crate::test_ids::split(id)).collect()))
}
