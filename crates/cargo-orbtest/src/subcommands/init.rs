//! `cargo orbtest init`: write a commented starter orchestrator.toml.

use crate::cli::GlobalArgs;
use crate::config::STARTER;
use crate::errors::{Error, Result};
use crate::exit_code;
use crate::workspace::Workspace;
use orbtest_machines::files::write_atomic;

pub fn execute(global: &GlobalArgs, force: bool) -> Result<i32> {
    let ws = Workspace::discover(global.manifest_path.as_deref())?;
    let path = super::project::config_path(global, &ws);
    if path.exists() && !force {
        return Err(Error::Usage(format!(
            "{} already exists\n  = help: pass --force to replace it with the starter config",
            path.display()
        )));
    }
    write_atomic(&path, STARTER.as_bytes()).map_err(|e| Error::io("cannot write", &path, e))?;
    crate::errln!(
        "wrote {}: edit the tiers, then run `cargo orbtest list` to see what each selects",
        path.display()
    );
    Ok(exit_code::PASSED)
}
