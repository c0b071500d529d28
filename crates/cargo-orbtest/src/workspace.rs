//! The cargo workspace being tested: its root, target dir and package graph (cargo_metadata).

use orbtest_process::Invocation;
use std::path::{Path, PathBuf};

use crate::errors::{Error, Result};

#[derive(Debug, Clone)]
pub(crate) struct Workspace {
    pub root: PathBuf,
    /// The `cargo metadata` output as cargo wrote it, handed to nextest (`--cargo-metadata`) so
    /// each tier skips re-reading the package graph.
    pub metadata_json: String,
    /// The cargo to run: `$CARGO` when we run as `cargo orbtest`, else `cargo` on PATH.
    pub cargo: PathBuf,
    /// Whether this is a cargo workspace. A directory whose tiers all run commands (a Python
    /// suite, say) needs none: its root is the config file's directory.
    pub is_cargo: bool,
    /// Where runs and reports live: `<target-dir>/orbtest`, or `<root>/.orbtest` without cargo.
    orbtest_dir: PathBuf,
    /// The workspace's members: package name and the directory of its Cargo.toml.
    pub members: Vec<(String, PathBuf)>,
}

pub(crate) fn cargo_program() -> PathBuf {
    std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from)
}

impl Workspace {
    /// Reads the workspace containing `manifest_path` (or the current directory).
    pub(crate) fn discover(manifest_path: Option<&Path>) -> Result<Self> {
        let cargo = cargo_program();
        // The same graph nextest asks cargo for, so filtersets see the same packages.
        let mut inv = Invocation::new(&cargo).args(["metadata", "--format-version", "1", "--all-features"]);
        if let Some(m) = manifest_path {
            inv = inv.arg("--manifest-path").arg(m);
        }
        let inv = crate::env::scrubbed(inv);
        let shown = manifest_path.map_or_else(
            || {
                std::env::current_dir()
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|_| ".".into())
            },
            |m| m.display().to_string(),
        );
        let output = orbtest_process::capture(&inv, None).map_err(|e| Error::Workspace {
            manifest: shown.clone(),
            stderr: format!("could not run {}: {}", cargo.display(), e.io()),
        })?;
        if !output.success() {
            return Err(Error::Workspace {
                manifest: shown,
                stderr: crate::report::excerpt(String::from_utf8_lossy(&output.stderr).trim_end(), 30, 4_000),
            });
        }
        let metadata_json = String::from_utf8(output.stdout).map_err(|_| Error::Workspace {
            manifest: shown.clone(),
            stderr: "cargo metadata printed invalid UTF-8".into(),
        })?;
        let metadata = cargo_metadata::MetadataCommand::parse(&metadata_json).map_err(|e| Error::Workspace {
            manifest: shown,
            stderr: format!("could not parse cargo metadata: {e}"),
        })?;
        let members = metadata
            .workspace_packages()
            .iter()
            .filter_map(|p| {
                let dir = p.manifest_path.parent()?.as_std_path().to_path_buf();
                Some((p.name.to_string(), dir))
            })
            .collect();
        let target_dir = metadata.target_directory.into_std_path_buf();
        Ok(Self {
            root: metadata.workspace_root.into_std_path_buf(),
            orbtest_dir: target_dir.join("orbtest"),
            metadata_json,
            cargo,
            is_cargo: true,
            members,
        })
    }

    /// A directory that is not a cargo workspace, for configs whose tiers all run commands:
    /// runs and reports go to `<root>/.orbtest/` (`runs/<id>/`, `latest/`).
    pub(crate) fn plain(root: &Path) -> Self {
        let orbtest_dir = root.join(".orbtest");
        Self {
            root: root.to_path_buf(),
            metadata_json: String::new(),
            cargo: cargo_program(),
            is_cargo: false,
            orbtest_dir,
            members: Vec::new(),
        }
    }

    /// The member package whose directory holds `dir` (the innermost), unless that is the
    /// workspace root: cargo tests only that package when run there.
    pub(crate) fn member_at(&self, dir: &Path) -> Option<&str> {
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let root = std::fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone());
        self.members
            .iter()
            .filter_map(|(name, member)| {
                let member = std::fs::canonicalize(member).unwrap_or_else(|_| member.clone());
                (member != root && dir.starts_with(&member)).then_some((name, member.components().count()))
            })
            .max_by_key(|(_, depth)| *depth)
            .map(|(name, _)| name.as_str())
    }

    /// Where runs and reports live: `<target-dir>/orbtest` (`<root>/.orbtest` without cargo).
    pub(crate) fn orbtest_dir(&self) -> PathBuf {
        self.orbtest_dir.clone()
    }
}
