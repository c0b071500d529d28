//! A run's hold on its provider: preflight before the first machine tier, the environment
//! machine tiers get, and postflight after the last tier (also after failures and Ctrl-C).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::baselines::{self, ReadyBaseline};
use super::cleanup::{self, DELETE_PARALLELISM};
use super::health::{check_version, ensure_running};
use super::pressure::{self, PressureOutcome};
use super::provider::policy;
use super::provider::{self, ResolvedProvider};
use super::reap::Protect;
use super::shim_setup::install_shim;
use super::state::{LockHolder, RunLock, RunState, now_ms};
use super::stats::{activity, stats};
use crate::config::{Config, MachinesConfig, OnPressure, ProviderKind, WorkersConfig};
use crate::errors::{Error, Result};
use crate::events::{Event, Observer, StepOutcome};
use crate::results::MachineStats;
use crate::signals::Interrupts;
use orbtest_machines::broker::Broker;
use orbtest_machines::files::write_atomic;
use orbtest_machines::worker_machines::{ENV_WORKERS, WorkerSet};
use orbtest_machines::{Client, Journal, JournalView, MachineRecord, Record};

/// Command-line choices about machines.
#[derive(Debug, Clone, Default)]
pub struct LifecycleOptions {
    /// `--start-orbstack`: start OrbStack if it is stopped.
    pub start_orbstack: bool,
    /// `--no-wait`: fail at once if another run holds the provider.
    pub no_wait: bool,
    /// `--keep-machines`: leave the run's machines in place.
    pub keep_machines: bool,
    /// `--rebuild-baselines`.
    pub rebuild_baselines: bool,
    /// `--restart-orbstack`: restart OrbStack first if it is over `[machines.restart]` limits.
    pub restart_orbstack: bool,
}

pub struct PreflightContext<'a> {
    pub config: &'a Config,
    pub run_id: &'a str,
    pub workspace: &'a Path,
    /// The run's report directory (provisioning logs, the journal copy).
    pub report_dir: &'a Path,
    pub options: &'a LifecycleOptions,
    pub home: PathBuf,
    /// How many worker machines to provide (`[machines.workers]`), if any.
    pub workers: Option<usize>,
    /// Forwarded to preflight's orbctl calls (a provision step stops at Ctrl-C), and checked
    /// before each step.
    pub interrupts: &'a Interrupts,
}

pub enum Preflight {
    Ready(Box<Session>),
    /// Host pressure with `on_pressure = "skip"`: machine tiers are skipped for this reason.
    Skip(String),
}

pub struct Session {
    pub resolved: ResolvedProvider,
    /// `orbctl` and `orb` links to the shim, first on machine tiers' PATH.
    shim_dir: PathBuf,
    /// Carries out the tests' machine calls from preflight to postflight.
    broker: Option<Broker>,
    /// Journals every attempt.
    pub client: Client,
    pub journal: Arc<Journal>,
    pub baselines: Vec<ReadyBaseline>,
    /// The run's worker machines, when `[machines.workers]` asks for them.
    pub workers: Option<WorkerSet>,
    run: RunState,
    _lock: RunLock,
    config: MachinesConfig,
    options: LifecycleOptions,
    report_dir: PathBuf,
}

/// What postflight did.
#[derive(Debug, Clone, Default)]
pub struct Postflight {
    pub stats: MachineStats,
    pub deleted: Vec<String>,
    /// Machines kept on purpose (`--keep-machines`, `keep_on_failure`).
    pub kept: Vec<String>,
    pub errors: Vec<String>,
}

/// Runs one preflight step with its spinner/line and duration; a failure names the step.
fn step<T>(
    observer: &dyn Observer,
    interrupts: &Interrupts,
    name: &str,
    f: impl FnOnce() -> Result<(T, String)>,
) -> Result<T> {
    if let Some(i) = interrupts.received() {
        return Err(Error::preflight(
            name,
            format!("interrupted ({}) before this step", i.name()),
        ));
    }
    observer.event(&Event::StepStarted { step: name });
    let start = Instant::now();
    let outcome = f();
    let shown = match &outcome {
        Ok((_, message)) => StepOutcome::Done(message.clone()),
        Err(e) => StepOutcome::Failed(e.to_string()),
    };
    observer.event(&Event::StepFinished {
        step: name,
        duration: start.elapsed(),
        outcome: shown,
    });
    outcome.map(|(value, _)| value)
}

/// Builds the Docker provider's machine images and writes the map orbdock reads; the map's
/// path and the step's message (what was built, and which init machines boot).
fn docker_images(ctx: &PreflightContext<'_>, run: &RunState) -> Result<(PathBuf, String)> {
    let fail = |m: String| Error::preflight("images", m);
    let engine = super::docker::connect()?;
    let built_images = |e: super::docker::ImageBuildError| fail(e.to_string());
    let built = super::docker::ensure_images(
        &engine,
        &ctx.config.machines.docker,
        ctx.options.rebuild_baselines,
        &ctx.report_dir.join("images"),
        &|_| {},
    )
    .map_err(built_images)?;
    let map = super::docker::write_image_map(&run.dir, &built)
        .map_err(|e| fail(format!("cannot write the image map in {}: {e}", run.dir.display())))?;
    let (new, reused): (Vec<_>, Vec<_>) = built.iter().partition(|b| b.built);
    let names = |v: &[&super::docker::BuiltImage]| v.iter().map(|b| b.name.as_str()).collect::<Vec<_>>().join(", ");
    let mut parts = Vec::new();
    if !new.is_empty() {
        parts.push(format!("built {}", names(&new)));
    }
    if !reused.is_empty() {
        parts.push(format!("reused {}", names(&reused)));
    }
    if parts.is_empty() {
        parts.push("no [machines.docker.images] recipes".to_string());
    }
    let description = engine.describe();
    parts.push(match &description.systemd {
        orbdock::SystemdSupport::Yes => "machines boot systemd".to_string(),
        orbdock::SystemdSupport::No(why) => format!(
            "systemd cannot be PID 1 on this engine ({why}): machines boot a minimal init instead (docs/docker.md \
             says what differs)"
        ),
        orbdock::SystemdSupport::Unknown => "init not probed yet".to_string(),
    });
    Ok((
        map,
        format!(
            "Docker {} at {}: {}",
            description.version,
            description.endpoint,
            parts.join("; ")
        ),
    ))
}

/// Preflight's steps, each shown (see [`step`]).
struct Steps<'c, 'o> {
    ctx: &'c PreflightContext<'c>,
    observer: &'o dyn Observer,
}

impl Steps<'_, '_> {
    fn run<T>(&self, name: &str, f: impl FnOnce() -> Result<(T, String)>) -> Result<T> {
        step(self.observer, self.ctx.interrupts, name, f)
    }
}

/// The provider, reached: for OrbStack and orbsim, running and recent enough.
fn provider_step(ctx: &PreflightContext<'_>) -> Result<(ResolvedProvider, String)> {
    let machines = &ctx.config.machines;
    let resolved = provider::resolve(machines, &ctx.home, ctx.workspace)?;
    if resolved.kind == ProviderKind::Docker {
        // Reached (resolve connected); orbctl's status and version floor are OrbStack's.
        let message = resolved.description.clone();
        return Ok((resolved, message));
    }
    let client = Client::new(resolved.provider.clone())
        .with_policy(policy(machines))
        .with_interrupts(ctx.interrupts.clone());
    let status = ensure_running(&client, machines, ctx.options.start_orbstack)?;
    let version = check_version(&client, &machines.min_version)?;
    let message = format!("{}, OrbStack {version}, {status}", resolved.description);
    Ok((resolved, message))
}

/// The provider's run lock (at once with `--no-wait`, else queued behind its holder), and
/// this run's directory.
fn lock_step(
    ctx: &PreflightContext<'_>,
    resolved: &ResolvedProvider,
    observer: &dyn Observer,
) -> Result<((RunLock, RunState), String)> {
    let me = LockHolder {
        pid: std::process::id(),
        run_id: ctx.run_id.to_string(),
        workspace: ctx.workspace.display().to_string(),
        since_ms: now_ms(),
    };
    let io = |e: std::io::Error| Error::preflight("run lock", format!("{}: {e}", resolved.state.dir.display()));
    let lock = if ctx.options.no_wait {
        match resolved.state.try_lock(&me).map_err(io)? {
            Ok(lock) => lock,
            Err(holder) => {
                return Err(Error::preflight(
                    "run lock",
                    format!(
                        "another cargo orbtest run is using {}: {}; wait for it to finish, or run without \
                         --no-wait to queue behind it",
                        resolved.description,
                        holder.map_or_else(|| "unknown run".to_string(), |h| h.to_string())
                    ),
                ));
            }
        }
    } else {
        resolved
            .state
            .lock(&me, |holder| {
                let message = format!(
                    "waiting for {} to finish with {} (pass --no-wait to fail instead)",
                    holder.map_or_else(|| "another cargo orbtest run".to_string(), |h| h.to_string()),
                    resolved.description
                );
                observer.event(&Event::Note { message: &message });
            })
            .map_err(io)?
    };
    let run = resolved.state.start_run(ctx.run_id).map_err(io)?;
    Ok(((lock, run), String::new()))
}

/// `--restart-orbstack`: OrbStack restarted over `[machines.restart]`.
fn restart_step(machines: &MachinesConfig, resolved: &ResolvedProvider) -> Result<((), String)> {
    let orbstack = super::remedy::ProviderOrbStack {
        client: Client::new(resolved.provider.clone()).with_policy(policy(machines)),
        kind: resolved.kind,
    };
    let done = super::remedy::remedy(&orbstack, &machines.restart, Duration::from_millis(250))
        .map_err(|e| Error::preflight("restart", e))?;
    Ok(((), done.to_string()))
}

/// Host pressure against `[pressure]` (waiting while it is over the limits, when asked to).
fn pressure_step(
    ctx: &PreflightContext<'_>,
    resolved: &ResolvedProvider,
    observer: &dyn Observer,
) -> Result<(PressureOutcome, String)> {
    let provider = resolved.provider.clone();
    let verdict = pressure::check(
        &ctx.config.pressure,
        || pressure::sample(provider.as_ref()),
        Duration::from_secs(1),
        Duration::from_secs(10),
        |reason, waited| {
            let message = format!(
                "host under pressure: {reason}; waiting for it to drop ({} of at most {})",
                humantime::format_duration(Duration::from_secs(waited.as_secs())),
                humantime::format_duration(ctx.config.pressure.max_wait)
            );
            observer.event(&Event::Note { message: &message });
        },
    )
    .map_err(|m| Error::preflight("pressure", m))?;
    let message = match &verdict {
        PressureOutcome::Clear(p) => format!("memory {:.0}%, swap {:.0}%", p.memory_percent, p.swap_percent),
        PressureOutcome::Ignored(reason) => format!("{reason}; going ahead (on_pressure = \"ignore\")"),
        PressureOutcome::Skip(reason) => reason.clone(),
    };
    Ok((verdict, message))
}

/// The run's journal, opened and begun with the run's own record.
fn open_journal(ctx: &PreflightContext<'_>, run: &RunState, resolved: &ResolvedProvider) -> Result<Arc<Journal>> {
    let journal = Journal::open(&run.journal_path(), ctx.run_id, None)
        .map_err(|e| Error::preflight("run lock", format!("cannot open the run journal: {e}")))?;
    journal
        .append(
            &Record::Run {
                ts_ms: now_ms(),
                run_id: ctx.run_id.to_string(),
                pid: std::process::id(),
                provider: resolved.description.clone(),
                workspace: ctx.workspace.display().to_string(),
            },
            true,
        )
        .map_err(|e| Error::preflight("run lock", format!("cannot write the run journal: {e}")))?;
    Ok(Arc::new(journal))
}

/// Leftovers deleted (orphans of earlier runs, prefix matches); the machines that remain.
fn reap_step(
    client: &Client,
    resolved: &ResolvedProvider,
    machines: &MachinesConfig,
) -> Result<(Vec<MachineRecord>, String)> {
    let existing = cleanup::list(client).map_err(|m| Error::preflight("reap", m))?;
    let report = cleanup::reap(
        client,
        &resolved.state,
        machines,
        &existing,
        cleanup::ReapOptions::default(),
        DELETE_PARALLELISM,
    )
    .map_err(|m| Error::preflight("reap", m))?;
    let orphans = report
        .deleted
        .iter()
        .filter(|(_, r)| matches!(r, super::reap::ReapReason::Orphan { .. }))
        .count();
    let mut message = if report.deleted.is_empty() {
        "nothing left over".to_string()
    } else {
        format!(
            "deleted {} ({orphans} from earlier runs, {} by prefix)",
            crate::report::count_as(report.deleted.len() as u64, "leftover machine", "leftover machines"),
            report.deleted.len() - orphans
        )
    };
    for (name, e) in &report.failed {
        message.push_str(&format!("; could not delete `{name}`: {e}"));
    }
    let gone: BTreeSet<&str> = report.deleted.iter().map(|(n, _)| n.as_str()).collect();
    let existing: Vec<_> = existing
        .into_iter()
        .filter(|m| !gone.contains(m.name.as_str()))
        .collect();
    Ok((existing, message))
}

/// The configured baselines built or reused, then automatic ones (which only speed the run
/// up: one that cannot be made is a note, not a failure).
fn baselines_step(
    ctx: &PreflightContext<'_>,
    client: &Client,
    resolved: &ResolvedProvider,
    existing: &[MachineRecord],
) -> Result<(Vec<ReadyBaseline>, String)> {
    let machines = &ctx.config.machines;
    let mut outcome = baselines::ensure(
        client,
        &resolved.state,
        &machines.baselines,
        existing,
        ctx.options.rebuild_baselines,
        &ctx.report_dir.join("baselines"),
    )
    .map_err(|e| Error::preflight("baselines", e.to_string()))?;
    let auto = if machines.auto_baselines {
        baselines::automatic(&machines.baselines, &resolved.state.demand())
    } else {
        Vec::new()
    };
    let mut auto_note = String::new();
    if !auto.is_empty() {
        match baselines::ensure(
            client,
            &resolved.state,
            &auto,
            existing,
            ctx.options.rebuild_baselines,
            &ctx.report_dir.join("baselines"),
        ) {
            Ok(made) => {
                outcome.built.extend(made.built);
                outcome.reused.extend(made.reused);
                outcome.ready.extend(made.ready);
                auto_note = format!(
                    " (automatic: {}, created {}+ times by the last run; auto_baselines = false turns this off)",
                    auto.iter().map(|b| b.image.as_str()).collect::<Vec<_>>().join(", "),
                    baselines::AUTO_MIN_CREATES
                );
            }
            Err(e) => auto_note = format!("; no automatic baseline: {e}"),
        }
    }
    let message = baselines_message(&outcome.built, &outcome.reused, &auto_note);
    Ok((outcome.ready, message))
}

/// "built A; reused B (automatic: …)", "none configured".
fn baselines_message(built: &[String], reused: &[String], auto_note: &str) -> String {
    if built.is_empty() && reused.is_empty() {
        return if auto_note.is_empty() {
            "none configured".to_string()
        } else {
            auto_note.trim_start_matches("; ").to_string()
        };
    }
    let mut parts = Vec::new();
    if !built.is_empty() {
        parts.push(format!("built {}", built.join(", ")));
    }
    if !reused.is_empty() {
        parts.push(format!("reused {}", reused.join(", ")));
    }
    parts.join("; ") + auto_note
}

/// The run's worker machines, named, written for the processes that look them up, and made.
fn workers_step(
    ctx: &PreflightContext<'_>,
    count: usize,
    wanted: &WorkersConfig,
    ready: &[ReadyBaseline],
    run: &RunState,
    broker: &Broker,
) -> Result<(WorkerSet, String)> {
    let set = WorkerSet {
        names: super::worker_provisioning::names(ctx.run_id, count),
        source: super::worker_provisioning::source(wanted, ready),
    };
    set.write(&run.dir)
        .map_err(|e| Error::preflight("workers", format!("cannot write {}: {e}", run.dir.display())))?;
    let tracked = broker.tracked(None);
    let message = super::worker_provisioning::provide_all(&tracked, &set, ctx.interrupts)
        .map_err(|e| Error::preflight("workers", e))?;
    Ok((set, message))
}

impl Session {
    /// Preflight, step by step (each shown with its spinner and duration): provider, run lock,
    /// restart (when asked), pressure, Docker images, reap, baselines, warm images, the shim
    /// and its broker, workers.
    pub fn preflight(ctx: &PreflightContext<'_>, observer: &dyn Observer) -> Result<Preflight> {
        let machines = &ctx.config.machines;
        let steps = Steps { ctx, observer };
        let resolved = steps.run("provider", || provider_step(ctx))?;
        let (lock, run) = steps.run("run lock", || lock_step(ctx, &resolved, observer))?;
        // Restarting OrbStack under another run would kill its machines' work: only with the
        // run lock held (and before the pressure check, since a restart is what relieves it).
        if ctx.options.restart_orbstack {
            steps.run("restart", || restart_step(machines, &resolved))?;
        }
        if let PressureOutcome::Skip(reason) = steps.run("pressure", || pressure_step(ctx, &resolved, observer))? {
            debug_assert_eq!(ctx.config.pressure.on_pressure, OnPressure::Skip);
            return Ok(Preflight::Skip(reason));
        }
        // Docker: the machine images tests create from, built (or found in the engine's cache)
        // now; orbdock reads which is which from the run directory, and labels what it makes
        // with this run.
        let resolved = if resolved.kind == ProviderKind::Docker {
            steps.run("images", || {
                docker_images(ctx, &run).map(|(map, message)| {
                    let resolved = resolved
                        .clone()
                        .with_env(orbdock::env::DOCKER_IMAGES, &map.display().to_string())
                        .with_env(orbdock::env::RUN, ctx.run_id);
                    (resolved, message)
                })
            })?
        } else {
            resolved
        };

        let journal = open_journal(ctx, &run, &resolved)?;
        let client = Client::new(resolved.provider.clone())
            .with_policy(policy(machines))
            .with_observer(journal.clone());
        // Postflight's client does not stop at an interrupt: cleaning up is why we stayed.
        let preflight_client = client.clone().with_interrupts(ctx.interrupts.clone());
        let client = &preflight_client;
        let existing = steps.run("reap", || reap_step(client, &resolved, machines))?;
        let ready = steps.run("baselines", || baselines_step(ctx, client, &resolved, &existing))?;
        steps.run("warm images", || {
            let covered = baselines::images(&ready);
            let warmed = super::warm::warm(client, &journal, &resolved.state, &machines.images, &covered)
                .map_err(|m| Error::preflight("warm images", m))?;
            let message = if warmed.is_empty() {
                "nothing to warm".to_string()
            } else {
                format!("warmed {}", warmed.join(", "))
            };
            Ok(((), message))
        })?;
        let (shim_dir, broker) = install_shim(&run.dir, &resolved, machines, &ctx.config.pressure, &ready, &journal)
            .map_err(|e| Error::preflight("shim", e))?;
        let workers = match (ctx.workers, &machines.workers) {
            (Some(count), Some(wanted)) if count > 0 => {
                Some(steps.run("workers", || workers_step(ctx, count, wanted, &ready, &run, &broker))?)
            }
            _ => None,
        };

        Ok(Preflight::Ready(Box::new(Session {
            workers,
            broker: Some(broker),
            shim_dir,
            resolved,
            client: Client::new(client.provider().clone())
                .with_policy(client.policy().clone())
                .with_observer(journal.clone()),
            journal,
            baselines: ready,
            run,
            _lock: lock,
            config: machines.clone(),
            options: ctx.options.clone(),
            report_dir: ctx.report_dir.to_path_buf(),
        })))
    }

    /// What tests did with machines from `from_ms` until now.
    pub(crate) fn activity_since(&self, from_ms: u64) -> crate::results::MachineActivity {
        let view = JournalView::read(self.journal.path()).unwrap_or_default();
        activity(&view, from_ms, now_ms(), std::process::id())
    }

    /// Puts the failed attempts of a tier's tests on the machine layer where the journal says
    /// it failed them (see `blame`).
    pub fn blame(&self, tier: &mut crate::results::TierResult) {
        let view = JournalView::read(self.journal.path()).unwrap_or_default();
        super::blame::apply(tier, &view);
    }

    /// The run's own state directory (`ORBTEST_RUN_DIR`).
    pub fn run_dir(&self) -> &Path {
        &self.run.dir
    }

    /// Environment for a machine tier's tests: the shim's `orbctl`/`orb` first on PATH, the
    /// run directory it reads its settings from, and the real orbctl (for reference; the shim
    /// uses the one in its settings).
    pub(crate) fn tier_env(&self) -> Vec<(String, String)> {
        let mut env = self.resolved.env.clone();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![self.shim_dir.clone()];
        dirs.extend(std::env::split_paths(&path).filter(|d| d != &self.shim_dir));
        if let Ok(joined) = std::env::join_paths(dirs) {
            env.push(("PATH".into(), joined.to_string_lossy().into_owned()));
        }
        env.push((crate::env::RUN_DIR.into(), self.run.dir.display().to_string()));
        env.push((
            crate::env::REAL_ORBCTL.into(),
            self.resolved.orbctl.display().to_string(),
        ));
        if let Some(workers) = &self.workers {
            env.push((ENV_WORKERS.into(), workers.names.join(",")));
        }
        env
    }

    /// orbtest's target runner, which gives each nextest test its worker machine (only with
    /// workers).
    pub(crate) fn target_runner(&self) -> Option<PathBuf> {
        self.workers
            .as_ref()
            .map(|_| self.shim_dir.join(crate::personalities::worker_slot::RUNNER))
    }

    /// Deletes what this run created (unless asked to keep it), reports leftovers, ends the
    /// journal and releases the provider.
    pub(crate) fn postflight(mut self, run_failed: bool, observer: &dyn Observer) -> Postflight {
        observer.event(&Event::StepStarted { step: "postflight" });
        let start = Instant::now();
        // Calls under way finish first (each is bounded by its timeout): a create its caller
        // gave up on must exist, or be gone, before we look for what is ours. An interrupted
        // run does not wait; what they make is journaled, and the next run reaps it.
        if let Some(broker) = self.broker.take() {
            // What the tests created, for the next run's automatic baselines.
            if let Err(e) = self.resolved.state.set_demand(&broker.demand()) {
                tracing::warn!("cannot record the run's creates per image: {e}");
            }
            broker.stop(crate::signals::received().is_none());
        }
        let mut out = Postflight::default();
        let view = JournalView::read(self.journal.path()).unwrap_or_default();
        let existing = match cleanup::list(&self.client) {
            Ok(list) => list,
            Err(e) => {
                // Without a list nothing is known about what exists: every claim stays, so the
                // next run's preflight reaps what this run made.
                out.errors.push(e.to_string());
                return self.finish_postflight(out, start, observer);
            }
        };
        let names: BTreeSet<&str> = existing.iter().map(|m| m.name.as_str()).collect();
        // Ours only if created after we claimed the name (a name that was taken stays its owner's).
        let ours: Vec<String> = existing
            .iter()
            .filter(|m| view.owned.get(&m.name).is_some_and(|o| o.matches_id(&m.id)))
            .map(|m| m.name.clone())
            .collect();
        let keep = self.options.keep_machines || (self.config.keep_on_failure && run_failed);
        if keep {
            out.kept = ours.clone();
        } else {
            for (name, result) in cleanup::delete_all(&self.client, &ours, DELETE_PARALLELISM) {
                match result {
                    Ok(()) => {
                        let _ = self.journal.release(&name, "deleted by postflight");
                        out.deleted.push(name);
                    }
                    Err(e) => out.errors.push(format!("could not delete `{name}`: {e}")),
                }
            }
        }
        // Claims on machines that are gone, or that were never ours, end here too.
        for machine in view.owned.keys().filter(|m| !ours.contains(m)) {
            let why = if names.contains(machine.as_str()) {
                "not created by this run"
            } else {
                "gone"
            };
            let _ = self.journal.release(machine, why);
        }

        let after = match cleanup::list(&self.client) {
            Ok(after) => after,
            Err(e) => {
                out.errors.push(e.to_string());
                existing
            }
        };
        let protect = Protect::new(&self.config.protect).ok();
        let baseline_names = self.resolved.state.baseline_names(&self.config.baselines);
        out.stats.leftover = after
            .iter()
            .map(|m| m.name.clone())
            .filter(|n| self.config.prefixes.iter().any(|p| n.starts_with(p.as_str())))
            .filter(|n| protect.as_ref().is_none_or(|p| p.matching(n).is_none()))
            .filter(|n| !baseline_names.contains(n) && !out.kept.contains(n))
            .collect();
        self.finish_postflight(out, start, observer)
    }

    /// Ends the journal, figures, prunes old runs and reports the postflight step.
    fn finish_postflight(self, mut out: Postflight, start: Instant, observer: &dyn Observer) -> Postflight {
        let _ = self.journal.append(
            &Record::End {
                ts_ms: now_ms(),
                kept: out.kept.clone(),
            },
            true,
        );
        let view = JournalView::read(self.journal.path()).unwrap_or_default();
        let leftover = std::mem::take(&mut out.stats.leftover);
        out.stats = stats(&view);
        out.stats.leftover = leftover;
        if let Ok(bytes) = std::fs::read(self.journal.path()) {
            let _ = write_atomic(&self.report_dir.join("journal.jsonl"), &bytes);
        }
        let state = self.resolved.state.clone();
        let keep_runs = self.config.keep_runs as usize;
        let unfinished = |dir: &Path| JournalView::read(&dir.join("journal.jsonl")).is_ok_and(|v| !v.owned.is_empty());
        if let Err(e) = state.prune(keep_runs, &unfinished) {
            tracing::warn!("cannot prune old runs in {}: {e}", state.dir.display());
        }
        let mut message = format!("deleted {}", crate::report::count(out.deleted.len() as u64, "machine"));
        if !out.kept.is_empty() {
            message = format!(
                "kept {} as asked: {}",
                crate::report::count(out.kept.len() as u64, "machine"),
                out.kept.join(", ")
            );
        }
        if !out.stats.leftover.is_empty() {
            message.push_str(&format!("; LEFTOVER: {}", out.stats.leftover.join(", ")));
        }
        let outcome = if out.errors.is_empty() {
            StepOutcome::Done(message)
        } else {
            StepOutcome::Failed(format!("{message}; {}", out.errors.join("; ")))
        };
        observer.event(&Event::StepFinished {
            step: "postflight",
            duration: start.elapsed(),
            outcome,
        });
        out
    }
}
