//! `cargo orbtest clean [--dry-run] [--kept]`: preflight's reap step on its own; `--kept` also
//! deletes the machines runs kept on purpose.

use crate::cli::GlobalArgs;
use crate::errors::{Error, Result};
use crate::exit_code;
use crate::lifecycle::cleanup::{self, DELETE_PARALLELISM, ReapOptions};
use crate::lifecycle::provider::policy;
use crate::lifecycle::state::{LockHolder, now_ms};
use crate::lifecycle::{provider, state};
use orbtest_machines::Client;

pub(super) fn execute(global: &GlobalArgs, options: ReapOptions, no_wait: bool) -> Result<i32> {
    let dry_run = options.dry_run;
    let (ws, config) = super::project::load(global)?;
    let resolved = provider::resolve(&config.machines, &state::home(), &ws.root)?;
    let client = Client::new(resolved.provider.clone()).with_policy(policy(&config.machines));
    let me = LockHolder {
        pid: std::process::id(),
        run_id: "clean".into(),
        workspace: ws.root.display().to_string(),
        since_ms: now_ms(),
    };
    let io = |e: std::io::Error| Error::Infrastructure(format!("{}: {e}", resolved.state.dir.display()));
    // Cleaning while a run owns the provider would race it; queue behind it instead.
    let _lock = if no_wait {
        resolved.state.try_lock(&me).map_err(io)?.map_err(|holder| {
            Error::Infrastructure(format!(
                "a cargo orbtest run is using {}: {}; try again when it ends, or without --no-wait",
                resolved.description,
                holder.map_or_else(|| "unknown run".into(), |h| h.to_string())
            ))
        })?
    } else {
        resolved
            .state
            .lock(&me, |holder| {
                crate::errln!(
                    "orbtest: waiting for {} to finish with {}",
                    holder.map_or_else(|| "another cargo orbtest run".into(), |h| h.to_string()),
                    resolved.description
                );
            })
            .map_err(io)?
    };
    let existing = cleanup::list(&client).map_err(|e| Error::Infrastructure(e.to_string()))?;
    let report = cleanup::reap(
        &client,
        &resolved.state,
        &config.machines,
        &existing,
        options,
        DELETE_PARALLELISM,
    )
    .map_err(|e| Error::Infrastructure(e.to_string()))?;

    let verb = if dry_run { "would delete" } else { "deleted" };
    let deleted: Vec<_> = if dry_run {
        report.plan.delete.clone()
    } else {
        report.deleted.clone()
    };
    for (name, reason) in &deleted {
        crate::outln!("{verb} {name}: {reason}");
    }
    for (name, reason) in &report.plan.keep {
        crate::outln!("kept {name}: {reason}");
    }
    for (name, e) in &report.failed {
        crate::outln!("FAILED to delete {name}: {e}");
    }
    if deleted.is_empty() && report.failed.is_empty() {
        crate::outln!("nothing to clean on {}", resolved.description);
    }
    if config.machines.prefixes.is_empty() && !global.quiet {
        crate::errln!(
            "note: [machines] prefixes is empty, so only machines journaled by earlier runs are cleaned; \
             add your tests' name prefixes to clean the rest"
        );
    }
    Ok(if report.failed.is_empty() {
        exit_code::PASSED
    } else {
        exit_code::INFRASTRUCTURE
    })
}
