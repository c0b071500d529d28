//! `cargo orbtest` / `cargo orbtest run`: run the tiers with a view (live on a terminal, plain
//! lines otherwise, nothing with `-q`) and the resource monitor, check the gate, report, exit
//! with the documented code.

use std::io::IsTerminal;
use std::sync::Arc;

use crate::cli::{GlobalArgs, RunArgs};
use crate::errors::{Error, Result};
use crate::events::{Observer, Silent, Tee};
use crate::ledger::{self, Ledger};
use crate::lifecycle::sampler::ProviderSampler;
use crate::lifecycle::{LifecycleOptions, provider, state};
use crate::monitor::{MachineSource, Monitor};
use crate::plan::{Plan, Selection};
use crate::report::{self, gate, github, shell_word, write_atomic};
use crate::results::RunInvocation;
use crate::runner::{RunOptions, Runner};
use crate::shard::PlanFile;
use crate::shard::runtime::ShardRequest;
use crate::tiers::nextest::ForwardedArgs;
use crate::view::{LiveView, PlainProgress, Style};

pub(super) fn execute(global: &GlobalArgs, args: &RunArgs) -> Result<i32> {
    let (ws, config) = super::project::load(global)?;
    let plan = Plan::new(
        &config,
        &Selection {
            tiers: args.tier.clone(),
            ignore_needs: args.ignore_needs,
            no_fail_fast: args.no_fail_fast,
        },
    )?;
    let color = global.color.enabled();
    let live = !global.quiet && stderr_is_terminal();
    let in_actions = github::in_actions();
    let mut nextest_args = super::project::nextest_args(global, &ws, &args.nextest, &args.nextest_args);
    if args.no_fail_fast {
        // Within each tier too, not only across tiers.
        nextest_args.push("--no-fail-fast".to_string());
    }
    let mut forwarded = ForwardedArgs::split(&nextest_args)?;
    forwarded.check_profile(&ws.root)?;
    let shard = shard_request(args, &mut forwarded)?;
    if !global.quiet {
        for warning in crate::quarantine::expiry_warnings(&config, &crate::config::today()) {
            crate::errln!("warning: {warning}");
        }
    }
    let options = RunOptions {
        forwarded,
        report_dir: args.report_dir.clone(),
        color,
        verbose: global.verbose,
        live,
        lifecycle: LifecycleOptions {
            start_orbstack: args.start_orbstack,
            no_wait: args.no_wait,
            keep_machines: args.keep_machines,
            rebuild_baselines: args.rebuild_baselines,
            restart_orbstack: args.restart_orbstack,
        },
        shard,
        invocation: invocation(global, args, &ws),
    };
    let live_view = live.then(|| Arc::new(LiveView::new(color, global.verbose)));
    let shared: Arc<dyn Observer> = match &live_view {
        Some(v) => v.clone(),
        None if global.quiet => Arc::new(Silent),
        None => Arc::new(PlainProgress::new(std::io::stderr()).github_groups(in_actions)),
    };
    let view: &dyn Observer = shared.as_ref();
    // With machine tiers, the provider's figures (machines, creates in flight, and orbsim's
    // scenario pressure) join the timeline. A provider that cannot be resolved is reported by
    // preflight; the timeline then just has no machine figures.
    let sampler = plan
        .uses_machines()
        .then(|| provider::resolve(&config.machines, &state::home(), &ws.root).ok())
        .flatten()
        .map(|resolved| ProviderSampler::new(&resolved));
    let machine_source: Option<&dyn MachineSource> = sampler.as_ref().map(|s| s as &dyn MachineSource);
    let monitor = Monitor::new(&config.monitor, live, machine_source, view);
    let observer = Tee(vec![&monitor, view]);

    let interrupts =
        crate::signals::install().map_err(|e| Error::Infrastructure(format!("cannot install signal handlers: {e}")))?;
    // Said the moment it arrives, from the signal thread: the run may take a while to stop.
    let told = shared.clone();
    let _listening =
        interrupts.listen(move |interrupt, count| told.event(&crate::events::Event::Interrupted { interrupt, count }));
    let finished = std::thread::scope(|scope| {
        scope.spawn(|| monitor.run());
        // Stops the sampler however the run ends, so the scope can join it.
        let _stop = StopOnDrop(&monitor);
        Runner {
            ws: &ws,
            config: &config,
            plan: &plan,
            options: &options,
            observer: &observer,
            interrupts,
        }
        .run()
    });
    let sampled = monitor.finish();
    if let Some(v) = &live_view {
        v.finish();
    }
    let mut finished = finished?;
    let run = &mut finished.result;
    run.redact(orbtest_machines::redact::global());
    run.resources = sampled.peaks;
    if let Some(problem) = &sampled.error {
        crate::errln!("warning: the resource timeline is incomplete: {problem}");
    }
    // The run's lines for the flake ledger: the gate's flake rates count this run too.
    let ops = orbtest_machines::journal::JournalView::read(&finished.dir.file("journal.jsonl"))
        .map(|v| v.ops)
        .unwrap_or_default();
    let lines = ledger::lines_for_run(run, &ops, &ledger::RunContext::default());
    let ledger = Ledger::of(&ws.orbtest_dir());
    if args.gate || config.gate.enforce {
        run.gate = gate::evaluate(&config.gate, run);
        if config.gate.max_flake_rate.is_some() {
            let mut history = ledger.read().unwrap_or_else(|e| {
                crate::errln!("warning: {e}: flake rates count this run only");
                Vec::new()
            });
            history.extend(lines.iter().cloned());
            let mut verdict = std::mem::take(&mut run.gate);
            crate::ledger::add_flake_rates(&mut verdict, &config.gate, run, &history);
            run.gate = verdict;
        }
    }
    let ledger_file = finished.dir.file(ledger::RUN_FILE);
    if let Err(e) = write_atomic(&ledger_file, ledger::to_jsonl(&lines).as_bytes()) {
        crate::errln!("warning: cannot write {}: {e}", ledger_file.display());
    }
    if let Err(e) = ledger.add_run(&lines) {
        crate::errln!("warning: the flake ledger misses this run: {e}");
    }

    let written = report::write_reports(run, &finished.dir);
    // Shown in the terminal summary as the run's error, unless the run already had one.
    let mut write_error_shown = false;
    if let Err(e) = &written {
        // The run now ends with exit 3 (or its interrupt's code): its record and the terminal
        // summary say so, not the tests' own verdict.
        if run.error.is_none() {
            run.error = Some(e.to_string());
            write_error_shown = true;
        }
        let _ = report::write_summary(run, &finished.dir);
    }
    let shown_dir = written.is_ok().then_some(finished.dir.report_dir.as_path());
    crate::err!("{}", crate::view::render_summary(run, Style { color }, shown_dir));
    if in_actions {
        crate::out!("{}", github::annotations(run, Some(&ws.root)));
        if let Err(e) = github::append_step_summary(&github::step_summary(run)) {
            crate::errln!("warning: cannot append to $GITHUB_STEP_SUMMARY: {e}");
        }
    }
    if let Err(e) = written
        && !write_error_shown
    {
        crate::view::print_error(&e, color);
    }
    Ok(run.exit_code())
}

/// The command line as typed, and what a rerun of one test keeps of it.
fn invocation(global: &GlobalArgs, args: &RunArgs, ws: &crate::workspace::Workspace) -> RunInvocation {
    let mut words: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    if words.first().is_some_and(|w| w == "orbtest") {
        words.remove(0);
    }
    let command_line = std::iter::once("cargo orbtest".to_string())
        .chain(words.iter().map(|w| shell_word(w)))
        .collect::<Vec<_>>()
        .join(" ");
    let mut kept = Vec::new();
    if let Some(path) = &global.config {
        kept.extend(["--config".to_string(), path.display().to_string()]);
    }
    if let Some(path) = &global.manifest_path {
        kept.extend(["--manifest-path".to_string(), path.display().to_string()]);
    }
    let flags = crate::cli::NextestFlags {
        filters: Vec::new(),
        filterset: Vec::new(),
        ..args.nextest.clone()
    };
    kept.extend(flags.to_args());
    let rest = ForwardedArgs::without_selection(&args.nextest_args);
    if !rest.is_empty() {
        kept.push("--".to_string());
        kept.extend(rest);
    }
    RunInvocation {
        command_line,
        rerun_args: kept,
        git_commit: ws.is_cargo.then(|| git_commit(&ws.root)).flatten(),
        host: sysinfo::System::host_name().ok(),
    }
}

/// The checkout's commit, `-dirty` when tracked files changed; `None` outside git.
fn git_commit(root: &std::path::Path) -> Option<String> {
    let git = |args: &[&str]| {
        let inv = orbtest_process::Invocation::new("git").arg("-C").arg(root).args(args);
        orbtest_process::capture(&inv, Some(std::time::Duration::from_secs(5)))
            .ok()
            .filter(|e| e.success())
            .map(|e| String::from_utf8_lossy(&e.stdout).trim().to_string())
    };
    let head = git(&["rev-parse", "HEAD"]).filter(|h| !h.is_empty())?;
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}

/// `--shard K/N [--plan FILE]`: the plan, read and checked against N; without a plan, nextest
/// tiers run nextest's `--partition slice:K/N`.
fn shard_request(args: &RunArgs, forwarded: &mut ForwardedArgs) -> Result<Option<ShardRequest>> {
    let Some(spec) = args.shard else {
        return Ok(None);
    };
    // A shard narrows the run: tiers it leaves empty are "nothing selected", not failures.
    forwarded.narrowed = true;
    if forwarded
        .run
        .iter()
        .any(|a| a == "--partition" || a.starts_with("--partition="))
    {
        return Err(Error::Usage(
            "--shard and a forwarded --partition both split the tests: use one of them".into(),
        ));
    }
    let plan = match &args.plan {
        Some(path) => {
            let plan = PlanFile::read(path).map_err(|e| match e {
                crate::shard::PlanError::Read { .. } => Error::Usage(e.to_string()),
                other => Error::Usage(other.to_string()),
            })?;
            if plan.count != spec.count {
                return Err(Error::Usage(
                    crate::shard::PlanError::CountMismatch {
                        path: path.clone(),
                        plan: plan.count,
                        spec: spec.to_string(),
                        asked: spec.count,
                    }
                    .to_string(),
                ));
            }
            Some(plan)
        }
        None => {
            let partition = format!("--partition=slice:{spec}");
            forwarded.run.push(partition.clone());
            forwarded.select.push(partition);
            None
        }
    };
    Ok(Some(ShardRequest { spec, plan }))
}

struct StopOnDrop<'a, 'b>(&'a Monitor<'b>);

impl Drop for StopOnDrop<'_, '_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// The live view needs a real terminal; `TERM=dumb` (editors' shells) gets plain lines.
fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}
