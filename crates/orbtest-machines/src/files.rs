//! Files we write: replaced whole or not at all (a temporary file in the same directory,
//! synced, then renamed over the old one; a failure leaves the previous copy intact), and
//! directories private to the user.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A JSON file a run wrote that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ReadJsonError {
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not valid: {source}", .path.display())]
    Invalid {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl ReadJsonError {
    /// The file is not there.
    pub(crate) fn is_missing(&self) -> bool {
        matches!(self, ReadJsonError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Reads the JSON file at `path`.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ReadJsonError> {
    let bytes = fs::read(path).map_err(|source| ReadJsonError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| ReadJsonError::Invalid {
        path: path.to_path_buf(),
        source,
    })
}

/// Creates `dir` (and missing parents) readable only by the user. A directory that already
/// exists keeps its mode: it may be someone else's (`--report-dir /tmp`), and stripping its
/// sticky bit or opening it up is not ours to do.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// [`create_private_dir`] for a directory that is orbtest's own by its place (a provider's
/// state, a run's directory): made private again if it was loosened.
pub fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    create_private_dir(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

/// Creates (or truncates) a file only the user can read: a log or report orbtest writes.
pub fn create_private_file(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// Opens a file for appending, creating it readable only by the user.
pub fn append_private_file(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new().append(true).create(true).mode(0o600).open(path)
}

pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".orbtest-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(contents)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_files_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn an_existing_directory_keeps_its_mode_and_new_ones_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
        create_private_dir(&shared).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&shared), 0o1777, "not ours: left alone, sticky bit and all");
        let new = shared.join("a/b");
        create_private_dir(&new).unwrap();
        assert_eq!((mode(&shared.join("a")), mode(&new)), (0o700, 0o700));
        ensure_private_dir(&shared).unwrap();
        assert_eq!(mode(&shared), 0o700, "ours by place: tightened");
        write_atomic(&new.join("f"), b"x").unwrap();
        create_private_file(&new.join("g")).unwrap();
        append_private_file(&new.join("h")).unwrap();
        for f in ["f", "g", "h"] {
            assert_eq!(mode(&new.join(f)), 0o600, "{f}");
        }
    }

    #[test]
    fn failure_keeps_the_old_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        write_atomic(&path, b"old").unwrap();
        // A non-empty directory in the way makes the rename fail.
        let blocked = dir.path().join("blocked");
        std::fs::create_dir(&blocked).unwrap();
        std::fs::write(blocked.join("inner"), b"").unwrap();
        assert!(write_atomic(&blocked, b"new").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
    }
}
