//! Finding what a subcommand works on: the cargo workspace (or, without cargo, the config's
//! directory) and its orchestrator.toml.

use crate::cli::GlobalArgs;
use crate::config::{self, Config};
use crate::errors::{Error, Result};
use crate::workspace::Workspace;

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

/// The package a run or listing is narrowed to because it was started in (or pointed at, with
/// `--manifest-path`) a member's directory, as cargo does; `None` with `--workspace`, `-p`, or
/// at the workspace root. `args` are nextest's arguments so far (flags and forwarded ones).
pub(crate) fn member_package(global: &GlobalArgs, ws: &Workspace, args: &[String]) -> Option<String> {
    let chosen = args.iter().any(|a| {
        matches!(a.as_str(), "--workspace" | "--all" | "-p" | "--package" | "--exclude")
            || a.starts_with("--package=")
            || a.starts_with("--exclude=")
            || (a.starts_with("-p") && a.len() > 2)
    });
    if chosen || !ws.is_cargo {
        return None;
    }
    let dir = match &global.manifest_path {
        Some(m) => m.parent().map(std::path::Path::to_path_buf)?,
        None => std::env::current_dir().ok()?,
    };
    ws.member_at(&dir).map(str::to_string)
}

/// nextest's arguments for a run or listing: the flags given without `--`, then those after
/// it, then `-p PACKAGE` when started in a member's directory (said on stderr unless quiet).
pub(crate) fn nextest_args(
    global: &GlobalArgs,
    ws: &Workspace,
    flags: &crate::cli::NextestFlags,
    rest: &[String],
) -> Vec<String> {
    let mut args = flags.to_args();
    args.extend(rest.iter().cloned());
    if let Some(package) = member_package(global, ws, &args) {
        if !global.quiet {
            crate::errln!(
                "orbtest: testing package `{package}`, whose directory this is (--workspace tests every package)"
            );
        }
        args.extend(["-p".to_string(), package]);
    }
    args
}
