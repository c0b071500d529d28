//! What OrbStack knows about distros, versions, architectures and machine names (spec §2.3–2.4,
//! the Aug-2025 tables).

/// One CLI distro token.
pub struct Distro {
    pub token: &'static str,
    /// The image name in JSON (`almalinux` for `alma`).
    pub image: &'static str,
    pub latest: &'static str,
    /// Versions the simulated image server has (after alias resolution).
    pub versions: &'static [&'static str],
    /// Number → codename.
    pub aliases: &'static [(&'static str, &'static str)],
    pub cloud_init: bool,
}

const fn d(
    token: &'static str,
    image: &'static str,
    latest: &'static str,
    versions: &'static [&'static str],
    aliases: &'static [(&'static str, &'static str)],
    cloud_init: bool,
) -> Distro {
    Distro {
        token,
        image,
        latest,
        versions,
        aliases,
        cloud_init,
    }
}

pub static DISTROS: &[Distro] = &[
    d("alma", "almalinux", "9", &["8", "9", "10"], &[], true),
    d(
        "alpine",
        "alpine",
        "3.22",
        &["3.18", "3.19", "3.20", "3.21", "3.22", "edge"],
        &[],
        true,
    ),
    d("arch", "archlinux", "current", &["current"], &[], false),
    d("centos", "centos", "9-Stream", &["9-Stream", "10-Stream"], &[], true),
    d(
        "debian",
        "debian",
        "bookworm",
        &["buster", "bullseye", "bookworm", "trixie", "forky", "sid"],
        &[
            ("10", "buster"),
            ("11", "bullseye"),
            ("12", "bookworm"),
            ("13", "trixie"),
            ("14", "forky"),
        ],
        true,
    ),
    d(
        "devuan",
        "devuan",
        "daedalus",
        &["chimaera", "daedalus", "excalibur"],
        &[("4", "chimaera"), ("5", "daedalus")],
        true,
    ),
    d("fedora", "fedora", "42", &["40", "41", "42", "rawhide"], &[], true),
    d("gentoo", "gentoo", "current", &["current"], &[], false),
    d("kali", "kali", "current", &["current"], &[], true),
    d(
        "nixos",
        "nixos",
        "25.05",
        &["24.05", "24.11", "25.05", "unstable"],
        &[],
        false,
    ),
    d(
        "openeuler",
        "openeuler",
        "25.03",
        &["22.03", "24.03", "25.03"],
        &[],
        true,
    ),
    d(
        "opensuse",
        "opensuse",
        "15.6",
        &["15.5", "15.6", "tumbleweed"],
        &[],
        true,
    ),
    d("oracle", "oracle", "9", &["8", "9"], &[], true),
    d("rocky", "rockylinux", "9", &["8", "9", "10"], &[], true),
    d(
        "ubuntu",
        "ubuntu",
        "plucky",
        &["focal", "jammy", "noble", "oracular", "plucky", "questing"],
        &[
            ("20.04", "focal"),
            ("22.04", "jammy"),
            ("24.04", "noble"),
            ("24.10", "oracular"),
            ("25.04", "plucky"),
        ],
        true,
    ),
    d("void", "voidlinux", "current", &["current"], &[], false),
];

/// `DISTRO[:VERSION]` as orbctl resolves it: (image name, version the JSON shows), e.g.
/// `ubuntu:22.04` → (`ubuntu`, `jammy`), `alma` → (`almalinux`, `9`). `None` for an unknown distro.
pub fn canonical(spec: &str) -> Option<(&'static str, String)> {
    let (token, version) = match spec.split_once(':') {
        Some((t, v)) => (t, Some(v)),
        None => (spec, None),
    };
    let d = distro(token)?;
    let version = version
        .filter(|v| !v.is_empty())
        .map_or_else(|| d.latest.to_string(), |v| d.resolve_version(v));
    Some((d.image, version))
}

pub fn distro(token: &str) -> Option<&'static Distro> {
    DISTROS.iter().find(|d| d.token == token)
}

pub fn distro_by_image(image: &str) -> Option<&'static Distro> {
    DISTROS.iter().find(|d| d.image == image)
}

impl Distro {
    /// The version the JSON shows (`22.04` → `jammy`).
    pub fn resolve_version(&self, v: &str) -> String {
        self.aliases
            .iter()
            .find(|(num, _)| *num == v)
            .map(|(_, code)| code.to_string())
            .unwrap_or_else(|| v.to_string())
    }

    pub fn has_version(&self, v: &str) -> bool {
        self.versions.contains(&v)
    }

    /// `image.variant` in the record.
    pub fn variant(&self, cloud_init: bool) -> &'static str {
        if cloud_init {
            "cloud"
        } else if self.token == "gentoo" {
            "openrc"
        } else {
            "default"
        }
    }

    /// Rough unpacked size, for `info`'s `disk_size`.
    pub fn base_disk_bytes(&self) -> u64 {
        match self.token {
            "alpine" => 41_943_040,
            "ubuntu" => 962_924_544,
            "debian" | "devuan" => 683_671_552,
            "nixos" | "gentoo" => 2_147_483_648,
            _ => 847_974_400,
        }
    }
}

/// `--arch` choices on the simulated Mac.
pub(crate) fn archs(host_arch: &str) -> &'static [&'static str] {
    if host_arch == "amd64" {
        &["amd64", "i386"]
    } else {
        &["arm64", "amd64"]
    }
}

const RESERVED: &[&str] = &["default", "vm", "host", "services", "gateway", "k8s", "docker"];

/// OrbStack's rule: `^[a-zA-Z0-9][a-zA-Z0-9-.]+$` (so at least two characters, no `_`), and
/// not a reserved name.
pub fn valid_machine_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'.')
        && !RESERVED.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["ab", "web-1", "a.b", "Test9", &"a".repeat(100)] {
            assert!(valid_machine_name(ok), "{ok}");
        }
        for bad in ["", "a", "a_b", "-ab", ".ab", "docker", "default", "k8s", "a b", "ünï"] {
            assert!(!valid_machine_name(bad), "{bad}");
        }
    }

    #[test]
    fn versions_and_images() {
        let u = distro("ubuntu").unwrap();
        assert_eq!(u.resolve_version("22.04"), "jammy");
        assert_eq!(u.resolve_version("noble"), "noble");
        assert_eq!(distro("alma").unwrap().image, "almalinux");
        assert_eq!(distro("gentoo").unwrap().variant(false), "openrc");
        assert!(distro("invalid").is_none());
    }
}

#[cfg(test)]
mod canonical_tests {
    use super::canonical;

    #[test]
    fn version_aliases_and_defaults_resolve() {
        assert_eq!(canonical("ubuntu:22.04"), Some(("ubuntu", "jammy".to_string())));
        assert_eq!(canonical("ubuntu:jammy"), canonical("ubuntu:22.04"));
        assert_eq!(canonical("alma"), Some(("almalinux", "9".to_string())));
        assert_eq!(canonical("nosuch:1"), None);
    }
}
