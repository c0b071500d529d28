//! orbsim: a faithful simulator of OrbStack's `orbctl`/`orb` for tests and benchmarks.
//!
//! argv is read by the same parser the machines layer uses ([`orbctl::argv`]); the
//! "daemon" is a state file shared by all processes ([`state`], [`daemon`]); time is simulated
//! and scaled ([`clock`], [`scenario`]).

mod admin;
mod archive;
mod clock;
mod commands;
mod config;
mod ctx;
mod daemon;
mod exec;
pub mod scenario;
mod state;
pub mod stats;

use std::io::Write;

use ctx::{Ctx, Reply};
use orbctl::argv;
use orbctl::op::{Flavor, Op};

pub use stats::Stats;

/// The whole program: dispatches on `basename(argv[0])` and returns the exit code.
pub fn main() -> i32 {
    let mut args = std::env::args_os();
    let argv0 = args
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rest: Vec<String> = args.map(|a| a.to_string_lossy().into_owned()).collect();
    main_with(&argv0, &rest)
}

/// orbsim with an explicit argv (cargo-orbtest embeds the simulator as `cargo-orbtest __orbsim`).
pub fn main_with(argv0: &str, rest: &[String]) -> i32 {
    let reply = match Flavor::from_argv0(argv0) {
        Some(flavor) => orbctl_main(flavor, rest),
        None => admin::main(rest),
    };
    // A closed pipe on the other end is the caller's business, not an error of ours.
    let _ = std::io::stdout().write_all(&reply.stdout);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(&reply.stderr);
    reply.code
}

/// orbctl (or orb) behaviour for `args`.
fn orbctl_main(flavor: Flavor, args: &[String]) -> Reply {
    let op = match argv::parse(flavor, args) {
        Ok(op) => op,
        Err(exit) => return exit.into(),
    };
    match &op {
        Op::Help { path } => return Reply::out(argv::help_text(flavor, path)),
        Op::Version => return commands::version(),
        _ => {}
    }
    let ctx = match Ctx::from_env(flavor) {
        Ok(ctx) => ctx,
        Err(reply) => return reply,
    };
    // Decided up front (so the random stream does not depend on what the call does), carried
    // out once the call's work is done and before anything is printed.
    let kill = if ctx.scenario.faults.kill.is_some() {
        ctx.txn(|t| t.draw_kill(op.verb())).ok().flatten()
    } else {
        None
    };
    let reply = dispatch(&ctx, op);
    if let Some(signal) = kill {
        die_from(signal);
    }
    reply
}

/// Ends this process with `signal`, as the OOM killer or a crash would.
fn die_from(signal: i32) -> ! {
    // SAFETY: resetting a disposition and raising a signal have no memory-safety preconditions.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
    // Only reached if the signal was blocked: still die without printing.
    std::process::abort()
}

fn dispatch(ctx: &Ctx, op: Op) -> Reply {
    match op {
        Op::Create { .. } => commands::create(ctx, &op),
        Op::Delete { names, force, all } => commands::delete(ctx, &names, force, all),
        Op::List { running, quiet, format } => commands::list(ctx, running, quiet, format.as_deref()),
        Op::Info { name, format } => commands::info(ctx, &name, format.as_deref()),
        Op::Start { names, all } => commands::start(ctx, &names, all),
        Op::Stop { names, all, .. } => commands::stop(ctx, &names, all),
        Op::Restart { names, all } => commands::restart(ctx, &names, all),
        Op::Clone { src, dst } => commands::clone(ctx, &src, &dst),
        Op::Rename { old, new } => commands::rename(ctx, &old, &new),
        Op::Export { name, path } => archive::export(ctx, &name, &path),
        Op::Import { name, path } => archive::import(ctx, name.as_deref(), &path),
        Op::Run {
            machine,
            user,
            workdir,
            shell,
            path: _,
            command,
        } => exec::run(
            ctx,
            exec::RunCall {
                machine: machine.as_deref(),
                user: user.as_deref(),
                workdir: workdir.as_deref(),
                shell,
                command: &command,
            },
        ),
        Op::Push { machine, paths } => exec::copy(ctx, machine.as_deref(), &paths, true),
        Op::Pull { machine, paths } => exec::copy(ctx, machine.as_deref(), &paths, false),
        Op::Default { name } => commands::default(ctx, name.as_deref()),
        Op::Status => commands::status(ctx),
        Op::Version => commands::version(),
        Op::Logs { name, all } => commands::logs(ctx, &name, all),
        Op::ConfigShow | Op::ConfigGet { .. } => config::show(ctx),
        Op::ConfigSet { key, value } => config::set(ctx, &key, &value),
        Op::Help { path } => Reply::out(argv::help_text(ctx.flavor, &path)),
        Op::Other { command, .. } => Reply::sim(&format!("\"{} {}\" is not simulated", ctx.root(), command.join(" "))),
    }
}
