//! Executes a plan: build once (when a tier runs nextest), then each tier in order as its own
//! nextest run or, for a command tier, its command, deciding from the results so far whether
//! the next tier may run. Produces a `RunResult`; writing reports is
//! the caller's business.

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use nextest_metadata::NextestExitCode;

use crate::config::{Config, Tier};
use crate::errors::{Error, Result};
use crate::events::{Event, Observer};
use crate::history::History;
use crate::lifecycle::{LifecycleOptions, Preflight, PreflightContext, Session};
use crate::plan::Plan;
use crate::report::RunDir;
use crate::results::{RunResult, TestCounts, TestId, TestResult, TestStatus, TierOutcome, TierResult};
use crate::signals::Interrupts;
use crate::tiers::command::CommandRun;
use crate::tiers::nextest::{self, Built, ForwardedArgs, LineEvent, TierRun, ToolConfig};
use crate::workspace::Workspace;
use orbtest_machines::files::write_atomic;

#[derive(Debug, Clone, Default)]
pub(crate) struct RunOptions {
    pub forwarded: ForwardedArgs,
    pub report_dir: Option<PathBuf>,
    /// Colour cargo's build output.
    pub color: bool,
    /// Copy nextest's and cargo's output to the terminal as it happens.
    pub verbose: bool,
    /// A live view owns the terminal: with `verbose`, it prints nextest's output itself (from
    /// `TierOutput` events) instead of the runner copying it to stderr under the view.
    pub live: bool,
    pub lifecycle: LifecycleOptions,
    /// `--shard K/N [--plan FILE]`.
    pub shard: Option<crate::shard::runtime::ShardRequest>,
    /// How the run was asked for (into the results and reports).
    pub invocation: crate::results::RunInvocation,
}

/// What every tier needs, fixed before the first one runs.
struct Prepared {
    /// The generated tool config and the build, when a tier runs nextest.
    nextest: Option<(ToolConfig, Built)>,
    /// This shard's share of each tier (`--shard`).
    shares: Option<crate::shard::runtime::Shares>,
    quarantined: crate::quarantine::Covered,
    /// The tests the flake ledger has seen (for `new_test_runs`).
    seen: Option<crate::ledger::Seen>,
}

/// Where the tier loop stands.
struct TierLoop {
    machines: MachineStage,
    /// Why every later tier is skipped (preflight failed, a machine tier could not be set up).
    stop: Option<String>,
}

/// A tier whose JUnit was read: tests nextest announced but never finished (cancelled) are
/// not run; the tier passes only when nothing failed and nothing is missing.
fn judge_counts(code: i32, output: &nextest::TierRunOutput, result: &mut TierResult) {
    if let Some(total) = output.total {
        let ran = result.tests.iter().filter(|t| t.status != TestStatus::Skipped).count();
        let missing = total.saturating_sub(ran);
        result.counts.not_run = missing as u64;
    }
    let clean = code != NextestExitCode::TEST_RUN_FAILED && result.counts.failures() == 0 && result.counts.not_run == 0;
    if clean {
        result.outcome = TierOutcome::Passed;
    } else if result.counts.failures() == 0 {
        result.reason = Some(match output.interrupted {
            Some(i) => format!("interrupted by {} before every test ran", i.name()),
            None => format!("nextest reported a failure: {}", last_error_line(&output.tail)),
        });
    }
}

/// Where the run stands with machines: preflight runs before the first machine tier.
enum MachineStage {
    NotStarted,
    Ready(Box<Session>),
    /// Host pressure with `on_pressure = "skip"`.
    Skipped(String),
    Failed,
}

pub(crate) struct Runner<'a> {
    pub ws: &'a Workspace,
    pub config: &'a Config,
    pub plan: &'a Plan,
    pub options: &'a RunOptions,
    pub observer: &'a dyn Observer,
    /// The process's SIGINT/SIGTERM (`signals::install`): forwarded to every child the run
    /// supervises, and the reason later tiers are skipped.
    pub interrupts: Interrupts,
}

/// A finished run and where its files are.
pub(crate) struct Finished {
    pub result: RunResult,
    pub dir: RunDir,
}

impl Runner<'_> {
    /// Runs the plan. An error is returned only when nothing ran (nextest missing, a filterset
    /// nextest rejects, a tier that cannot start before any tier or machine did); once a tier
    /// ran or a machine was made, a build failure or a broken tier ends in a `RunResult` with
    /// `error` set, so reports still get written and postflight still runs.
    pub(crate) fn run(&self) -> Result<Finished> {
        let nextest_tiers: Vec<&Tier> = self.plan.tiers.iter().filter(|t| !t.is_command()).collect();
        let version = self.check_before_start(&nextest_tiers)?;
        let started_at = SystemTime::now();
        let clock = Instant::now();
        let dir = self.open_run_dir(started_at)?;
        let mut result = RunResult {
            run_id: dir.id.clone(),
            invocation: self.options.invocation.clone(),
            started_at,
            duration: Default::default(),
            tiers: Vec::new(),
            interrupted: None,
            error: None,
            nextest_version: version.unwrap_or_else(|| "not used".to_string()),
            machines: Default::default(),
            resources: Default::default(),
            gate: Default::default(),
            shard: None,
        };

        // The one build, when a tier runs nextest; a failed build ends the run with reports.
        let nextest = match self.build(&dir, &nextest_tiers)? {
            Ok(built) => built,
            Err(e) => {
                self.build_failed(e, &mut result);
                result.duration = clock.elapsed();
                return Ok(Finished { result, dir });
            }
        };
        let prepared = self.prepare(&dir, nextest, &mut result)?;

        let mut state = TierLoop {
            machines: MachineStage::NotStarted,
            stop: None,
        };
        for tier in &self.plan.tiers {
            if let Err(e) = self.run_or_skip(tier, &prepared, &dir, &mut state, &mut result) {
                // Before any tier ran or any machine was made, nothing happened: the error is
                // the run's answer, as a problem found before the start is. After that, the
                // run ends here with its error in the result, so what ran is reported and
                // postflight ends the machines preflight made.
                if result.tiers.is_empty() && matches!(state.machines, MachineStage::NotStarted) {
                    return Err(e);
                }
                self.stop_on_error(e, tier, &mut result);
                break;
            }
        }
        self.fail_when_narrowed_to_nothing(&mut result);
        if let MachineStage::Ready(session) = state.machines {
            self.postflight(*session, &mut result);
        }
        result.interrupted = self.interrupts.received();
        result.duration = clock.elapsed();
        // Durations for the next run's slowest-first ordering; only a hint, so a failure to
        // save is worth a warning, not an error.
        if let Err(e) = History::update(&self.ws.orbtest_dir(), &result) {
            tracing::warn!("cannot save test durations for slowest-first ordering: {e}");
        }
        Ok(Finished { result, dir })
    }

    /// A tier that could not run: the run carries the error, and this tier and every later
    /// one are skipped with why.
    fn stop_on_error(&self, e: Error, failed: &Tier, result: &mut RunResult) {
        let reason = format!("the run stopped: {e}");
        result.error = Some(e.to_string());
        let later = self.plan.tiers.iter().skip_while(|t| t.name != failed.name);
        for tier in later {
            self.skip(result, tier, reason.clone());
        }
    }

    /// Problems that make any run pointless surface before anything starts. The nextest
    /// version (as the results show it), when a tier runs nextest.
    fn check_before_start(&self, nextest_tiers: &[&Tier]) -> Result<Option<String>> {
        crate::tiers::command::check_programs(self.config, &self.plan.tiers)?;
        crate::lifecycle::worker_provisioning::check(self.config, &self.plan.tiers)?;
        match nextest_tiers.first() {
            None => Ok(None),
            Some(t) if !self.ws.is_cargo => Err(Error::Usage(format!(
                "tier `{}` runs nextest, but {} is not a cargo workspace",
                t.name,
                self.ws.root.display()
            ))),
            Some(_) => Ok(Some(nextest::check_version(&self.ws.cargo)?.to_string())),
        }
    }

    /// The run's directory, announced; processes a killed run left running are ended.
    fn open_run_dir(&self, started_at: SystemTime) -> Result<RunDir> {
        let orbtest_dir = self.ws.orbtest_dir();
        let dir = RunDir::create(&orbtest_dir, self.options.report_dir.as_deref(), started_at)
            .map_err(|e| Error::io("cannot create the run directory under", &orbtest_dir, e))?;
        self.observer.event(&Event::RunStarted {
            run_id: &dir.id,
            dir: &dir.path,
        });
        let ended = crate::tiers::strays::end_those_of_dead_runs(&dir.alive_path());
        if ended > 0 {
            let message = format!("ended {ended} processes that a killed run had left running");
            self.observer.event(&Event::Note { message: &message });
        }
        Ok(dir)
    }

    /// A build that failed: every tier is skipped with why, and the run carries the error.
    fn build_failed(&self, e: Error, result: &mut RunResult) {
        let reason = match &e {
            Error::Build { .. } => "the build failed".to_string(),
            _ => "no tests could be built".to_string(),
        };
        result.error = Some(e.to_string());
        result.tiers = self
            .plan
            .tiers
            .iter()
            .map(|t| TierResult::skipped(&t.name, reason.clone()))
            .collect();
        result.interrupted = self.interrupts.received();
    }

    /// What every tier needs from the build: this shard's share of each tier, what quarantine
    /// covers, and the tests the flake ledger has seen (for `new_test_runs`).
    fn prepare(
        &self,
        dir: &RunDir,
        mut nextest: Option<(ToolConfig, Built)>,
        result: &mut RunResult,
    ) -> Result<Prepared> {
        let shares = match &self.options.shard {
            Some(request) => {
                let shares = request.prepare(
                    self.ws,
                    self.config,
                    &self.plan.tiers,
                    dir,
                    nextest.as_mut(),
                    self.options.forwarded.profile.as_deref(),
                )?;
                for note in &shares.notes {
                    self.observer.event(&Event::Note { message: note });
                }
                result.shard = Some(shares.info.clone());
                Some(shares)
            }
            None => None,
        };
        let quarantined = crate::quarantine::prepare(
            self.ws,
            self.config,
            &self.plan.tiers,
            nextest.as_ref(),
            &crate::config::today(),
        )?;
        let seen = self
            .plan
            .tiers
            .iter()
            .any(|t| t.new_test_runs > 1 && !t.is_command())
            .then(|| {
                crate::ledger::Seen::of(
                    &crate::ledger::Ledger::of(&self.ws.orbtest_dir())
                        .read()
                        .unwrap_or_default(),
                )
            });
        if seen.as_ref().is_some_and(|s| s.runs == 0) {
            self.observer.event(&Event::Note {
                message: "new_test_runs is off for this run: the flake ledger has no history yet, so every test would be new",
            });
        }
        Ok(Prepared {
            nextest,
            shares,
            quarantined,
            seen,
        })
    }

    /// One tier: skipped (with why) or run, its result recorded.
    fn run_or_skip(
        &self,
        tier: &Tier,
        prepared: &Prepared,
        dir: &RunDir,
        state: &mut TierLoop,
        result: &mut RunResult,
    ) -> Result<()> {
        let skip = if let Some(i) = self.interrupts.received() {
            Some(format!("the run was interrupted ({})", i.name()))
        } else {
            state
                .stop
                .clone()
                .or_else(|| self.plan.skip_reason(tier, &result.tiers))
        };
        if let Some(reason) = skip {
            self.skip_counted(result, tier, reason, prepared.nextest.as_ref());
            return Ok(());
        }
        if let Some(reason) = prepared.shares.as_ref().and_then(|s| s.nothing_here(&tier.name)) {
            let empty = TierResult::left_to_other_shards(&tier.name, reason);
            self.observer.event(&Event::TierFinished { result: &empty });
            result.tiers.push(empty);
            return Ok(());
        }
        let mut env = vec![(
            crate::env::RUN_ALIVE.to_string(),
            dir.alive_path().display().to_string(),
        )];
        if tier.machines {
            match self.machine_env(tier, prepared, dir, state, result) {
                Some(machine_env) => env.extend(machine_env),
                None => return Ok(()),
            }
        }
        let tier_start = orbtest_machines::journal::now_ms();
        let ran = self.execute_tier(tier, prepared, dir, env)?;
        self.record_tier(tier, prepared, &state.machines, tier_start, ran, result);
        Ok(())
    }

    /// A machine tier's environment, after preflight (run before the first machine tier).
    /// `None`: the tier cannot run, and was recorded as skipped.
    fn machine_env(
        &self,
        tier: &Tier,
        prepared: &Prepared,
        dir: &RunDir,
        state: &mut TierLoop,
        result: &mut RunResult,
    ) -> Option<Vec<(String, String)>> {
        if matches!(state.machines, MachineStage::NotStarted) {
            state.machines = self.preflight(dir, result);
        }
        match &state.machines {
            MachineStage::Ready(session) => {
                let mut env = session.tier_env();
                if let (Some(runner), Some((_, built)), false) =
                    (session.target_runner(), &prepared.nextest, tier.is_command())
                {
                    match self.runner_env(&runner, built) {
                        Ok(runner_env) => env.extend(runner_env),
                        Err(e) => {
                            let reason = e.to_string();
                            result.error.get_or_insert(reason.clone());
                            state.stop = Some(reason.clone());
                            self.skip(result, tier, reason);
                            return None;
                        }
                    }
                }
                Some(env)
            }
            MachineStage::Skipped(reason) => {
                self.skip_counted(result, tier, reason.clone(), prepared.nextest.as_ref());
                None
            }
            MachineStage::Failed | MachineStage::NotStarted => {
                let reason = match self.interrupts.received() {
                    Some(i) => format!("the run was interrupted ({})", i.name()),
                    None => "preflight failed".to_string(),
                };
                state.stop = Some(reason.clone());
                self.skip_counted(result, tier, reason, prepared.nextest.as_ref());
                None
            }
        }
    }

    /// Runs a tier: its command, or nextest (and new tests again, for `new_test_runs`).
    fn execute_tier(
        &self,
        tier: &Tier,
        prepared: &Prepared,
        dir: &RunDir,
        env: Vec<(String, String)>,
    ) -> Result<(TierResult, Option<String>)> {
        match (&tier.command, &prepared.nextest) {
            (Some(command), _) => crate::tiers::command::run_tier(&CommandRun {
                tier,
                command,
                config_dir: &self.config.dir(),
                dir,
                env,
                echo: self.options.verbose && !self.options.live,
                observer: self.observer,
                interrupts: &self.interrupts,
                tests: prepared.shares.as_ref().and_then(|s| s.command_tests(&tier.name)),
            }),
            (None, Some((tool_config, built))) => {
                let repeat_env = env.clone();
                let (mut ran, infra) = self.run_tier(tier, tool_config, built, dir, env)?;
                if let Some(seen) = prepared.seen.as_ref().filter(|s| s.runs > 0 && tier.new_test_runs > 1) {
                    self.repeat_new_tests(tier, seen, tool_config, built, dir, repeat_env, &mut ran);
                }
                Ok((ran, infra))
            }
            (None, None) => Err(Error::Infrastructure(format!(
                "tier `{}` has no nextest build",
                tier.name
            ))),
        }
    }

    /// A tier that ran: empty selections judged, machine blame and quarantine applied,
    /// reported, and added to the run.
    fn record_tier(
        &self,
        tier: &Tier,
        prepared: &Prepared,
        machines: &MachineStage,
        tier_start: u64,
        (mut tier_result, infra_error): (TierResult, Option<String>),
        result: &mut RunResult,
    ) {
        if tier_result.outcome == TierOutcome::Passed && tier_result.counts.total() == 0 {
            self.nothing_selected(tier, &mut tier_result);
        }
        let session = match (tier.machines, machines) {
            (true, MachineStage::Ready(session)) => Some(session),
            _ => None,
        };
        if let Some(session) = session {
            session.blame(&mut tier_result);
        }
        crate::quarantine::apply(self.config, &prepared.quarantined, tier.is_command(), &mut tier_result);
        self.observer.event(&Event::TierFinished { result: &tier_result });
        if let Some(session) = session {
            let activity = session.activity_since(tier_start);
            self.observer.event(&Event::MachineActivity {
                tier: &tier.name,
                activity: &activity,
            });
        }
        result.tiers.push(tier_result);
        if let Some(e) = infra_error {
            result.error.get_or_insert(e);
        }
    }

    /// A narrowed run whose filters leave every tier empty ran nothing: that fails (exit 4).
    fn fail_when_narrowed_to_nothing(&self, result: &mut RunResult) {
        let ran: Vec<&mut TierResult> = result
            .tiers
            .iter_mut()
            .filter(|t| t.outcome != TierOutcome::Skipped)
            .collect();
        if self.options.forwarded.narrowed
            && self.options.forwarded.no_tests.is_none()
            && !ran.is_empty()
            && ran.iter().all(|t| t.nothing_selected)
        {
            for t in ran {
                t.outcome = TierOutcome::Failed;
                t.reason = Some("this run's filters select no test in any tier".into());
            }
        }
    }

    /// Postflight: what the run created is deleted (or kept, as asked), and what could not be
    /// deleted is the run's error.
    fn postflight(&self, session: Session, result: &mut RunResult) {
        let failed = result.error.is_some()
            || self.interrupts.received().is_some()
            || result.tiers.iter().any(|t| t.outcome == TierOutcome::Failed);
        let postflight = session.postflight(failed, self.observer);
        result.machines = postflight.stats;
        if !postflight.errors.is_empty() {
            let error = postflight.errors.join("; ");
            result.error.get_or_insert_with(|| {
                format!(
                    "postflight: {error}; the machines this run could not delete stay claimed and the next run's \
                     preflight reaps them"
                )
            });
            result.machines.postflight_error = Some(error);
        }
        if !postflight.kept.is_empty() {
            let message = format!(
                "kept the run's machines as asked: {} (delete them with `orbctl delete -f NAME`)",
                postflight.kept.join(", ")
            );
            self.observer.event(&Event::Note { message: &message });
        }
    }

    fn skip(&self, result: &mut RunResult, tier: &Tier, reason: String) {
        self.observer.event(&Event::TierSkipped {
            tier: &tier.name,
            reason: &reason,
        });
        result.tiers.push(TierResult::skipped(&tier.name, reason));
    }

    /// A tier whose tests never ran: they count as not run, when nextest can say which they
    /// were (a command tier's are known only to its runner).
    fn skip_counted(&self, result: &mut RunResult, tier: &Tier, reason: String, built: Option<&(ToolConfig, Built)>) {
        self.skip(result, tier, reason);
        let (Some((tool_config, built)), false) = (built, tier.is_command()) else {
            return;
        };
        // A second Ctrl-C wants out now, not a listing.
        if self.interrupts.count() >= 2 {
            return;
        }
        match nextest::count_selected(
            self.ws,
            tool_config,
            built,
            &tier.name,
            &self.options.forwarded.select,
            &self.interrupts,
        ) {
            Ok(n) => {
                if let Some(t) = result.tiers.last_mut() {
                    t.counts.not_run = n as u64;
                }
            }
            Err(e) => tracing::warn!("cannot count the tests of skipped tier `{}`: {e}", tier.name),
        }
    }

    /// A tier that ran and selected no test: its `no_tests` (or a forwarded `--no-tests`)
    /// decides, unless this run's own filters emptied it.
    fn nothing_selected(&self, tier: &Tier, result: &mut TierResult) {
        use crate::config::NoTests;
        result.nothing_selected = true;
        let forwarded = &self.options.forwarded;
        if forwarded.narrowed && forwarded.no_tests.is_none() {
            result.reason = Some("nothing selected: this run's filters leave the tier no test".into());
            return;
        }
        let policy = forwarded.no_tests.unwrap_or(tier.no_tests);
        let what = if tier.is_command() {
            "its command reported no test"
        } else {
            "its filter selects no test"
        };
        match policy {
            NoTests::Fail => {
                result.outcome = TierOutcome::Failed;
                result.reason = Some(format!(
                    "{what} (no_tests = \"fail\"; set no_tests = \"warn\" or \"pass\" in [tiers.{}] if that is expected)",
                    tier.name
                ));
            }
            NoTests::Warn => {
                let message = format!("tier `{}`: {what}", tier.name);
                self.observer.event(&Event::Note { message: &message });
                result.reason = Some(format!("{what} (no_tests = \"warn\")"));
            }
            NoTests::Pass => result.reason = Some(format!("{what} (no_tests = \"pass\")")),
        }
    }

    /// `new_test_runs`: the tier's tests the ledger never saw, run again.
    #[allow(clippy::too_many_arguments)]
    fn repeat_new_tests(
        &self,
        tier: &Tier,
        seen: &crate::ledger::Seen,
        tool_config: &ToolConfig,
        built: &Built,
        dir: &RunDir,
        env: Vec<(String, String)>,
        result: &mut TierResult,
    ) {
        let new: Vec<crate::results::TestId> = result
            .tests
            .iter()
            .filter(|t| !seen.contains(&tier.name, &t.id.to_string()))
            .map(|t| t.id.clone())
            .collect();
        let repeat = nextest::repeat::Repeat {
            ws: self.ws,
            tier: &tier.name,
            runs: tier.new_test_runs,
            tool_config,
            built,
            run_args: &self.options.forwarded.run,
            dir,
            env,
            interrupts: &self.interrupts,
        };
        let message = match nextest::repeat::repeat_new_tests(&repeat, result, &new) {
            Ok(Some(note)) => note,
            Ok(None) => return,
            Err(e) => format!(
                "tier `{}`: new tests could not be run again (new_test_runs): {e}",
                tier.name
            ),
        };
        self.observer.event(&Event::Note { message: &message });
    }

    fn preflight(&self, dir: &RunDir, result: &mut RunResult) -> MachineStage {
        let ctx = PreflightContext {
            config: self.config,
            run_id: &dir.id,
            workspace: &self.ws.root,
            report_dir: &dir.path,
            options: &self.options.lifecycle,
            home: crate::lifecycle::state::home(),
            workers: crate::lifecycle::worker_provisioning::count(self.config, &self.plan.tiers),
            interrupts: &self.interrupts,
        };
        match Session::preflight(&ctx, self.observer) {
            Ok(Preflight::Ready(session)) => MachineStage::Ready(session),
            Ok(Preflight::Skip(reason)) => MachineStage::Skipped(reason),
            Err(e) => {
                result.error.get_or_insert(e.to_string());
                MachineStage::Failed
            }
        }
    }

    /// Builds the tests of `tiers` (none: nothing to build). The inner error is a build that
    /// failed in a way the run reports (its tiers are skipped); the outer one ends the run.
    fn build(&self, dir: &RunDir, tiers: &[&Tier]) -> Result<std::result::Result<Option<(ToolConfig, Built)>, Error>> {
        if tiers.is_empty() {
            return Ok(Ok(None));
        }
        let tool_config = self.tool_config(dir, tiers)?;
        self.observer.event(&Event::BuildStarted);
        let build_clock = Instant::now();
        let built = nextest::build(&nextest::BuildRequest {
            ws: self.ws,
            config: self.config,
            tool_config: &tool_config,
            build_args: &self.options.forwarded.build,
            color: if self.options.color { "always" } else { "never" },
            out_dir: &dir.path,
            echo: self.options.verbose,
            interrupts: &self.interrupts,
        });
        let failure = match &built {
            Ok(_) => None,
            Err(Error::Build { .. }) => Some("build failed"),
            Err(Error::Config(_)) => Some("nextest rejected the configuration"),
            Err(_) => Some("could not build the tests"),
        };
        self.observer.event(&Event::BuildFinished {
            duration: build_clock.elapsed(),
            failure,
        });
        if let Ok(b) = &built {
            self.observer.event(&Event::TestBinaries {
                binaries: &b.binary_ids(),
            });
        }
        match built {
            Ok(b) => Ok(Ok(Some((tool_config, b)))),
            Err(e @ (Error::Build { .. } | Error::Nextest { .. } | Error::Infrastructure(_))) => Ok(Err(e)),
            Err(e) => Err(e),
        }
    }

    /// Environment that gives a nextest machine tier's tests their worker machines.
    fn runner_env(
        &self,
        runner: &std::path::Path,
        built: &Built,
    ) -> std::result::Result<Vec<(String, String)>, nextest::target_runner::TargetRunnerError> {
        let triples = nextest::target_runner::triples(&built.binaries_metadata)?;
        nextest::target_runner::tier_env(runner, &triples, &self.ws.root)
    }

    fn tool_config(&self, dir: &RunDir, tiers: &[&Tier]) -> Result<ToolConfig> {
        let path = dir.file("nextest-tool-config.toml");
        let history = History::load(&self.ws.orbtest_dir());
        let config = ToolConfig::generate(
            tiers,
            |t| dir.junit_path(t),
            &history,
            &path,
            self.options.forwarded.profile.as_deref(),
        );
        write_atomic(&path, config.text.as_bytes()).map_err(|e| Error::io("cannot write", &path, e))?;
        Ok(config)
    }

    /// Runs one tier. The second value is an infrastructure problem (nextest itself failed)
    /// that makes the whole run an error.
    fn run_tier(
        &self,
        tier: &Tier,
        tool_config: &ToolConfig,
        built: &Built,
        dir: &RunDir,
        env: Vec<(String, String)>,
    ) -> Result<(TierResult, Option<String>)> {
        let tier_dir = dir
            .tier_dir(&tier.name)
            .map_err(|e| Error::io("cannot create", dir.path.join("tiers"), e))?;
        let log_path = tier_dir.join("nextest.log");
        let junit_path = dir.junit_path(&tier.name);
        self.announce_tier(tier);
        let started_at = SystemTime::now();
        let clock = Instant::now();
        let observer = self.observer;
        let on_spawn = |pid| observer.event(&Event::TierProcess { tier: &tier.name, pid });
        let run = TierRun {
            ws: self.ws,
            tier: &tier.name,
            tool_config,
            built,
            run_args: &self.options.forwarded.run,
            log_path: log_path.clone(),
            env,
            echo: self.options.verbose && !self.options.live,
            on_spawn: Some(&on_spawn),
            interrupts: self.interrupts.clone(),
        };
        // The tier's #[ignore]d tests are its "skipped" (as nextest counts them): listed beside
        // the run, since nextest's JUnit cannot tell them from tests outside the tier's filter.
        let (output, skipped) = std::thread::scope(|scope| {
            let skipped = scope.spawn(|| {
                nextest::list_skipped_by_design(
                    self.ws,
                    tool_config,
                    built,
                    &tier.name,
                    &self.options.forwarded.select,
                    &self.interrupts,
                )
            });
            let output = self.run_tier_process(tier, &run);
            let skipped = skipped
                .join()
                .unwrap_or_else(|_| Err(Error::Infrastructure("a listing thread panicked".into())));
            (output, skipped)
        });
        let (output, streamed) = output?;
        let skipped = skipped.unwrap_or_else(|e| {
            tracing::warn!("cannot list the #[ignore]d tests of tier `{}`: {e}", tier.name);
            Vec::new()
        });

        let mut result = TierResult {
            nextest_exit: output.exit_code,
            ..TierResult::ran(&tier.name, started_at, clock.elapsed(), log_path)
        };
        let infra_error = self.judge(tier, &output, streamed, skipped, junit_path, &mut result);
        Ok((result, infra_error))
    }

    /// Tells the view a tier starts, and what earlier runs say its tests take.
    fn announce_tier(&self, tier: &Tier) {
        self.observer.event(&Event::TierStarted {
            tier: &tier.name,
            machines: tier.machines,
        });
        let durations: Vec<(String, std::time::Duration)> = History::load(&self.ws.orbtest_dir())
            .slowest_first(&tier.name)
            .into_iter()
            .map(|t| {
                (
                    format!("{} {}", t.binary_id, t.name),
                    std::time::Duration::from_millis(t.millis),
                )
            })
            .collect();
        self.observer.event(&Event::TierExpected {
            tier: &tier.name,
            threads: nextest::effective_threads(tier.threads, &self.options.forwarded.run),
            durations: &durations,
        });
    }

    /// The tier's results from nextest's exit code and JUnit (with its `#[ignore]`d tests as
    /// skipped). The value returned is an infrastructure problem (nextest itself failed).
    fn judge(
        &self,
        tier: &Tier,
        output: &nextest::TierRunOutput,
        streamed: Vec<TestResult>,
        skipped: Vec<TestId>,
        junit_path: PathBuf,
        result: &mut TierResult,
    ) -> Option<String> {
        let junit = junit_path.exists().then(|| crate::junit::read_path(&junit_path));
        match (output.exit_code, junit) {
            (
                Some(code @ (NextestExitCode::OK | NextestExitCode::NO_TESTS_RUN | NextestExitCode::TEST_RUN_FAILED)),
                Some(Ok(mut tests)),
            ) => {
                for t in &mut tests {
                    t.label_timeouts(tier.timeout);
                }
                let ran: std::collections::HashSet<TestId> = tests.iter().map(|t| t.id.clone()).collect();
                tests.extend(
                    skipped
                        .into_iter()
                        .filter(|id| !ran.contains(id))
                        .map(TestResult::skipped),
                );
                result.tests = tests;
                result.junit = Some(junit_path);
                result.counts = TestCounts::of(&result.tests);
                judge_counts(code, output, result);
                None
            }
            (Some(NextestExitCode::OK | NextestExitCode::NO_TESTS_RUN), None) => {
                // No test selected: nextest writes no JUnit.
                result.outcome = TierOutcome::Passed;
                None
            }
            (code, junit) => {
                let unreadable = junit.and_then(|j| j.err()).map(|e| e.to_string());
                self.judge_without_junit(tier, code, unreadable, output, streamed, result)
            }
        }
    }

    /// nextest failed, or wrote no readable JUnit (`unreadable`: why): an interrupt, or an
    /// infrastructure problem.
    fn judge_without_junit(
        &self,
        tier: &Tier,
        code: Option<i32>,
        unreadable: Option<String>,
        output: &nextest::TierRunOutput,
        streamed: Vec<TestResult>,
        result: &mut TierResult,
    ) -> Option<String> {
        let what = match code {
            Some(c) => format!("cargo-nextest exited with {c}"),
            None => "cargo-nextest was killed by a signal".to_string(),
        };
        let why = match unreadable {
            Some(e) => format!("{what} and its JUnit could not be read ({e})"),
            None => format!("{what} without writing JUnit results"),
        };
        if output.interrupted.is_none() {
            result.reason = Some(format!("{why}: {}", last_error_line(&output.tail)));
            return Some(format!(
                "tier `{}`: {why}; see {}",
                tier.name,
                result.log.as_ref().map_or(String::new(), |l| l.display().to_string())
            ));
        }
        result.reason = Some(format!("interrupted: {why}"));
        // Stopped at once (a second interrupt killed nextest): what it had printed as final is
        // kept, the rest did not run. Results already known are not dropped.
        if self.interrupts.count() >= 2 {
            result.counts = TestCounts::of(&streamed);
            result.counts.not_run = output.total.unwrap_or(0).saturating_sub(streamed.len()) as u64;
            result.tests = streamed;
            result.reason = Some(format!(
                "stopped at once by a second {}: results from nextest's output, its JUnit was never written",
                output.interrupted.map_or("interrupt", |i| i.name())
            ));
        }
        None
    }

    /// One tier's nextest process, its output turned into progress events as it comes.
    /// Runs the tier's nextest; also the final statuses it printed, the tier's results when a
    /// second interrupt stops nextest before it writes its JUnit.
    fn run_tier_process(
        &self,
        tier: &Tier,
        run: &TierRun<'_>,
    ) -> Result<(nextest::TierRunOutput, Vec<crate::results::TestResult>)> {
        let observer = self.observer;
        let mut tap = nextest::FailureTap::default();
        let failed = |f: nextest::FailedAttempt| {
            observer.event(&Event::TestFailed {
                tier: &tier.name,
                test: &f.test,
                attempt: f.attempt,
                status: f.status,
                message: &f.message,
            });
        };
        let mut streamed: Vec<crate::results::TestResult> = Vec::new();
        let output = nextest::run_tier(run, &mut |event, line| {
            if let Some(f) = tap.feed(event, line) {
                failed(f);
            }
            if let LineEvent::TestDone {
                status,
                binary_id,
                name,
                attempt,
                duration,
                ..
            } = event
            {
                streamed.push(crate::results::TestResult {
                    id: crate::results::TestId {
                        binary_id: binary_id.clone(),
                        name: name.clone(),
                    },
                    status: *status,
                    duration: *duration,
                    attempts: *attempt,
                    message: None,
                    output: None,
                    attempt_log: Vec::new(),
                });
            }
            match event {
                LineEvent::Started { total } => observer.event(&Event::TierTotal {
                    tier: &tier.name,
                    total: *total,
                }),
                LineEvent::TestDone {
                    status,
                    binary_id,
                    name,
                    duration,
                    done,
                    total,
                    ..
                } => {
                    let test = format!("{binary_id} {name}");
                    observer.event(&Event::TestFinished {
                        tier: &tier.name,
                        test: &test,
                        status: *status,
                        duration: *duration,
                        done: *done,
                        total: *total,
                    });
                }
                LineEvent::Retrying {
                    binary_id,
                    name,
                    attempt,
                    of,
                    delay,
                } => {
                    let test = format!("{binary_id} {name}");
                    observer.event(&Event::TestRetrying {
                        tier: &tier.name,
                        test: &test,
                        attempt: *attempt,
                        of: *of,
                        delay: *delay,
                    });
                }
                LineEvent::AttemptFailed { .. } | LineEvent::Summary | LineEvent::Other => {}
            }
            observer.event(&Event::TierOutput { tier: &tier.name, line });
        });
        if let Some(f) = tap.close() {
            failed(f);
        }
        Ok((output?, streamed))
    }
}

fn last_error_line(tail: &str) -> String {
    let line = tail
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error"))
        .or_else(|| tail.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("no output")
        .trim();
    crate::report::excerpt(line, 1, 500)
}
