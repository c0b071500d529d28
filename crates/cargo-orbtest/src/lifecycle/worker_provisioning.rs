//! `[machines.workers]` around a run: how many, what they are called, providing them warm in
//! preflight (made, health-checked, replaced when broken), and what machine tiers are told.
//! Postflight deletes them like every machine the run created: preflight claims each in the
//! run journal before it can appear.

use super::baselines::ReadyBaseline;
use crate::config::{Config, Tier, WorkerCount, WorkerSpec, WorkersConfig};
use crate::errors::{Error, Result};
use orbctl::images::canonical;
use orbtest_machines::tracked::Tracked;
use orbtest_machines::worker_machines::{self as workers, WorkerOps, WorkerSet, WorkerSource};
use orbtest_machines::{Op, Outcome};

/// Why the run's workers could not be provided.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProvideError {
    #[error("interrupted ({}) while making worker machines", .0.name())]
    Interrupted(crate::signals::Interrupt),
    #[error("{}", .0.iter().map(|(name, e)| format!("worker `{name}`: {e}")).collect::<Vec<_>>().join("; "))]
    Failed(Vec<(String, workers::WorkerError)>),
}

/// At most this many workers are made at once (create slots still apply on top).
const PARALLEL: usize = 8;

/// How many workers the run needs for `tiers` (the selected ones), if it has workers at all.
pub(crate) fn count(config: &Config, tiers: &[Tier]) -> Option<usize> {
    let workers = config.machines.workers.as_ref()?;
    if !tiers.iter().any(|t| t.machines) {
        return None;
    }
    Some(match workers.count {
        WorkerCount::Count(n) => n as usize,
        WorkerCount::Threads => tiers
            .iter()
            .filter(|t| t.machines)
            .map(|t| crate::tiers::command::threads(t.threads))
            .max()
            .unwrap_or(1),
    })
}

/// Refuses a plan in which two tests of a nextest machine tier could run at once with the same
/// worker: nextest's slots go up to the tier's threads, and each slot needs its own worker.
pub(crate) fn check(config: &Config, tiers: &[Tier]) -> Result<()> {
    let Some(n) = count(config, tiers) else {
        return Ok(());
    };
    for tier in tiers.iter().filter(|t| t.machines && !t.is_command()) {
        let threads = crate::tiers::command::threads(tier.threads);
        if threads > n {
            return Err(Error::Usage(format!(
                "tier `{}` runs up to {threads} tests at once but [machines.workers] count is {n}, so two tests \
                 would share a worker machine ({})\n  = help: set count = \"threads\", or threads = {n} in [tiers.{}]",
                tier.name,
                config.path().display(),
                tier.name
            )));
        }
    }
    Ok(())
}

/// The workers' names: unique to the run, so a leftover of another run is never taken.
pub(crate) fn names(run_id: &str, count: usize) -> Vec<String> {
    let suffix: String = run_id
        .rsplit('-')
        .next()
        .unwrap_or(run_id)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    (0..count).map(|i| format!("orbtest-worker-{suffix}-{i}")).collect()
}

/// How workers are made: clones of the named baseline, or of a ready baseline of the same
/// image, else created from the image.
pub(crate) fn source(config: &WorkersConfig, ready: &[ReadyBaseline]) -> WorkerSource {
    match &config.source {
        WorkerSpec::Baseline(name) => WorkerSource::Clone { baseline: name.clone() },
        WorkerSpec::Image(image) => {
            let wanted = canonical(image);
            match ready
                .iter()
                .find(|b| b.user.is_none() && wanted.is_some() && canonical(&b.image) == wanted)
            {
                Some(b) => WorkerSource::Clone {
                    baseline: b.name.clone(),
                },
                None => WorkerSource::Create { image: image.clone() },
            }
        }
    }
}

/// Makes every worker, health-checks it and replaces it if it fails. Returns a line for the
/// preflight step. On failure, deletes what it made (they are journaled either way).
pub(crate) fn provide_all(
    tracked: &Tracked,
    set: &WorkerSet,
    interrupts: &crate::signals::Interrupts,
) -> std::result::Result<String, ProvideError> {
    let made = super::parallel::map_bounded(
        &set.names,
        PARALLEL,
        || interrupts.received().is_some(),
        |name| {
            workers::provide(tracked, name, &set.source)
                .and_then(|()| workers::ensure_healthy(tracked, name, &set.source))
                .map_err(|e| (name.clone(), e))
        },
    );
    let (mut replaced, mut errors) = (0, Vec::new());
    for r in made.into_iter().flatten() {
        match r {
            Ok(n) => replaced += n as usize,
            Err(e) => errors.push(e),
        }
    }
    if let Some(i) = interrupts.received() {
        remove_all(tracked, set);
        return Err(ProvideError::Interrupted(i));
    }
    if !errors.is_empty() {
        remove_all(tracked, set);
        return Err(ProvideError::Failed(errors));
    }
    let how = match &set.source {
        WorkerSource::Clone { baseline } => format!("clones of {baseline}"),
        WorkerSource::Create { image } => format!("from {image}"),
    };
    Ok(format!(
        "{} ready ({how}){}",
        set.names.len(),
        if replaced > 0 {
            format!("; replaced {replaced} that failed the health check")
        } else {
            String::new()
        }
    ))
}

/// Deletes every worker (a failed preflight must not leave them for the next run to reap).
fn remove_all(tracked: &Tracked, set: &WorkerSet) {
    for name in &set.names {
        let r = WorkerOps::execute(
            tracked,
            &Op::Delete {
                names: vec![name.clone()],
                force: true,
                all: false,
            },
        );
        if let Ok(r) = r
            && !matches!(r.outcome, Outcome::Succeeded)
        {
            tracing::debug!(worker = %name, "cleanup after a failed preflight: {}", r.stderr_text().trim());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_machine_names_unique_to_the_run() {
        let n = names("20261122-134500-3fa9c1", 3);
        assert_eq!(
            n,
            [
                "orbtest-worker-3fa9c1-0",
                "orbtest-worker-3fa9c1-1",
                "orbtest-worker-3fa9c1-2"
            ]
        );
        assert!(
            n.iter()
                .all(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        );
    }

    #[test]
    fn an_image_with_a_baseline_is_cloned() {
        let ready = [ReadyBaseline {
            name: "base".into(),
            image: "ubuntu:jammy".into(),
            user: None,
            clone_for_create: false,
        }];
        let config = |image: &str| WorkersConfig {
            source: WorkerSpec::Image(image.into()),
            count: WorkerCount::Threads,
        };
        assert_eq!(
            source(&config("ubuntu:22.04"), &ready),
            WorkerSource::Clone {
                baseline: "base".into()
            }
        );
        assert_eq!(
            source(&config("alpine"), &ready),
            WorkerSource::Create { image: "alpine".into() }
        );
    }
}
