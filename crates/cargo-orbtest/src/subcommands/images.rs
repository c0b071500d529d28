//! `cargo orbtest images [--rebuild] [--no-build]`: the Docker provider's machine images — each
//! `[machines.docker.images."IMAGE"]` recipe, whether the engine has an image built from it,
//! and building the missing ones (as preflight would), with their logs under
//! `<target-dir>/orbtest/images/`.

use crate::cli::GlobalArgs;
use crate::config::ProviderKind;
use crate::errors::{Error, Result};
use crate::exit_code;
use crate::lifecycle::docker;

pub(crate) fn execute(global: &GlobalArgs, rebuild: bool, no_build: bool) -> Result<i32> {
    let (ws, config) = super::project::load(global)?;
    let recipes = &config.machines.docker;
    if config.machines.provider != ProviderKind::Docker && !global.quiet {
        crate::errln!(
            "note: {} uses provider = \"{}\"; these images serve provider = \"docker\"",
            config.path().display(),
            config.machines.provider.as_str()
        );
    }
    if recipes.images.is_empty() {
        crate::outln!(
            "no machine images: add [machines.docker.images.\"IMAGE\"] recipes to {} (see docs/docker.md)",
            config.path().display()
        );
        return Ok(exit_code::PASSED);
    }
    let engine = docker::connect().map_err(|e| Error::Infrastructure(e.to_string()))?;
    let log_dir = ws.orbtest_dir().join("images");
    let mut failed = false;
    for r in &recipes.images {
        let recipe = docker::recipe(r);
        let hash = recipe.hash();
        let state = if no_build {
            match orbdock::images::cached(&engine, &r.name, &recipe) {
                Ok(Some(info)) => format!("built {} ({})", short_id(&info.id), size(info.size)),
                Ok(None) => "missing (preflight builds it)".to_string(),
                Err(e) => {
                    failed = true;
                    format!("cannot tell: {e}")
                }
            }
        } else {
            if let Err(e) = orbtest_machines::files::ensure_private_dir(&log_dir) {
                return Err(Error::Infrastructure(format!(
                    "cannot create {}: {e}",
                    log_dir.display()
                )));
            }
            let log = log_dir.join(format!("{}.log", docker::log_name(&r.name)));
            if !global.quiet {
                crate::errln!("orbtest: checking {} (log {})", r.name, log.display());
            }
            match orbdock::images::ensure(&engine, &r.name, &recipe, rebuild, &log) {
                Ok(info) if info.built => format!("built now {} ({})", short_id(&info.id), size(info.size)),
                Ok(info) => format!("cached {} ({})", short_id(&info.id), size(info.size)),
                Err(e) => {
                    failed = true;
                    format!("FAILED: {e}; see {}", log.display())
                }
            }
        };
        crate::outln!("{}  recipe {}  {}", r.name, &hash[..hash.len().min(12)], state);
    }
    Ok(if failed {
        exit_code::INFRASTRUCTURE
    } else {
        exit_code::PASSED
    })
}

fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

fn size(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}
