//! `orbsim` under its own name: commands for tests, benchmarks and the orchestrator.

use crate::ctx::{Ctx, Reply};
use orbctl::op::Flavor;
use orbctl::output::to_orbctl_json;

const USAGE: &str = "\
orbsim: a simulator of OrbStack's orbctl/orb for tests (a simulator, not a sandbox).

Use it through links named orbctl or orb, or:
  orbsim link DIR        create DIR/orbctl and DIR/orb pointing at this binary
  orbsim stats           print counters as JSON (machines, creates, peaks, memory, swap)
  orbsim reset           delete every simulated machine and counter in ORBSIM_STATE
  orbsim orbctl ARGS...  behave as orbctl (orbsim orb ARGS... as orb)
  orbsim version         print orbsim's version

Environment:
  ORBSIM_STATE     state directory (required; created if missing)
  ORBSIM_SCENARIO  scenario file (TOML): latency, faults, memory, outages, time scale, seed
";

pub(crate) fn main(args: &[String]) -> Reply {
    match args.first().map(String::as_str) {
        None | Some("help" | "-h" | "--help") => Reply::out(USAGE),
        Some("version" | "--version") => Reply::out(format!("orbsim {}\n", env!("CARGO_PKG_VERSION"))),
        Some("link") => match args.get(1) {
            Some(dir) if args.len() == 2 => link(dir),
            _ => Reply::err("usage: orbsim link DIR\n", 2),
        },
        Some("stats") if args.len() == 1 => stats(),
        Some("reset") if args.len() == 1 => reset(),
        Some("orbctl") => crate::orbctl_main(Flavor::Orbctl, &args[1..]),
        Some("orb") => crate::orbctl_main(Flavor::Orb, &args[1..]),
        Some(other) => Reply::err(format!("orbsim: unknown command {other:?}\n\n{USAGE}"), 2),
    }
}

fn link(dir: &str) -> Reply {
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return Reply::sim(&format!("cannot find my own executable: {e}")),
    };
    match orbctl::links::link_orbctl(&exe, std::path::Path::new(dir)) {
        Ok(orbctl) => Reply::out(format!("{}\n", orbctl.display())),
        Err(e) => Reply::sim(&format!("cannot create links in {dir}: {e}")),
    }
}

fn stats() -> Reply {
    let ctx = match Ctx::from_env(Flavor::Orbctl) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match ctx.txn(|t| t.stats()) {
        Ok(s) => Reply::out(to_orbctl_json(&s)),
        Err(r) => r,
    }
}

fn reset() -> Reply {
    let ctx = match Ctx::from_env(Flavor::Orbctl) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match ctx.store.wipe() {
        Ok(()) => Reply::ok(),
        Err(e) => Reply::sim(&e.to_string()),
    }
}
