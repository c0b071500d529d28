//! The program behind `cargo orbtest`: argv in, exit code out. Parses the command line,
//! dispatches to a subcommand, and prints the error that ended it.

use std::ffi::OsString;

use super::{clean, doctor, flaky, images, init, list, report, run, shard};
use crate::cli::{self, Command};
use crate::exit_code;

/// The whole program: argv in, exit code out.
pub fn main(args: Vec<OsString>) -> i32 {
    init_tracing();
    let cli = match cli::parse(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit_code::USAGE
            } else {
                exit_code::PASSED
            };
        }
    };
    let color = cli.global.color.enabled();
    let result = match cli.command {
        None => run::execute(&cli.global, &cli.run),
        Some(Command::Run(ref args)) => run::execute(&cli.global, args),
        Some(Command::List(ref args)) => list::execute(&cli.global, args),
        Some(Command::Init { force }) => init::execute(&cli.global, force),
        Some(Command::Clean { dry_run, kept, no_wait }) => clean::execute(
            &cli.global,
            crate::lifecycle::cleanup::ReapOptions { dry_run, kept },
            no_wait,
        ),
        Some(Command::Doctor { json, fix }) => doctor::execute(&cli.global, json, fix),
        Some(Command::Images { rebuild, no_build }) => images::execute(&cli.global, rebuild, no_build),
        Some(Command::Report(ref args)) => report::execute(&cli.global, args),
        Some(Command::Shard(ref args)) => shard::execute(&cli.global, args),
        Some(Command::Flaky(ref args)) => flaky::execute(&cli.global, args),
    };
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            crate::view::print_error(&e, color);
            e.exit_code()
        }
    };
    tracing::debug!(
        peak_rss_kib = peak_rss_kib(),
        "orbtest's own peak memory (children excluded)"
    );
    code
}

/// This process's peak resident set size; children (cargo, nextest) are not included.
fn peak_rss_kib() -> i64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return -1;
    }
    // Linux reports KiB, macOS bytes.
    if cfg!(target_os = "macos") {
        usage.ru_maxrss / 1024
    } else {
        usage.ru_maxrss
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env(crate::env::LOG)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}
