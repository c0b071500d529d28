//! `cargo orbtest doctor [--json] [--fix]`: would a run start? It checks what a run needs
//! (cargo-nextest and its version, that each tier selects tests or finds its command, the
//! provider when a tier uses machines) and says "ready" only when all of that holds. It also
//! shows how loaded the host is, who owns which machine, and advice on the config; `--fix`
//! restarts an OrbStack that has grown over the `[machines.restart]` limits.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::config::{Config, NoTests, Tier};
use crate::errors::Result;
use crate::exit_code;
use crate::lifecycle::cleanup;
use crate::lifecycle::provider::policy;
use crate::lifecycle::reap::{self, Protect};
use crate::lifecycle::{provider, remedy, state};
use crate::tiers::nextest;
use crate::workspace::Workspace;
use orbtest_machines::{Client, Op, Provider};

#[derive(Debug, Serialize)]
struct Report {
    /// Whether `cargo orbtest` would start: every check passed.
    ready: bool,
    /// What a run needs, each checked.
    checks: Vec<Check>,
    /// Whether a tier has `machines = true` (otherwise the provider is shown, not needed).
    machines_needed: bool,
    provider: String,
    status: Option<String>,
    version: Option<String>,
    problems: Vec<String>,
    host: Host,
    orbstack_helper_mib: Option<u64>,
    machines: Vec<MachineOwner>,
    advice: Vec<String>,
    /// What `--fix` did.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fixed: Vec<String>,
}

/// One thing a run needs, and whether it is there.
#[derive(Debug, Serialize)]
struct Check {
    /// `cargo-nextest`, `tier fast`, `provider`.
    what: String,
    ok: bool,
    detail: String,
}

impl Check {
    fn new(what: impl Into<String>, result: std::result::Result<String, String>) -> Self {
        let (ok, detail) = match result {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        Self {
            what: what.into(),
            ok,
            detail,
        }
    }
}

#[derive(Debug, Serialize)]
struct Host {
    memory_percent: f64,
    swap_percent: f64,
    cpu_percent: f64,
    /// Pressure as the provider reports it (orbsim's scenario), when it does.
    provider_memory_percent: Option<f64>,
    provider_swap_percent: Option<f64>,
}

#[derive(Debug, Serialize)]
struct MachineOwner {
    name: String,
    state: String,
    /// baseline | live run | left by a dead run | test prefix | protected | not ours
    owner: String,
    /// What the next preflight or `cargo orbtest clean` does with it.
    next_clean: &'static str,
}

pub(super) fn execute(global: &GlobalArgs, json: bool, fix: bool) -> Result<i32> {
    let (ws, config) = super::project::load(global)?;
    let mut checks = tier_checks(global, &ws, &config, !json && !global.quiet);
    let mut problems = Vec::new();
    let mut advice = Vec::new();
    let (host, helper) = host();
    let mut report = Report {
        ready: false,
        checks: Vec::new(),
        machines_needed: config.uses_machines(),
        provider: config.machines.provider.as_str().to_string(),
        status: None,
        version: None,
        problems: Vec::new(),
        host,
        orbstack_helper_mib: helper,
        machines: Vec::new(),
        advice: Vec::new(),
        fixed: Vec::new(),
    };
    match provider::resolve(&config.machines, &state::home(), &ws.root) {
        Err(e) => problems.push(e.to_string()),
        Ok(resolved) => {
            report.provider = resolved.description.clone();
            let client = Client::new(resolved.provider.clone()).with_policy(policy(&config.machines));
            if fix {
                // A restart under a live run would break its machines: only with the run lock.
                let me = state::LockHolder {
                    pid: std::process::id(),
                    run_id: "doctor --fix".into(),
                    workspace: ws.root.display().to_string(),
                    since_ms: state::now_ms(),
                };
                match resolved.state.try_lock(&me) {
                    Err(e) => problems.push(format!(
                        "cannot take the run lock in {}: {e}; not restarting OrbStack",
                        resolved.state.dir.display()
                    )),
                    Ok(Err(holder)) => problems.push(format!(
                        "{} is using {}: not restarting OrbStack under it; run `cargo orbtest doctor --fix` again \
                         when it ends",
                        holder.map_or_else(|| "another cargo orbtest run".to_string(), |h| h.to_string()),
                        resolved.description
                    )),
                    Ok(Ok(_lock)) => {
                        let orbstack = remedy::ProviderOrbStack {
                            client: client.clone(),
                            kind: resolved.kind,
                        };
                        match remedy::remedy(
                            &orbstack,
                            &config.machines.restart,
                            std::time::Duration::from_millis(250),
                        ) {
                            Ok(done) => report.fixed.push(done.to_string()),
                            Err(e) => problems.push(e.to_string()),
                        }
                    }
                }
            }
            report.status = client
                .execute(&Op::Status)
                .ok()
                .map(|r| r.stdout_text().trim().to_string());
            report.version = client.execute(&Op::Version).ok().and_then(|r| {
                r.stdout_text()
                    .lines()
                    .find_map(|l| l.strip_prefix("Version:").map(|v| v.trim().to_string()))
            });
            if report.status.as_deref() != Some("Running") {
                problems.push(format!(
                    "OrbStack is {}: start it with `orbctl start` (or pass --start-orbstack to runs)",
                    report.status.as_deref().unwrap_or("not answering")
                ));
            }
            if let Some(p) = resolved.provider.pressure() {
                report.host.provider_memory_percent = Some(p.memory_percent);
                report.host.provider_swap_percent = Some(p.swap_percent);
            }
            match cleanup::list(&client) {
                Err(e) => problems.push(e.to_string()),
                Ok(existing) => {
                    let (input, owners) = cleanup::reap_input(&resolved.state, &config.machines, &existing);
                    let known = input.baselines.clone();
                    let protect = Protect::new(&config.machines.protect).ok();
                    let plan = protect.as_ref().map(|p| reap::plan(&input, p)).unwrap_or_default();
                    let deleting: BTreeMap<&str, String> =
                        plan.delete.iter().map(|(n, r)| (n.as_str(), r.to_string())).collect();
                    for m in &existing {
                        let owner = if known.contains(&m.name) {
                            "baseline".to_string()
                        } else if let Some(run) = owners.live.get(&m.name) {
                            format!("run {run} (running)")
                        } else if let Some(run) = owners.kept.get(&m.name) {
                            format!("kept by run {run} (`cargo orbtest clean --kept` deletes it)")
                        } else if let Some(reason) = deleting.get(m.name.as_str()) {
                            reason.clone()
                        } else if protect.as_ref().is_some_and(|p| p.matching(&m.name).is_some()) {
                            "protected".to_string()
                        } else {
                            "not ours".to_string()
                        };
                        report.machines.push(MachineOwner {
                            name: m.name.clone(),
                            state: m.state.clone(),
                            next_clean: if deleting.contains_key(m.name.as_str()) {
                                "delete"
                            } else {
                                "keep"
                            },
                            owner,
                        });
                    }
                }
            }
        }
    }
    if config.uses_machines() && config.machines.prefixes.is_empty() {
        advice.push(
            "[machines] prefixes is empty: cleanup only reaps machines journaled by crashed runs; list your tests' \
             machine-name prefixes to clean up after suites that ran outside cargo orbtest"
                .to_string(),
        );
    }
    let swap = report.host.provider_swap_percent.unwrap_or(report.host.swap_percent);
    if swap > config.pressure.swap_limit_percent {
        advice.push(format!(
            "swap is at {swap:.0}%, over the {:.0}% limit: machine tiers will {} (on_pressure)",
            config.pressure.swap_limit_percent,
            config.pressure.on_pressure.as_str()
        ));
    }
    let uses_machines = config.uses_machines();
    let provider_problems = problems.len();
    checks.push(Check::new(
        "provider",
        match (uses_machines, problems.first()) {
            (true, None) => Ok(format!("{} answers", report.provider)),
            (true, Some(p)) => Err(p.clone()),
            (false, _) => Ok(format!(
                "{}: not needed, no tier has `machines = true`",
                report.provider
            )),
        },
    ));
    if !uses_machines {
        // Nothing in a run would touch the provider: what is wrong with it is advice only.
        advice.extend(
            problems
                .drain(..provider_problems)
                .map(|p| format!("provider (not used until a tier has `machines = true`): {p}")),
        );
    }
    problems.extend(
        checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| format!("{}: {}", c.what, c.detail)),
    );
    report.ready = checks.iter().all(|c| c.ok) && problems.is_empty();
    report.checks = checks;
    report.problems = problems;
    report.advice = advice;
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        print_human(&report);
    }
    Ok(if report.ready {
        exit_code::PASSED
    } else {
        exit_code::INFRASTRUCTURE
    })
}

fn print_human(r: &Report) {
    crate::outln!("checks:");
    for c in &r.checks {
        // A detail's help lines sit under its text.
        let detail = c.detail.replace('\n', "\n       ");
        crate::outln!("  {} {}: {detail}", if c.ok { "ok  " } else { "FAIL" }, c.what);
    }
    // Without machine tiers the provider's details are noise to a newcomer: the check above says
    // it is not needed, the advice what to fix before adding one.
    if r.machines_needed || r.status.is_some() {
        crate::outln!("provider: {}", r.provider);
        crate::outln!(
            "{}: {} (version {})",
            if r.provider.starts_with("docker") {
                "orbdock on Docker"
            } else {
                "OrbStack"
            },
            r.status.as_deref().unwrap_or("unknown"),
            r.version.as_deref().unwrap_or("unknown")
        );
    }
    crate::outln!(
        "host: memory {:.0}%, swap {:.0}%, CPU {:.0}%",
        r.host.memory_percent,
        r.host.swap_percent,
        r.host.cpu_percent
    );
    if let (Some(m), Some(s)) = (r.host.provider_memory_percent, r.host.provider_swap_percent) {
        crate::outln!("provider reports: memory {m:.0}%, swap {s:.0}%");
    }
    match r.orbstack_helper_mib {
        Some(mib) => crate::outln!("OrbStack helper: {mib} MiB resident"),
        None if r.machines_needed && !r.provider.starts_with("docker") => {
            crate::outln!("OrbStack helper: not visible on this host")
        }
        None => {}
    }
    if r.machines.is_empty() {
        if r.machines_needed {
            crate::outln!("machines: none");
        }
    } else {
        crate::outln!("machines:");
        let width = r.machines.iter().map(|m| m.name.len()).max().unwrap_or(4);
        for m in &r.machines {
            crate::outln!("  {:<width$}  {:<8}  {:<6}  {}", m.name, m.state, m.next_clean, m.owner);
        }
    }
    for p in &r.problems {
        crate::outln!("problem: {}", p.replace('\n', "\n         "));
    }
    for a in &r.advice {
        crate::outln!("advice: {a}");
    }
    for f in &r.fixed {
        crate::outln!("fix: {f}");
    }
    if r.ready {
        crate::outln!("verdict: ready: `cargo orbtest` would start");
    } else {
        let n = r.problems.len();
        crate::outln!(
            "verdict: not ready: {n} {} to fix before a run can start",
            if n == 1 { "problem" } else { "problems" }
        );
    }
}

/// What the tiers need: cargo-nextest (for nextest tiers), that each nextest tier's filter
/// selects tests in a fresh build, and that each command tier's program is there.
fn tier_checks(global: &GlobalArgs, ws: &Workspace, config: &Config, chatty: bool) -> Vec<Check> {
    let mut checks = Vec::new();
    let nextest_tiers: Vec<&Tier> = config.tiers.iter().filter(|t| !t.is_command()).collect();
    if !nextest_tiers.is_empty() {
        let version = nextest::check_version(&ws.cargo);
        checks.push(Check::new(
            "cargo-nextest",
            match &version {
                Ok(v) => Ok(format!("{v} ({} or newer needed)", nextest::MIN_VERSION)),
                Err(e) => Err(e.to_string()),
            },
        ));
        if version.is_ok() {
            if chatty {
                crate::errln!("orbtest: building the tests to check what each tier selects");
            }
            match nextest::build_and_list(
                ws,
                config,
                &nextest_tiers,
                &[],
                None,
                global.color.enabled(),
                global.verbose,
            ) {
                Ok((_, listings)) => {
                    for (tier, listing) in nextest_tiers.iter().zip(&listings) {
                        checks.push(Check::new(
                            format!("tier {}", tier.name),
                            selects(tier, listing.tests.len()),
                        ));
                    }
                }
                Err(e) => checks.push(Check::new("build", Err(format!("the tests do not build or list: {e}")))),
            }
        }
    }
    for tier in config.tiers.iter().filter(|t| t.is_command()) {
        let found = crate::tiers::command::check_programs(config, std::slice::from_ref(tier));
        let found = found.map_err(|e| e.to_string()).and_then(|()| {
            let Some(command) = tier.command.as_ref() else {
                return Ok(());
            };
            match missing_python_module(&command.argv, &command.workdir(&config.dir()), &command.env) {
                Some(problem) => Err(problem),
                None => Ok(()),
            }
        });
        checks.push(Check::new(
            format!("tier {}", tier.name),
            match found {
                Ok(()) => Ok(format!(
                    "runs `{}`",
                    tier.command
                        .as_ref()
                        .map(|c| crate::tiers::command::display(&c.argv))
                        .unwrap_or_default()
                )),
                Err(e) => Err(e),
            },
        ));
    }
    checks
}

/// For a command `PYTHON -m MODULE ...` (what init writes when pytest is not on PATH): why that
/// python cannot run the module, when it cannot. The program itself was found already; a
/// python that does not start is left to the run to report.
pub(crate) fn missing_python_module(argv: &[String], workdir: &Path, env: &[(String, String)]) -> Option<String> {
    let [python, flag, module, ..] = argv else {
        return None;
    };
    let is_python = Path::new(python)
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("python"));
    if !is_python || flag != "-m" || module.contains('{') {
        return None;
    }
    let probe = std::process::Command::new(python)
        .args([
            "-c",
            "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec(sys.argv[1]) else 3)",
            module.as_str(),
        ])
        .current_dir(workdir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    (probe.status.code() == Some(3)).then(|| {
        format!(
            "`{python} -m {module}`: {python} has no module {module}\n  = help: install it for that python \
             (`{python} -m pip install {module}`), or point the command at a virtualenv's {module} \
             (e.g. \".venv/bin/{module}\")"
        )
    })
}

/// A nextest tier with `n` tests: fine unless it selects none and would fail for it.
fn selects(tier: &Tier, n: usize) -> std::result::Result<String, String> {
    match (n, tier.no_tests) {
        (0, NoTests::Fail) => Err(format!(
            "its filter `{}` selects no test, so a run would fail (exit 4); fix the filter, or set \
             no_tests = \"warn\" in [tiers.{}] if that is expected",
            tier.filter, tier.name
        )),
        (0, other) => Ok(format!("selects no test (no_tests = \"{}\")", other.as_str())),
        (1, _) => Ok("selects 1 test".to_string()),
        (n, _) => Ok(format!("selects {n} tests")),
    }
}

/// Host memory, swap and CPU, and the OrbStack helper's memory where it is visible (macOS).
fn host() -> (Host, Option<u64>) {
    let p = crate::monitor::host_pressure();
    let mut cpu = 0.0;
    let mut helper = None;
    if let Ok(mut sys) = sysinfo::System::new() {
        sys.refresh_cpu_usage();
        std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
        sys.refresh_cpu_usage();
        cpu = f64::from(sys.global_cpu_usage());
        helper = remedy::helper_mib();
    }
    (
        Host {
            memory_percent: p.memory_percent,
            swap_percent: p.swap_percent,
            cpu_percent: cpu,
            provider_memory_percent: None,
            provider_swap_percent: None,
        },
        helper,
    )
}
