//! The randomized multi-run property: several `cargo orbtest` runs start at once against one
//! simulated OrbStack (one `ORBSIM_STATE`), each from its own directory with its own
//! `ORBTEST_HOME`, config and cleanup prefixes, while a person creates, renames and deletes
//! machines: unowned ones, names a run's tier is about to use, names its prefixes cover and
//! protected ones. Some runs are SIGKILLed while their tier holds its machines. Afterwards:
//!
//! - no machine of the person's was deleted by anyone but the person, unless a name it had was
//!   covered by a run's cleanup prefix (that is what prefixes are for) and not protected;
//! - after one `cargo orbtest clean` (from yet another directory and home, with no prefixes)
//!   none of the runs' machines remains.
//!
//! Seeded: `MULTIRUN_SEED` (printed; the same seed gives the same configs, tiers, kills and the
//! person's actions; the interleaving is the scheduler's). Small in CI; the full size comes from
//! `MULTIRUN_RUNS` and `MULTIRUN_ACTIONS` (e.g. `MULTIRUN_RUNS=8 MULTIRUN_ACTIONS=300`).
//! Time is driven by events: the runs wait for the provider's run lock, a tier holds its machines
//! until the driver has seen the person act during it, and orbsim's latencies (scenario, time
//! scale 0.01) give every machine call a duration for the others to fall into.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Every config's prefixes are drawn from these.
const PREFIXES: [&str; 3] = ["test-", "e2e-", "ci-"];
/// Every config protects these (names like `test-keep-a`).
const PROTECT: &str = "*keep-*";
const WORDS: [&str; 3] = ["a", "b", "c"];

const SCENARIO: &str = "seed = 7\ntime_scale = 0.01\n\
[latency]\ncreate = { dist = \"uniform\", min = \"1s\", max = \"3s\" }\nprovisioning = \"1s\"\n\
delete = { dist = \"uniform\", min = \"500ms\", max = \"2s\" }\nlist = \"200ms\"\ninfo = \"100ms\"\n\
[host]\nmemory_mib = 1048576\n\
[faults.transient]\nrate = 0.1\nops = [\"create\"]\nburst = 4\nat = 0.5\n\
error = \"make rootfs: download rootfs: stream to file: unexpected EOF\"\n";

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn seed() -> u64 {
    let seed = std::env::var("MULTIRUN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::random::<u32>() as u64);
    println!("seed {seed} (set MULTIRUN_SEED={seed} to replay)");
    seed
}

/// What one run is: its prefixes, the machines its tier makes (and renames or deletes), whether
/// it waits for the run lock and whether it is SIGKILLed while its tier holds its machines.
#[derive(Debug)]
struct RunPlan {
    prefixes: Vec<&'static str>,
    machines: Vec<String>,
    script: String,
    no_wait: bool,
    kill: Option<Kill>,
}

/// When a run is SIGKILLed.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// While its tier holds its machines.
    Held,
    /// This long after it started: waiting for the lock, in preflight, mid-create, in postflight.
    After(Duration),
}

fn plan_run(r: usize, rng: &mut ChaCha8Rng) -> RunPlan {
    let prefixes: Vec<&str> = PREFIXES.iter().copied().filter(|_| rng.random_bool(0.5)).collect();
    let mut machines = Vec::new();
    let mut script = String::new();
    for i in 0..rng.random_range(1..=4) {
        // Some under a prefix (maybe another run's), some under a name only the journal knows.
        let lead = if rng.random_bool(0.5) {
            PREFIXES[rng.random_range(0..PREFIXES.len())]
        } else {
            "s-"
        };
        let name = format!("{lead}r{r}-{i}");
        // A test renames or deletes only what it made: when the person took the name first,
        // the create fails and the test leaves their machine alone (a test that deletes a
        // machine by name deletes it, as orbctl would; only protected ones are refused).
        let then = match rng.random_range(0..4) {
            0 => format!(" && orbctl rename {name} {name}x"),
            1 => format!(" && orbctl delete -f {name}"),
            _ => String::new(),
        };
        script.push_str(&format!(
            "(orbctl create ubuntu:22.04 {name}{then}) >/dev/null 2>&1 || true\n"
        ));
        machines.push(name);
    }
    script.push_str(&format!(
        "touch \"$MULTIRUN/held-{r}\"\nwhile [ ! -e \"$MULTIRUN/go-{r}\" ]; do sleep 0.02; done\n"
    ));
    RunPlan {
        prefixes,
        machines,
        script,
        no_wait: rng.random_bool(0.2),
        kill: match rng.random_range(0..10) {
            0..=1 => Some(Kill::Held),
            2..=3 => Some(Kill::After(Duration::from_millis(rng.random_range(50..2000)))),
            _ => None,
        },
    }
}

fn config(prefixes: &[&str], script: Option<&str>, scenario: &Path) -> String {
    let list: Vec<String> = prefixes.iter().map(|p| format!("{p:?}")).collect();
    let mut text = format!(
        "[machines]\nprovider = \"sim\"\nprefixes = [{}]\nprotect = [{PROTECT:?}]\n\
         retry = {{ attempts = 2, delay = \"10ms\" }}\n\
         [machines.sim]\nscenario = {:?}\n",
        list.join(", "),
        scenario.display().to_string()
    );
    if let Some(script) = script {
        text.push_str(&format!(
            "[tiers.hold]\ncommand = [\"sh\", \"-c\", {script:?}]\nmachines = true\n"
        ));
    } else {
        text.push_str("[tiers.quiet]\ncommand = [\"true\"]\nmachines = true\n");
    }
    text
}

/// `cargo orbtest ARGS` in `dir`, with its own home, on the shared simulated OrbStack.
fn orbtest(root: &Path, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-orbtest"));
    cmd.arg("orbtest").args(args).current_dir(dir);
    crate::support::cli::scrub(&mut cmd);
    cmd.env("ORBTEST_HOME", dir.join("home"))
        .env("ORBSIM_STATE", root.join("sim"))
        .env("MULTIRUN", root)
        .env("NO_COLOR", "1")
        .env_remove("ORBSIM_SCENARIO")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("ORBTEST_RUN_DIR");
    cmd
}

/// The person's `orbctl`: the simulator itself, as another terminal would call it.
fn orbctl(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new(crate::support::orbsim())
        .arg("orbctl")
        .args(args)
        .env("ORBSIM_STATE", root.join("sim"))
        .env("ORBSIM_SCENARIO", root.join("scenario.toml"))
        .stdin(Stdio::null())
        .output()
        .expect("run orbsim")
}

/// `(name, id)` of every machine there is.
fn machines(root: &Path) -> Vec<(String, String)> {
    let out = orbctl(root, &["list", "-f", "json"]);
    assert!(out.status.success(), "list: {}", String::from_utf8_lossy(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("list JSON");
    list.as_array()
        .expect("a list")
        .iter()
        .map(|m| {
            (
                m["name"].as_str().expect("name").to_string(),
                m["id"].as_str().expect("id").to_string(),
            )
        })
        .collect()
}

/// A machine the person made, by id, with every name it had.
#[derive(Debug, Clone)]
struct Mine {
    id: String,
    names: Vec<String>,
    /// The person deleted it.
    deleted: bool,
}

/// The person: `actions` creates, renames and deletes of their own machines (by id), with names
/// that collide with the runs' prefixes and machines. A create goes under a private name first
/// and is then renamed by id, so the person never takes someone else's machine for theirs.
fn person(
    root: PathBuf,
    seed: u64,
    actions: usize,
    pool: Vec<String>,
    done: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    mine: Arc<Mutex<Vec<Mine>>>,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9e37_79b9);
    for n in 0..actions {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let pick = |rng: &mut ChaCha8Rng, mine: &[Mine]| {
            let alive: Vec<usize> = (0..mine.len()).filter(|&i| !mine[i].deleted).collect();
            (!alive.is_empty()).then(|| alive[rng.random_range(0..alive.len())])
        };
        let action = rng.random_range(0..10);
        let target = pool[rng.random_range(0..pool.len())].clone();
        let chosen = pick(&mut rng, &mine.lock().expect("mine"));
        match (action, chosen) {
            (0..=4, _) | (_, None) => {
                let private = format!("person-{n}");
                if orbctl(&root, &["create", "ubuntu:22.04", &private]).status.success() {
                    let out = orbctl(&root, &["info", &private, "-f", "json"]);
                    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("info JSON");
                    let id = v["record"]["id"].as_str().expect("id").to_string();
                    let mut names = vec![private];
                    // Then under the name it is meant to have (taken names stay private).
                    if orbctl(&root, &["rename", &id, &target]).status.success() {
                        names.push(target);
                    }
                    mine.lock().expect("mine").push(Mine {
                        id,
                        names,
                        deleted: false,
                    });
                }
            }
            (5..=7, Some(i)) => {
                let id = mine.lock().expect("mine")[i].id.clone();
                if orbctl(&root, &["rename", &id, &target]).status.success() {
                    mine.lock().expect("mine")[i].names.push(target);
                }
            }
            (_, Some(i)) => {
                let id = mine.lock().expect("mine")[i].id.clone();
                if orbctl(&root, &["delete", "-f", &id]).status.success() {
                    mine.lock().expect("mine")[i].deleted = true;
                }
            }
        }
        done.fetch_add(1, Ordering::SeqCst);
    }
}

struct Running {
    child: Child,
    started: Instant,
    log: PathBuf,
    /// Exit code (`None`: killed or not ended yet).
    ended: Option<Option<i32>>,
    released: bool,
    killed: bool,
}

#[test]
fn concurrent_runs_and_a_person_never_lose_a_foreign_machine_and_one_clean_leaves_none_of_ours() {
    let seed = seed();
    let runs = knob("MULTIRUN_RUNS", 3);
    let actions = knob("MULTIRUN_ACTIONS", 24);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let root_dir = tempfile::tempdir().expect("tempdir");
    let root = root_dir.path().to_path_buf();
    // MULTIRUN_KEEP=1 keeps the directory (journals, logs, the simulator's state) to look into.
    let _root_dir = if std::env::var_os("MULTIRUN_KEEP").is_some() {
        println!("kept in {}", root_dir.keep().display());
        None
    } else {
        Some(root_dir)
    };
    let scenario = root.join("scenario.toml");
    std::fs::write(&scenario, SCENARIO).expect("scenario");
    std::fs::create_dir_all(root.join("sim")).expect("sim state");

    let plans: Vec<RunPlan> = (0..runs).map(|r| plan_run(r, &mut rng)).collect();
    for (r, p) in plans.iter().enumerate() {
        println!(
            "run {r}: prefixes {:?}, machines {:?}, no_wait {}, kill {:?}",
            p.prefixes, p.machines, p.no_wait, p.kill
        );
    }
    // The person's names: the runs' own machine names, prefixed, protected and unowned ones.
    let mut pool: Vec<String> = plans
        .iter()
        .flat_map(|p| p.machines.iter().flat_map(|m| [m.clone(), format!("{m}x")]))
        .collect();
    for w in WORDS {
        for p in PREFIXES {
            pool.push(format!("{p}{w}"));
            pool.push(format!("{p}keep-{w}"));
        }
        pool.push(format!("dev-{w}"));
    }

    let mine = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let person = {
        let (root, pool, done, stop, mine) = (root.clone(), pool.clone(), done.clone(), stop.clone(), mine.clone());
        std::thread::spawn(move || person(root, seed, actions, pool, done, stop, mine))
    };

    let mut running: Vec<Running> = plans
        .iter()
        .enumerate()
        .map(|(r, p)| {
            let dir = root.join(format!("run-{r}"));
            std::fs::create_dir_all(&dir).expect("run dir");
            std::fs::write(
                dir.join("orchestrator.toml"),
                config(&p.prefixes, Some(&p.script), &scenario),
            )
            .expect("config");
            let log = root.join(format!("run-{r}.log"));
            let mut args = vec!["--tier", "hold"];
            if p.no_wait {
                args.push("--no-wait");
            }
            let child = orbtest(&root, &dir, &args)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("log"))
                .spawn()
                .expect("spawn cargo-orbtest");
            Running {
                child,
                started: Instant::now(),
                log,
                ended: None,
                released: false,
                killed: false,
            }
        })
        .collect();

    // Each tier holds its machines until the person has acted during it; then it is released,
    // or its run is SIGKILLed (the script, left behind, is released after the kill).
    let per_hold = (actions / (2 * runs.max(1))).max(1);
    let deadline = Instant::now() + Duration::from_secs(240);
    while running.iter().any(|r| r.ended.is_none()) {
        assert!(
            Instant::now() < deadline,
            "runs still going after 4 minutes (seed {seed}): {}",
            logs(&running)
        );
        for (r, run) in running.iter_mut().enumerate() {
            if run.ended.is_none()
                && let Some(status) = run.child.try_wait().expect("try_wait")
            {
                run.ended = Some(status.code());
            }
            if let Some(Kill::After(after)) = plans[r].kill
                && run.ended.is_none()
                && run.started.elapsed() >= after
            {
                run.child.kill().expect("SIGKILL the run");
                run.ended = Some(run.child.wait().expect("wait").code());
                run.killed = true;
            }
            if run.released || !root.join(format!("held-{r}")).exists() {
                continue;
            }
            let seen = done.load(Ordering::SeqCst);
            let target = (seen + per_hold).min(actions);
            while done.load(Ordering::SeqCst) < target && !person.is_finished() {
                std::thread::sleep(Duration::from_millis(10));
            }
            if matches!(plans[r].kill, Some(Kill::Held)) && run.ended.is_none() {
                run.child.kill().expect("SIGKILL the run");
                run.ended = Some(run.child.wait().expect("wait").code());
                run.killed = true;
            }
            std::fs::write(root.join(format!("go-{r}")), "").expect("go");
            run.released = true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // Runs that never held (--no-wait refused, or ended before their tier): release anything left.
    for r in 0..runs {
        let _ = std::fs::write(root.join(format!("go-{r}")), "");
    }
    stop.store(true, Ordering::SeqCst);
    person.join().expect("the person");

    for (r, run) in running.iter().enumerate() {
        let log = std::fs::read_to_string(&run.log).unwrap_or_default();
        let code = run.ended.flatten();
        println!("run {r}: exit {code:?}");
        if run.killed {
            println!("run {r}: SIGKILLed");
            continue;
        }
        let refused = plans[r].no_wait && code == Some(3) && log.contains("another cargo orbtest run is using");
        assert!(
            code == Some(0) || refused,
            "run {r} exited {code:?} (seed {seed}):\n{log}"
        );
    }

    // One clean, from elsewhere, with no prefixes: only the journals say what was the runs'.
    let cleaner = root.join("cleaner");
    std::fs::create_dir_all(&cleaner).expect("cleaner dir");
    std::fs::write(cleaner.join("orchestrator.toml"), config(&[], None, &scenario)).expect("config");
    let out = orbtest(&root, &cleaner, &["clean"]).output().expect("clean");
    let clean_log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "clean (seed {seed}): {clean_log}");

    // Baselines (automatic ones too: the runs' tests create the same image again and again) are
    // orbtest's cache, kept across runs by design and never cleaned: known by their recorded id.
    let baselines: BTreeSet<String> = std::fs::read(root.join("sim/orbtest/baselines.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.as_object().cloned())
        .map(|o| {
            o.values()
                .filter_map(|b| b["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let after: Vec<(String, String)> = machines(&root)
        .into_iter()
        .filter(|(_, id)| !baselines.contains(id))
        .collect();
    let mine = mine.lock().expect("mine").clone();
    let ids: BTreeSet<&str> = mine.iter().map(|m| m.id.as_str()).collect();
    let covered = |name: &str| {
        !name.contains("keep-")
            && plans
                .iter()
                .flat_map(|p| p.prefixes.iter())
                .any(|p| name.starts_with(p))
    };
    let leaked: Vec<&(String, String)> = after.iter().filter(|(_, id)| !ids.contains(id.as_str())).collect();
    let lost: Vec<&Mine> = mine
        .iter()
        .filter(|m| !m.deleted && !after.iter().any(|(_, id)| id == &m.id))
        .filter(|m| !m.names.iter().any(|n| covered(n)))
        .collect();
    let made = mine.len();
    let reaped = mine
        .iter()
        .filter(|m| !m.deleted && !after.iter().any(|(_, id)| id == &m.id))
        .count();
    println!(
        "{runs} runs, {} person actions, {made} person machines ({reaped} reaped under a prefix), \
         {} machines at the end besides {} baselines",
        done.load(Ordering::SeqCst),
        after.len(),
        baselines.len()
    );
    assert!(
        leaked.is_empty() && lost.is_empty(),
        "seed {seed}: the runs' machines left after clean: {leaked:?}; the person's machines deleted by \
         someone else: {lost:?}\nclean: {clean_log}\n{}",
        logs(&running)
    );
}

fn logs(running: &[Running]) -> String {
    running
        .iter()
        .enumerate()
        .map(|(r, run)| format!("--- run {r}\n{}", std::fs::read_to_string(&run.log).unwrap_or_default()))
        .collect()
}
