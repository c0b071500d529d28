//! orbctl dispatches on `basename(argv[0])`: the same program is `orbctl` and `orb`. These
//! links are how a shim or a simulator stands in for it.

use std::path::{Path, PathBuf};

/// Makes `dir/orbctl` and `dir/orb` symlinks to `target` (replacing old ones) and returns the
/// `orbctl` path.
pub fn link_orbctl(target: &Path, dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let target = std::fs::canonicalize(target)?;
    for name in ["orbctl", "orb"] {
        let link = dir.join(name);
        match std::fs::symlink_metadata(&link) {
            Ok(_) => std::fs::remove_file(&link)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::os::unix::fs::symlink(&target, &link)?;
    }
    Ok(dir.join("orbctl"))
}
