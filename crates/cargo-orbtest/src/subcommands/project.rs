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
