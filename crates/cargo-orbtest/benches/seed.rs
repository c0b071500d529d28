//! The seed project's failure, reproduced in orbsim and beaten (issues #7 and #18;
//! docs/benchmarks.md).
//!
//! A generated suite shaped like the real one (290 tests; `seed/fixture.rs`) runs against
//! orbsim with `benches/scenarios/seed.toml`, for each seed, by two runners. The suite is the
//! same for both, unchanged, with the real suite's client policy in its helper
//! (`seed/suite_lib.rs`: its own per-call timeouts and retries); only the runner differs:
//!
//! * naive: plain `cargo nextest run` over the whole suite with 8 test threads (the real suite
//!   ran one pytest worker per core of an 8-core Mac), orbsim as `orbctl` on PATH;
//! * orbtest: `cargo orbtest` with tiers fast / integration / e2e, the shim, a baseline and
//!   the default policy (time-scaled), with the suite's `orchestrator.toml` below.
//!
//! With `SEED_BENCH_POLICY_FREE=1` a third line runs orbtest on the suite with its client
//! policy turned off (every command once, no timeout of the suite's own): labelled
//! "orbtest, no client policy", it is not part of the headline.
//!
//! Wall time is in simulated seconds: everything before a runner's first machine operation
//! (cargo's freshness check, listing, orbtest's fast tier) counts at real speed, everything
//! from there to the runner's exit at orbsim's speed (real ÷ time_scale). Process overhead
//! after that point is scaled up with it, so a busy host makes both runners slower.
//!
//! Targets: orbtest has 0 failures on every seed, wall time ≤ 0.45 × naive's and ≤ 1.25 × the
//! lower bound (`seed/bound.rs`), no call killed by its caller while it waited in orbtest's
//! queue, 0 machines leaked, peak swap under the limit.
//!
//! Run with `cargo bench --bench seed`. `SEED_BENCH_SEEDS=N` (default 10) and
//! `SEED_BENCH_TIME_SCALE=S` (default: the scenario's) change the run. `SEED_BENCH_PROVIDER=docker`
//! runs the same suite once per runner on real machines instead (`seed/docker.rs`).

mod support;

static ORBSIM: std::sync::LazyLock<std::path::PathBuf> = std::sync::LazyLock::new(support::orbsim_binary);

#[path = "seed/bound.rs"]
mod bound;
#[path = "seed/docker.rs"]
mod docker;
#[path = "seed/fixture.rs"]
mod fixture;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use orbsim::Stats;
use orbsim::scenario::Scenario;

use fixture::{E2E_BINARIES, FAST_BINARIES, INTEGRATION_BINARIES, Suite};

/// Test threads of the naive run: `pytest -n auto` on the real suite's 8-core Mac. With a
/// machine per busy thread this is what pushed its swap to 88%.
const NAIVE_THREADS: usize = 8;
/// The orbtest tiers' threads: each machine test holds one machine, and six machines are what
/// fit under the 80% swap limit on this host (the user's tuning, in orchestrator.toml).
const MACHINE_TIER_THREADS: u64 = 6;
const SWAP_LIMIT: f64 = 80.0;
const BASELINE: &str = "orbtest-base-jammy";
const PROVISION: &[&str] = &[": apt-get update", ": apt-get install -y python3"];

fn main() {
    let started = Instant::now();
    let seeds: u64 = env_parse("SEED_BENCH_SEEDS").unwrap_or(10);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let template_path = root.join("benches/scenarios/seed.toml");
    let mut template = std::fs::read_to_string(&template_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", template_path.display()));
    if let Some(scale) = env_parse::<f64>("SEED_BENCH_TIME_SCALE") {
        template = replace_key(&template, "time_scale", &scale.to_string());
    }
    let scenario = Scenario::parse(&template).unwrap_or_else(|e| panic!("{}: {e}", template_path.display()));
    let scale = scenario.time_scale;

    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("seed-bench");
    let suite_dir = scratch.join("suite");
    let target = scratch.join("target");
    let suite = Suite::new();
    if std::env::var("SEED_BENCH_PROVIDER").is_ok_and(|p| p == "docker") {
        docker::main(&scratch, &suite);
        return;
    }
    suite
        .write(&suite_dir, scale)
        .unwrap_or_else(|e| panic!("cannot write the suite into {}: {e}", suite_dir.display()));
    let config = scratch.join("orchestrator.toml");
    std::fs::write(&config, orchestrator_toml(scale)).expect("write orchestrator.toml");
    let links = scratch.join("bin");
    run_ok(Command::new(ORBSIM.as_path()).arg("link").arg(&links), "orbsim link");
    // Earlier benches' orbtest runs (reports are kept per seed under runs/ instead).
    let _ = std::fs::remove_dir_all(target.join("orbtest"));

    println!(
        "seed bench: {} tests ({} fast, {} integration, {} e2e), time scale {scale}, {seeds} seeds, naive with {NAIVE_THREADS} \
         threads",
        suite.total_tests(),
        FAST_BINARIES.iter().map(|(_, n)| n).sum::<usize>(),
        count(&suite, INTEGRATION_BINARIES),
        count(&suite, E2E_BINARIES),
    );
    let build = Instant::now();
    let mut cmd = cargo(&target);
    cmd.args(["nextest", "list", "--manifest-path"])
        .arg(suite_dir.join("Cargo.toml"));
    run_ok(cmd.stdout(Stdio::null()), "building the seed suite");
    let call_ms = orbsim_call_ms(&links, &scratch.join("calibration"));
    println!(
        "built the suite in {:.1}s; an orbsim call costs {call_ms:.1} ms of real time here ({:.2} simulated s, not in the \
         bound); load average {}",
        build.elapsed().as_secs_f64(),
        call_ms / 1000.0 / scale,
        load_average()
    );

    let cold_bound = bound::bound(&scenario, &suite, PROVISION.len(), SWAP_LIMIT, false);
    let warm_bound = bound::bound(&scenario, &suite, PROVISION.len(), SWAP_LIMIT, true);
    // orbtest's host persists across seeds, as a Mac does between runs: seed 1 builds the
    // baseline (cold), later seeds reuse it (warm). Fresh at the start of each bench.
    let host = scratch.join("orbtest-host");
    let _ = std::fs::remove_dir_all(&host);
    let ctx = Ctx {
        host,
        suite: &suite,
        suite_dir,
        target,
        config,
        links,
        scale,
        template,
    };
    let policy_free = std::env::var("SEED_BENCH_POLICY_FREE").is_ok_and(|v| v == "1");
    let mut naive = Vec::new();
    let mut orbtest = Vec::new();
    let mut free = Vec::new();
    for seed in 1..=seeds {
        let n = ctx.run(seed, Runner::Naive);
        println!("seed {seed:>2} {}", n.line());
        naive.push(n);
        let o = ctx.run(seed, Runner::Orbtest);
        println!("seed {seed:>2} {}", o.line());
        orbtest.push(o);
        if policy_free {
            let f = ctx.run(seed, Runner::OrbtestPolicyFree);
            println!("seed {seed:>2} {}", f.line());
            free.push(f);
        }
    }

    let mean_wall = |v: &[Outcome]| v.iter().map(|o| o.wall_s).sum::<f64>() / v.len().max(1) as f64;
    let (nw, ow) = (mean_wall(&naive), mean_wall(&orbtest));
    // Seed 1 builds the baseline (cold); the others reuse it (warm): each run against its own bound.
    let bound_of = |i: usize| {
        if i == 0 {
            cold_bound.seconds()
        } else {
            warm_bound.seconds()
        }
    };
    let mean_bound = (0..orbtest.len()).map(bound_of).sum::<f64>() / orbtest.len().max(1) as f64;
    let failures = |v: &[Outcome]| v.iter().map(|o| o.failures).sum::<usize>();
    let met = |ok: bool| if ok { "met" } else { "MISSED" };
    let worst_swap = orbtest.iter().map(|o| o.stats.peak_swap_percent).fold(0.0, f64::max);
    println!();
    for (name, b) in [("cold", &cold_bound), ("warm", &warm_bound)] {
        println!(
            "bound {name} {:.0}s = max(machine work {:.0}s / {} machines = {:.0}s, creates {:.0}s / {} slots = {:.0}s, \
             critical path {:.0}s); without deletes {:.0}s",
            b.seconds(),
            b.machine_work,
            b.machines,
            b.machine_work / b.machines as f64,
            b.create_work,
            b.slots,
            b.create_work / b.slots as f64,
            b.critical_path,
            (b.machine_work - b.delete_work) / b.machines as f64,
        );
    }
    let queued_kills = orbtest
        .iter()
        .map(|o| o.killed_while_queued)
        .try_fold(0, |sum, k| k.map(|k| sum + k));
    println!(
        "targets  0 failures on every seed {}; wall <= 0.45 x naive {}; wall <= 1.25 x bound {}; no call killed while \
         queued {}; 0 leaked {}; peak swap under {SWAP_LIMIT}% {} ({worst_swap:.1}%); took {:.0}s, load average {}",
        met(failures(&orbtest) == 0),
        met(ow <= 0.45 * nw),
        met(ow <= 1.25 * mean_bound),
        queued_kills.map_or("NOT RECORDED", |k| met(k == 0)),
        met(orbtest.iter().all(|o| o.leaked.is_empty())),
        met(worst_swap < SWAP_LIMIT),
        started.elapsed().as_secs_f64(),
        load_average()
    );
    println!("{}", summary("naive", &naive, None));
    println!("{}", summary("orbtest", &orbtest, Some(mean_bound)));
    if !free.is_empty() {
        println!(
            "{}  (not the headline: the suite's own timeouts and retries turned off)",
            summary("orbtest, no client policy", &free, Some(mean_bound))
        );
    }
    if let Some((cold, warm)) = orbtest.split_first()
        && !warm.is_empty()
    {
        println!(
            "orbtest  cold (seed 1) wall {:.0}s ({:.2} x cold bound); warm (seeds 2-{}) wall mean {:.0}s ({:.2} x warm bound)",
            cold.wall_s,
            cold.wall_s / cold_bound.seconds(),
            orbtest.len(),
            mean_wall(warm),
            mean_wall(warm) / warm_bound.seconds()
        );
    }
    let killed = |v: &[Outcome]| v.iter().map(|o| o.killed.len()).sum::<usize>();
    println!(
        "ratio: orbtest/naive={:.2} orbtest/bound={:.2} failures: naive={} orbtest={} calls killed by the client: \
         naive={} orbtest={} (while queued: {})",
        ow / nw,
        ow / mean_bound,
        failures(&naive),
        failures(&orbtest),
        killed(&naive),
        killed(&orbtest),
        queued_kills.map_or_else(|| "not recorded".to_string(), |k| k.to_string()),
    );
}

fn env_parse<T: std::str::FromStr>(key: &str) -> Option<T> {
    std::env::var(key).ok().and_then(|v| v.trim().parse().ok())
}

/// The scenario with `key = value` in place of its own top-level line.
fn replace_key(template: &str, key: &str, value: &str) -> String {
    let prefix = format!("{key} =");
    template
        .lines()
        .map(|l| {
            if l.starts_with(&prefix) {
                format!("{key} = {value}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Median real cost of one orbsim call that has no simulated latency (`info` on an idle
/// simulator): the process overhead every simulated operation carries on top of its latency.
fn orbsim_call_ms(links: &Path, state: &Path) -> f64 {
    let _ = std::fs::remove_dir_all(state);
    let orbctl = |args: &[&str]| {
        let out = Command::new(links.join("orbctl"))
            .args(args)
            .env("ORBSIM_STATE", state)
            .env_remove("ORBSIM_SCENARIO")
            .stdin(Stdio::null())
            .output()
            .expect("run orbsim");
        assert!(out.status.success(), "orbsim {args:?} failed: {out:?}");
    };
    orbctl(&["create", "ubuntu:22.04", "calibration"]);
    let mut samples: Vec<f64> = (0..30)
        .map(|_| {
            let t = Instant::now();
            orbctl(&["info", "calibration", "-f", "json"]);
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// The 1-minute load average: other work on the host slows every process a run starts, and
/// the time scale turns that into simulated seconds.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

fn count(suite: &Suite, binaries: &[&str]) -> usize {
    suite
        .machine_tests
        .iter()
        .filter(|t| binaries.contains(&t.binary))
        .count()
}

/// The suite's orchestrator.toml: tiers, one baseline, the default policy with every duration
/// in simulated time (multiplied by the time scale); tuned: six threads per machine tier. The
/// create cap is the default: it follows the host's memory headroom.
fn orchestrator_toml(scale: f64) -> String {
    let d = |secs: f64| format!("\"{}ms\"", (secs * scale * 1000.0).round() as u64);
    let fast = FAST_BINARIES
        .iter()
        .map(|(b, _)| format!("binary(={b})"))
        .collect::<Vec<_>>()
        .join(" | ");
    let set = |bs: &[&str]| {
        bs.iter()
            .map(|b| format!("binary(={b})"))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let provision = PROVISION
        .iter()
        .map(|p| format!("{p:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"# The seed suite under cargo orbtest (generated by benches/seed.rs). Durations are the
# defaults in simulated time: 180 s is {create} of real time at this time scale.

[machines]
provider = "sim"
prefixes = ["test-"]
timeouts = {{ create = {create}, lifecycle = {lifecycle}, query = {query} }}
retry = {{ attempts = 4, delay = {delay}, backoff = "exponential" }}

[[machines.baseline]]
name = "{BASELINE}"
image = "ubuntu:22.04"
provision = [{provision}]
provision_timeout = {provision_timeout}

[pressure]
swap_limit_percent = {SWAP_LIMIT}
on_pressure = "wait"
max_wait = {max_wait}

[tiers.fast]
filter = "{fast}"
timeout = {test_timeout}

# Six machines fit under the swap limit; each test holds one.
[tiers.integration]
filter = "{integration}"
threads = {MACHINE_TIER_THREADS}
timeout = {test_timeout}
machines = true
needs = ["fast"]

[tiers.e2e]
filter = "{e2e}"
threads = {MACHINE_TIER_THREADS}
timeout = {test_timeout}
machines = true
needs = ["integration"]
"#,
        create = d(180.0),
        lifecycle = d(60.0),
        query = d(30.0),
        delay = d(2.0),
        provision_timeout = d(600.0),
        max_wait = d(600.0),
        test_timeout = d(180.0),
        integration = set(INTEGRATION_BINARIES),
        e2e = set(E2E_BINARIES),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runner {
    Naive,
    Orbtest,
    /// orbtest, with the suite's client policy turned off (`SEED_BENCH_POLICY_FREE=1`).
    OrbtestPolicyFree,
}

impl Runner {
    fn name(self) -> &'static str {
        match self {
            Runner::Naive => "naive",
            Runner::Orbtest => "orbtest",
            Runner::OrbtestPolicyFree => "orbtest-np",
        }
    }

    fn orbtest(self) -> bool {
        self != Runner::Naive
    }
}

struct Ctx<'a> {
    /// orbtest's orbsim state and orbtest home, kept from seed to seed.
    host: PathBuf,
    suite: &'a Suite,
    suite_dir: PathBuf,
    target: PathBuf,
    config: PathBuf,
    links: PathBuf,
    scale: f64,
    template: String,
}

/// One runner on one seed.
struct Outcome {
    runner: Runner,
    /// Tests that did not pass (failed, timed out, or never ran).
    failures: usize,
    /// Simulated seconds (see the header).
    wall_s: f64,
    real_s: f64,
    stats: Stats,
    /// Machines left in orbsim after the run, baselines excepted.
    leaked: Vec<String>,
    /// Calls the suite's client killed at its own timeout (`<timeout> <argv>`).
    killed: Vec<String>,
    /// Of orbtest's, those whose caller went away while the call waited for admission (the
    /// journal's `caller-gone` records); `None` when the journal does not record it.
    killed_while_queued: Option<usize>,
}

impl Outcome {
    fn line(&self) -> String {
        format!(
            "{:<10} failures {:>2}  wall {:>5.0}s ({:>4.1}s real)  peak swap {:>5.1}%  peak creates {:>2}  \
             creates {:>2} clones {:>2}  leaked {}  killed by the client {}{}",
            self.runner.name(),
            self.failures,
            self.wall_s,
            self.real_s,
            self.stats.peak_swap_percent,
            self.stats.peak_concurrent_creates,
            self.stats.creates_started,
            self.stats.clones_started,
            self.leaked.len(),
            self.killed.len(),
            self.killed_while_queued
                .map_or(String::new(), |k| format!(" (while queued {k})")),
        )
    }
}

fn summary(name: &str, runs: &[Outcome], bound: Option<f64>) -> String {
    let n = runs.len().max(1) as f64;
    let failures: Vec<usize> = runs.iter().map(|o| o.failures).collect();
    let walls: Vec<f64> = runs.iter().map(|o| o.wall_s).collect();
    let mean_wall = walls.iter().sum::<f64>() / n;
    let versus = bound.map_or(String::new(), |b| format!(" ({:.2} x bound)", mean_wall / b));
    format!(
        "{name:<8} failures/run mean {:.1} max {} (runs with failures {}/{})  wall mean {mean_wall:.0}s min {:.0}s \
         max {:.0}s{versus}  peak swap max {:.1}%  peak concurrent creates max {}  leaked mean {:.1} max {}",
        failures.iter().sum::<usize>() as f64 / n,
        failures.iter().max().unwrap_or(&0),
        failures.iter().filter(|&&f| f > 0).count(),
        runs.len(),
        walls.iter().copied().fold(f64::INFINITY, f64::min),
        walls.iter().copied().fold(0.0, f64::max),
        runs.iter().map(|o| o.stats.peak_swap_percent).fold(0.0, f64::max),
        runs.iter().map(|o| o.stats.peak_concurrent_creates).max().unwrap_or(0),
        runs.iter().map(|o| o.leaked.len()).sum::<usize>() as f64 / n,
        runs.iter().map(|o| o.leaked.len()).max().unwrap_or(0),
    )
}

impl Ctx<'_> {
    fn run(&self, seed: u64, runner: Runner) -> Outcome {
        let dir = self
            .suite_dir
            .parent()
            .expect("scratch dir")
            .join(format!("runs/seed-{seed}/{}", runner.name()));
        let _ = std::fs::remove_dir_all(&dir);
        let marks = dir.join("marks");
        std::fs::create_dir_all(&marks).expect("create the run directory");
        let scenario = dir.join("scenario.toml");
        std::fs::write(&scenario, replace_key(&self.template, "seed", &seed.to_string())).expect("write the scenario");
        let state = if runner.orbtest() {
            self.host.join("orbsim")
        } else {
            dir.join("orbsim")
        };

        let mut cmd = match runner {
            Runner::Naive => {
                let _ = std::fs::remove_file(naive_junit(&self.suite_dir));
                let mut cmd = cargo(&self.target);
                cmd.args(["nextest", "run", "--no-fail-fast", "--color", "never", "--test-threads"])
                    .arg(NAIVE_THREADS.to_string())
                    .arg("--manifest-path")
                    .arg(self.suite_dir.join("Cargo.toml"));
                let path = std::env::var_os("PATH").unwrap_or_default();
                let mut dirs = vec![self.links.clone()];
                dirs.extend(std::env::split_paths(&path));
                cmd.env("PATH", std::env::join_paths(dirs).expect("PATH"));
                cmd
            }
            Runner::Orbtest | Runner::OrbtestPolicyFree => {
                let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-orbtest"));
                scrub(&mut cmd);
                cmd.arg("orbtest")
                    .arg("--manifest-path")
                    .arg(self.suite_dir.join("Cargo.toml"))
                    .arg("--config")
                    .arg(&self.config)
                    .arg("--report-dir")
                    .arg(dir.join("report"))
                    .env("CARGO_TARGET_DIR", &self.target)
                    .env("ORBTEST_HOME", self.host.join("home"))
                    .env("NO_COLOR", "1");
                cmd
            }
        };
        let policy = if runner == Runner::OrbtestPolicyFree {
            "none"
        } else {
            "real"
        };
        cmd.env("ORBSIM_STATE", &state)
            .env("ORBSIM_SCENARIO", &scenario)
            .env("SEED_TIME_SCALE", self.scale.to_string())
            .env("SEED_CLIENT_POLICY", policy)
            .env("SEED_MARKS", &marks);
        // The runner's own output, for a look afterwards.
        let log = std::fs::File::create(dir.join("output.log")).expect("create output.log");
        cmd.stdout(log.try_clone().expect("output.log")).stderr(log);
        // orbtest's host keeps its counters from earlier seeds: this run's are the difference.
        let counters_before = orbsim_stats(&state, &scenario);
        let begin_ns = unix_ns();
        let clock = Instant::now();
        cmd.status()
            .unwrap_or_else(|e| panic!("cannot start the {} run: {e}", runner.name()));
        let real_s = clock.elapsed().as_secs_f64();
        let end_ns = begin_ns + (real_s * 1e9) as u128;

        let (passed, first_op_ns) = if runner.orbtest() {
            orbtest_passed(&dir.join("report"))
        } else {
            let junit = naive_junit(&self.suite_dir);
            let _ = std::fs::copy(&junit, dir.join("junit.xml"));
            (naive_passed(&junit), None)
        };
        let killed: Vec<String> = std::fs::read_to_string(marks.join("killed"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        let killed_while_queued = runner.orbtest().then(|| queued_kills(&dir.join("report"))).flatten();
        let failures = self.suite.total_tests().saturating_sub(passed);
        // Machine work begins with the first orbctl call anyone makes (a test, or preflight).
        let first = earliest_mark(&marks)
            .into_iter()
            .chain(first_op_ns)
            .min()
            .unwrap_or(begin_ns);
        let before = first.clamp(begin_ns, end_ns) - begin_ns;
        let after = end_ns - first.clamp(begin_ns, end_ns);
        let wall_s = before as f64 / 1e9 + after as f64 / 1e9 / self.scale;

        let mut stats = orbsim_stats(&state, &scenario);
        stats.creates_started -= counters_before.creates_started;
        stats.clones_started -= counters_before.clones_started;
        let list: serde_json::Value =
            serde_json::from_slice(&orbsim(&state, &scenario, &["orbctl", "list", "-f", "json"])).expect("list JSON");
        let leaked = list
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["name"].as_str())
            .filter(|n| *n != BASELINE)
            .map(str::to_string)
            .collect();
        Outcome {
            runner,
            failures,
            wall_s,
            real_s,
            stats,
            leaked,
            killed,
            killed_while_queued,
        }
    }
}

/// Calls whose caller went away while they waited for admission, from the journal's
/// `caller-gone` records; `None` when the journal has none of its kind at all and the run
/// predates them (no `broker` record).
fn queued_kills(report: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(report.join("journal.jsonl")).ok()?;
    let records: Vec<serde_json::Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let recorded = records.iter().any(|r| r["event"] == "broker");
    recorded.then(|| {
        records
            .iter()
            .filter(|r| r["event"] == "caller-gone" && r["phase"] == "queued")
            .count()
    })
}

/// Runs `orbsim ARGS` on a state; its stdout.
fn orbsim(state: &Path, scenario: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new(ORBSIM.as_path())
        .args(args)
        .env("ORBSIM_STATE", state)
        .env("ORBSIM_SCENARIO", scenario)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("orbsim {args:?}: {e}"));
    assert!(out.status.success(), "orbsim {args:?} failed: {out:?}");
    out.stdout
}

/// orbsim's counters for a state (all zero for a new one).
fn orbsim_stats(state: &Path, scenario: &Path) -> Stats {
    serde_json::from_slice(&orbsim(state, scenario, &["stats"])).expect("orbsim stats is JSON")
}

/// nextest's JUnit report of the naive run (its store is `target/nextest` under the workspace
/// root, whatever `CARGO_TARGET_DIR` says).
fn naive_junit(suite_dir: &Path) -> PathBuf {
    suite_dir.join("target/nextest/default/junit.xml")
}

/// Passed tests of the naive run, from nextest's JUnit report.
fn naive_passed(junit: &Path) -> usize {
    let Ok(xml) = std::fs::read_to_string(junit) else {
        return 0;
    };
    // One `<testcase` element per test run; failed and timed-out ones hold a `<failure` or `<error`.
    xml.split("<testcase ")
        .skip(1)
        .filter(|case| {
            let body = case.split("</testcase>").next().unwrap_or("");
            let own = body.split("<testcase").next().unwrap_or("");
            !own.contains("<failure") && !own.contains("<error")
        })
        .count()
}

/// Passed tests of the orbtest run (summary.json) and when its machine work began (the
/// journal's first record).
fn orbtest_passed(report: &Path) -> (usize, Option<u128>) {
    let passed = std::fs::read_to_string(report.join("summary.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .map(|s| {
            s["tiers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| t["tests"]["passed"].as_u64().unwrap_or(0) as usize)
                .sum()
        })
        .unwrap_or(0);
    let first = std::fs::read_to_string(report.join("journal.jsonl"))
        .ok()
        .and_then(|j| {
            j.lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter_map(|r| r["ts_ms"].as_u64())
                .min()
                .map(|ms| u128::from(ms) * 1_000_000)
        });
    (passed, first)
}

fn earliest_mark(dir: &Path) -> Option<u128> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok()?.trim().parse().ok())
        .min()
}

fn unix_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// `cargo` for the suite: its own target dir, no nextest variables from an outer run.
fn cargo(target: &Path) -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    scrub(&mut cmd);
    cmd.env("CARGO_TARGET_DIR", target);
    cmd
}

fn scrub(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("NEXTEST_") || k.starts_with("ORBTEST_") || k.starts_with("ORBSIM_") || k.starts_with("SEED_")
        {
            cmd.env_remove(key);
        }
    }
}

fn run_ok(cmd: &mut Command, what: &str) {
    let out = cmd
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
