//! `[machines.docker]`: how the Docker provider makes each machine image tests ask for.
//!
//! ```toml
//! [machines.docker.images."ubuntu:22.04"]
//! debootstrap = "bookworm"            # or: from = "ubuntu:22.04" (a Docker image)
//! mirror = "http://deb.debian.org/debian"   # debootstrap only; default: the host's apt source
//! packages = ["python3", "iputils-ping"]
//! ```

use std::ops::Range;

use toml::de::DeValue;

use super::diagnostic::Diagnostic;
use super::reader::{Diagnostics, Table};
use super::write::Writer;

const DOCKER_KEYS: &[&str] = &["images"];
const RECIPE_KEYS: &[&str] = &["from", "debootstrap", "mirror", "packages"];

/// `[machines.docker]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerConfig {
    /// `[machines.docker.images."NAME"]`, in file order: NAME is the image tests pass to
    /// `orbctl create` (`ubuntu:22.04`).
    pub images: Vec<ImageRecipe>,
}

/// How one machine image is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecipe {
    /// The image as tests name it (`ubuntu:22.04`).
    pub name: String,
    pub source: ImageSource,
    /// Debian packages added on top of systemd, sudo and the default user.
    pub packages: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// `from = "IMAGE"`: a Docker image the engine has or can pull.
    From(String),
    /// `debootstrap = "SUITE"`: a Debian suite, from `mirror` (default: the host's apt source).
    Debootstrap { suite: String, mirror: Option<String> },
}

impl DockerConfig {
    /// The recipe for `image` as a test names it, matched as orbctl resolves names
    /// (`ubuntu:22.04` and `ubuntu:jammy` are one image).
    pub fn recipe(&self, image: &str) -> Option<&ImageRecipe> {
        let wanted = orbctl::images::canonical(image);
        self.images
            .iter()
            .find(|r| r.name == image || (wanted.is_some() && orbctl::images::canonical(&r.name) == wanted))
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.inline_table("images", |images| {
            for recipe in &self.images {
                images.inline_table(&recipe.name, |r| {
                    match &recipe.source {
                        ImageSource::From(image) => r.string("from", image),
                        ImageSource::Debootstrap { suite, mirror } => {
                            r.string("debootstrap", suite);
                            if let Some(m) = mirror {
                                r.string("mirror", m);
                            }
                        }
                    }
                    r.strings("packages", &recipe.packages);
                });
            }
        });
    }
}

pub(crate) fn read(t: &Table<'_, '_>, diags: &mut Diagnostics) -> DockerConfig {
    t.deny_unknown(DOCKER_KEYS, diags);
    let Some(images) = t.table("images", "[machines.docker.images]".to_string(), diags) else {
        return DockerConfig::default();
    };
    let mut out = DockerConfig::default();
    let mut seen: Vec<(String, String)> = Vec::new();
    for (key, value) in images.table.iter() {
        let name = key.get_ref().to_string();
        let label = format!("[machines.docker.images.\"{name}\"]");
        let DeValue::Table(table) = value.get_ref() else {
            diags.push(
                Diagnostic::new(value.span(), format!("{label} must be a table"))
                    .help(format!("write it as {label} with `from` or `debootstrap` below")),
            );
            continue;
        };
        let Some(canonical) = orbctl::images::canonical(&name).map(|(i, v)| format!("{i}:{v}")) else {
            let mut d = Diagnostic::new(key.span(), format!("`{name}` is not an image orbctl can create"));
            let token = name.split(':').next().unwrap_or_default();
            let distros = orbctl::images::DISTROS.iter().map(|d| d.token);
            d = match super::did_you_mean(token, distros) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help("name it as tests pass it to `orbctl create`, like \"ubuntu:22.04\" or \"debian\""),
            };
            diags.push(d);
            continue;
        };
        if let Some((other, _)) = seen.iter().find(|(_, c)| *c == canonical) {
            diags.push(
                Diagnostic::new(key.span(), format!("`{name}` is the same image as `{other}`"))
                    .help(format!("orbctl resolves both to {canonical}; keep one recipe")),
            );
            continue;
        }
        seen.push((name.clone(), canonical));
        let t = Table::new(table, value.span(), label.clone());
        if let Some(recipe) = read_recipe(&name, &t, diags) {
            out.images.push(recipe);
        }
    }
    out
}

fn read_recipe(name: &str, t: &Table<'_, '_>, diags: &mut Diagnostics) -> Option<ImageRecipe> {
    t.deny_unknown(RECIPE_KEYS, diags);
    let from = t.string("from", diags);
    let debootstrap = t.string("debootstrap", diags);
    let mirror = t.string("mirror", diags);
    let packages = t.string_list("packages", diags).unwrap_or_default();
    for p in &packages {
        if !valid_package(p.get_ref()) {
            diags.push(
                Diagnostic::new(p.span(), format!("`{}` is not a Debian package name", p.get_ref())).help(
                    "one package per entry, like \"python3\" or \"iputils-ping\" (lower case, digits, `+`, `-`, `.`)",
                ),
            );
        }
    }
    for value in [&from, &debootstrap, &mirror].into_iter().flatten() {
        if value.get_ref().trim().is_empty() {
            diags.push(Diagnostic::new(value.span(), "empty value").help("give a value or leave the key out"));
            return None;
        }
    }
    let source = match (from, debootstrap) {
        (Some(f), Some(_)) => {
            diags.push(
                Diagnostic::new(f.span(), format!("{} has both `from` and `debootstrap`", t.name)).help(
                    "give one: `from` starts from a Docker image, `debootstrap` builds a Debian suite (for hosts \
                     without a registry)",
                ),
            );
            return None;
        }
        (None, None) => {
            diags.push(
                Diagnostic::new(t.span.clone(), format!("{} needs `from` or `debootstrap`", t.name)).help(format!(
                    "for example `from = \"{name}\"` (a Docker image), or `debootstrap = \"bookworm\"` (a Debian \
                     suite, no registry needed)"
                )),
            );
            return None;
        }
        (Some(f), None) => {
            if let Some(m) = &mirror {
                diags.push(
                    Diagnostic::new(m.span(), "`mirror` goes with `debootstrap`, not `from`")
                        .help("a Docker image brings its own apt sources; remove `mirror`"),
                );
                return None;
            }
            ImageSource::From(f.into_inner())
        }
        (None, Some(suite)) => {
            let mut ok = true;
            if !suite
                .get_ref()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                diags.push(
                    Diagnostic::new(
                        suite.span(),
                        format!("`{}` is not a Debian suite name", suite.get_ref()),
                    )
                    .help("name a suite like \"bookworm\" or \"trixie\""),
                );
                ok = false;
            }
            if let Some(m) = &mirror
                && !["http://", "https://", "file:/"]
                    .iter()
                    .any(|scheme| m.get_ref().starts_with(scheme))
            {
                diags.push(
                    Diagnostic::new(m.span(), format!("`{}` is not a mirror URL", m.get_ref()))
                        .help("like \"http://deb.debian.org/debian\" (http, https or file)"),
                );
                ok = false;
            }
            if !ok {
                return None;
            }
            ImageSource::Debootstrap {
                suite: suite.into_inner(),
                mirror: mirror.map(|m| m.into_inner()),
            }
        }
    };
    Some(ImageRecipe {
        name: name.to_string(),
        source,
        packages: packages.into_iter().map(|p| p.into_inner()).collect(),
    })
}

/// Debian policy: lower case letters, digits, `+`, `-`, `.`; at least two characters, starting
/// with a letter or digit.
fn valid_package(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.'))
}

/// One place the config names an image machines are made from (`[machines] images`, a
/// baseline's `image`, `[machines.workers] image`).
pub(crate) struct ImageUse {
    pub(crate) image: String,
    pub(crate) span: Range<usize>,
    pub(crate) key: &'static str,
}

/// With the Docker provider every image the config makes machines from needs a recipe.
pub(crate) fn check_uses(docker: &DockerConfig, uses: &[ImageUse], diags: &mut Diagnostics) {
    for u in uses {
        if docker.recipe(&u.image).is_some() {
            continue;
        }
        diags.push(
            Diagnostic::new(u.span.clone(), format!("no recipe for image `{}` ({})", u.image, u.key)).help(format!(
                "provider = \"docker\" builds each machine image from [machines.docker.images.\"{}\"]: add it \
                     with `from = \"IMAGE\"` (a Docker image) or `debootstrap = \"SUITE\"` (a Debian suite)",
                u.image
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::valid_package;

    #[test]
    fn debian_package_names() {
        for ok in ["python3", "iputils-ping", "g++", "libc6.1", "0ad"] {
            assert!(valid_package(ok), "{ok}");
        }
        for bad in ["", "a", "Python3", "two words", "-x", "x_y", "x=1.0"] {
            assert!(!valid_package(bad), "{bad}");
        }
    }
}
