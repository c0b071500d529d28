//! Which cargo-nextest is installed, and whether it is new enough.

use orbtest_process::Invocation;

use crate::errors::{Error, Result};

/// Oldest cargo-nextest whose config keys and reuse-build flags we rely on.
pub(crate) const MIN_VERSION: NextestVersion = NextestVersion(0, 9, 100);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct NextestVersion(pub u32, pub u32, pub u32);

impl std::fmt::Display for NextestVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl NextestVersion {
    /// Parses `cargo-nextest 0.9.143 (60fa45f63 2026-08-04)`.
    pub(crate) fn parse(output: &str) -> Option<Self> {
        let word = output
            .split_whitespace()
            .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
        let mut parts = word.split(['.', '-', '+']).map(|p| p.parse::<u32>());
        Some(Self(parts.next()?.ok()?, parts.next()?.ok()?, parts.next()?.ok()?))
    }
}

/// Runs `cargo nextest --version`; errors say how to install or upgrade.
pub(crate) fn check_version(cargo: &std::path::Path) -> Result<NextestVersion> {
    let inv = crate::env::scrubbed(Invocation::new(cargo).args(["nextest", "--version"]));
    let output = orbtest_process::capture(&inv, None).map_err(|e| Error::NextestMissing {
        detail: format!("could not run {}: {}", cargo.display(), e.io()),
    })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(Error::NextestMissing {
            detail: crate::report::excerpt(stderr.lines().next().unwrap_or("no output").trim(), 1, 500),
        });
    }
    let version = NextestVersion::parse(&stdout).ok_or_else(|| Error::NextestMissing {
        detail: format!(
            "unrecognised version output {:?}",
            crate::report::excerpt(stdout.trim(), 3, 500)
        ),
    })?;
    if version < MIN_VERSION {
        return Err(Error::NextestTooOld {
            found: version.to_string(),
            required: MIN_VERSION.to_string(),
        });
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nextest_version_lines() {
        assert_eq!(
            NextestVersion::parse("cargo-nextest 0.9.143 (60fa45f63 2026-08-04)\nrelease: 0.9.143"),
            Some(NextestVersion(0, 9, 143))
        );
        assert_eq!(
            NextestVersion::parse("cargo-nextest 0.9.99-b.1"),
            Some(NextestVersion(0, 9, 99))
        );
        assert!(NextestVersion(0, 9, 99) < MIN_VERSION);
        assert_eq!(NextestVersion::parse("nonsense"), None);
    }
}
