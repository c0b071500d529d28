//! One module per subcommand. Each turns parsed arguments into work and returns the exit code.

mod clean;
mod doctor;
mod init;
mod list;
mod report;
mod run;

use std::ffi::OsString;

use crate::cli::{self, Command, GlobalArgs};
use crate::config::{self, Config, LoadError};
use crate::errors::{Error, Result};
use crate::exit_code;
use crate::workspace::Workspace;

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
        Some(Command::List { ref build_args }) => list::execute(&cli.global, build_args),
        Some(Command::Init { force }) => init::execute(&cli.global, force),
        Some(Command::Clean { dry_run, no_wait }) => clean::execute(&cli.global, dry_run, no_wait),
        Some(Command::Doctor { json, fix }) => doctor::execute(&cli.global, json, fix),
        Some(Command::Report(ref args)) => report::execute(&cli.global, args),
    };
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            print_error(&e, color);
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

pub(crate) fn print_error(e: &Error, color: bool) {
    let label = console::style("error:").red().bold().force_styling(color);
    match e {
        // Diagnostics carry their own location lines; label each one.
        Error::Config(LoadError::Invalid(ce)) => {
            let text = ce.to_string();
            for block in text.split("\n\n") {
                eprintln!("{label} {}", block.trim_end());
            }
        }
        _ => eprintln!("{label} {e}"),
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ORBTEST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}

/// The workspace and its config, as every subcommand that runs tests needs them.
///
/// Outside a cargo workspace (and without `--manifest-path`), a config whose tiers all run
/// commands still works: `--config`, else the nearest `orchestrator.toml` in the current
/// directory or above; its directory is the root and runs go to `<root>/.orbtest/`.
pub(crate) fn load(global: &GlobalArgs) -> Result<(Workspace, Config)> {
    match Workspace::discover(global.manifest_path.as_deref()) {
        Ok(ws) => {
            let path = config_path(global, &ws);
            let config = config::load(&path)?;
            Ok((ws, config))
        }
        Err(e) if global.manifest_path.is_none() => without_cargo(global, e),
        Err(e) => Err(e),
    }
}

fn without_cargo(global: &GlobalArgs, cargo_error: Error) -> Result<(Workspace, Config)> {
    let found = global.config.clone().or_else(|| {
        let cwd = std::env::current_dir().ok()?;
        cwd.ancestors().map(|d| d.join(config::FILE_NAME)).find(|p| p.is_file())
    });
    let Some(path) = found else {
        return Err(cargo_error);
    };
    let config = config::load(&path)?;
    let nextest: Vec<&str> = config
        .tiers
        .iter()
        .filter(|t| !t.is_command())
        .map(|t| t.name.as_str())
        .collect();
    if !nextest.is_empty() {
        return Err(match cargo_error {
            Error::Workspace { manifest, stderr } => Error::Workspace {
                manifest,
                stderr: format!(
                    "{stderr}\n  = note: tiers {} of {} run nextest, which needs a cargo workspace; a config \
                     whose tiers all run a `command` works anywhere",
                    nextest.join(", "),
                    path.display()
                ),
            },
            other => other,
        });
    }
    let root = std::fs::canonicalize(config.dir()).unwrap_or_else(|_| config.dir());
    Ok((Workspace::plain(&root), config))
}

pub(crate) fn config_path(global: &GlobalArgs, ws: &Workspace) -> std::path::PathBuf {
    global.config.clone().unwrap_or_else(|| ws.root.join(config::FILE_NAME))
}
