//! Machine images: Docker images that machines boot, built from a [`Recipe`] and cached by the
//! recipe's hash.
//!
//! * `debootstrap = "bookworm"`: a Debian suite from a mirror (default: the host's apt source;
//!   `mirror` overrides), packed with `tar` and loaded with the engine's import.
//! * `from = "<docker image>"`: a local Docker image (there may be no registry, so a missing
//!   base image is an error, never a pull).
//!
//! Both get what a machine needs (systemd, systemd-sysv, dbus, sudo, iproute2, iputils-ping,
//! passwordless sudo for the `sudo` group) plus the recipe's `packages`. Images carry the labels
//! `dev.orbtest.kind=machine-image`, `dev.orbtest.image=<name>` and `dev.orbtest.recipe=<hash>`
//! and are tagged `orbtest/machine:<name>-<hash>`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CommitContainerOptions, CreateContainerOptions, CreateImageOptions, ListImagesOptions, RemoveContainerOptions,
    StartContainerOptions, WaitContainerOptions,
};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::engine::Engine;
use crate::{env, labels};

/// What every machine image holds besides the recipe's packages.
pub const BASE_PACKAGES: &[&str] = &["systemd", "systemd-sysv", "dbus", "sudo", "iproute2", "iputils-ping"];
/// Bumped when what a build does changes, so cached images are rebuilt.
const RECIPE_FORMAT: u32 = 1;
/// The sudoers rule machines get.
const SUDOERS: &str = "%sudo ALL=(ALL:ALL) NOPASSWD: ALL\n";

/// How to make one machine image (`[machines.docker.images."NAME"]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Recipe {
    /// A local Docker image to add to.
    pub from: Option<String>,
    /// A Debian suite to bootstrap.
    pub debootstrap: Option<String>,
    /// The Debian mirror for `debootstrap` (default: the host's apt source).
    pub mirror: Option<String>,
    /// Extra packages.
    pub packages: Vec<String>,
}

impl Recipe {
    /// A stable hash of what the recipe makes (hex, 64 characters). Package order, repeats and
    /// packages every machine image holds anyway ([`BASE_PACKAGES`]) do not change it.
    pub fn hash(&self) -> String {
        let mut packages: Vec<String> = self
            .packages
            .iter()
            .filter(|p| !BASE_PACKAGES.contains(&p.as_str()))
            .cloned()
            .collect();
        packages.sort();
        packages.dedup();
        let canon = serde_json::json!({
            "format": RECIPE_FORMAT,
            "from": self.from,
            "debootstrap": self.debootstrap,
            "mirror": self.mirror,
            "packages": packages,
            "base": BASE_PACKAGES,
        });
        let digest = Sha256::digest(canon.to_string().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn packages(&self) -> Vec<String> {
        let mut v: Vec<String> = BASE_PACKAGES.iter().map(|s| s.to_string()).collect();
        for p in &self.packages {
            if !v.contains(p) {
                v.push(p.clone());
            }
        }
        v
    }
}

/// A machine image on the engine.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImageInfo {
    /// The image name it serves (`ubuntu:22.04`).
    pub name: String,
    /// The Docker image id (`sha256:...`).
    pub id: String,
    /// Its recipe hash.
    pub recipe: String,
    /// Its tag (`orbtest/machine:ubuntu-22.04-<hash>`).
    pub tag: String,
    /// Creation time, seconds since the epoch.
    pub created: i64,
    /// Bytes.
    pub size: u64,
    /// Whether this call built it (false: it was there).
    pub built: bool,
}

/// Why a machine image could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("the recipe for '{0}' needs exactly one of `from` or `debootstrap`")]
    BadRecipe(String),
    #[error(
        "base image '{0}' is not on this Docker engine (orbtest never pulls: there may be no \
         registry); load or build it first (`docker load`, `docker build`), or use `debootstrap`"
    )]
    MissingBase(String),
    #[error("debootstrap is not installed (apt-get install debootstrap)")]
    NoDebootstrap,
    #[error("debootstrap needs root: build the image as root (or use a `from` recipe)")]
    NotRoot,
    #[error("{step} failed (exit {code}); see {log}{tail}")]
    Step {
        step: String,
        code: String,
        log: PathBuf,
        /// The log's last lines (with a leading newline), or empty.
        tail: String,
    },
    #[error("cannot write the build log {path}: {source}")]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    #[error("docker engine: {0}")]
    Engine(#[from] bollard::errors::Error),
}

fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// The tag of the image `name` built from a recipe with `hash`.
pub fn tag_for(name: &str, hash: &str) -> String {
    format!("orbtest/machine:{}-{}", slug(name), &hash[..12.min(hash.len())])
}

fn label_filter(pairs: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
    let values = pairs
        .iter()
        .map(|(k, v)| {
            if v.is_empty() {
                k.to_string()
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    HashMap::from([("label".to_string(), values)])
}

/// Every machine image on the engine, newest first.
pub fn list(engine: &Engine) -> Result<Vec<ImageInfo>, ImageError> {
    let opts = ListImagesOptions {
        filters: Some(label_filter(&[(labels::KIND, labels::KIND_MACHINE_IMAGE)])),
        ..Default::default()
    };
    let images = engine.block_on(engine.docker.list_images(Some(opts)))?;
    let mut v: Vec<ImageInfo> = images
        .into_iter()
        .map(|i| {
            let name = i.labels.get(labels::IMAGE).cloned().unwrap_or_default();
            let recipe = i.labels.get(labels::RECIPE).cloned().unwrap_or_default();
            let tag = i
                .repo_tags
                .iter()
                .find(|t| t.starts_with("orbtest/machine:"))
                .cloned()
                .unwrap_or_default();
            ImageInfo {
                name,
                id: i.id,
                recipe,
                tag,
                created: i.created,
                size: u64::try_from(i.size).unwrap_or(0),
                built: false,
            }
        })
        .collect();
    v.sort_by_key(|i| std::cmp::Reverse(i.created));
    Ok(v)
}

/// Whether two image names mean the same machine image (`ubuntu:22.04` = `ubuntu:jammy`).
pub fn same_image(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (orbctl::images::canonical(a), orbctl::images::canonical(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// The Docker image `create IMAGE` boots: from `ORBTEST_DOCKER_IMAGES`, else the newest local
/// machine image labelled with that name. `None`: there is none.
pub fn resolve(engine: &Engine, image: &str) -> Result<Option<String>, ImageError> {
    if let Some(path) = std::env::var_os(env::DOCKER_IMAGES).filter(|p| !p.is_empty()) {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ImageError::Io(format!("read {}", Path::new(&path).display()), e))?;
        let map: HashMap<String, String> = serde_json::from_str(&text).map_err(|e| {
            ImageError::Io(
                format!("{} is not a JSON object of image ids", Path::new(&path).display()),
                std::io::Error::other(e),
            )
        })?;
        if let Some(id) = map.get(image) {
            return Ok(Some(id.clone()));
        }
        if let Some((_, id)) = map.iter().find(|(k, _)| same_image(k, image)) {
            return Ok(Some(id.clone()));
        }
    }
    Ok(list(engine)?
        .into_iter()
        .find(|i| same_image(&i.name, image))
        .map(|i| i.id))
}

/// The cached image for `name` built from `recipe`, if there is one.
pub fn cached(engine: &Engine, name: &str, recipe: &Recipe) -> Result<Option<ImageInfo>, ImageError> {
    let hash = recipe.hash();
    Ok(list(engine)?.into_iter().find(|i| i.recipe == hash && i.name == name))
}

/// Builds the machine image `name` unless one from the same recipe is there (or `rebuild`).
/// The build's output goes to `log`.
pub fn ensure(
    engine: &Engine,
    name: &str,
    recipe: &Recipe,
    rebuild: bool,
    log: &Path,
) -> Result<ImageInfo, ImageError> {
    if !rebuild && let Some(found) = cached(engine, name, recipe)? {
        return Ok(found);
    }
    let hash = recipe.hash();
    // Builds of one recipe on one host take turns, so processes that need the same image at
    // once build it once.
    let _turn = BuildLock::take(&hash)?;
    if !rebuild && let Some(found) = cached(engine, name, recipe)? {
        return Ok(found);
    }
    let tag = tag_for(name, &hash);
    let mut logf = open_log(log)?;
    let _ = writeln!(logf, "# machine image '{name}' (recipe {hash}) -> {tag}");
    match (&recipe.from, &recipe.debootstrap) {
        (Some(base), None) => build_from(engine, name, recipe, base, &tag, &hash, log, &mut logf)?,
        (None, Some(suite)) => build_debootstrap(engine, name, recipe, suite, &tag, &hash, log, &mut logf)?,
        _ => return Err(ImageError::BadRecipe(name.to_string())),
    }
    let mut info = cached(engine, name, recipe)?.ok_or_else(|| ImageError::Step {
        step: "finding the image just built".into(),
        code: "-".into(),
        log: log.to_path_buf(),
        tail: log_tail(log),
    })?;
    info.built = true;
    Ok(info)
}

/// The last lines of a build log, indented, after a newline (empty when there are none).
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(5)..];
    if tail.is_empty() {
        return String::new();
    }
    tail.iter().map(|l| format!("\n  {l}")).collect()
}

/// A host-wide lock on building one recipe (released when dropped).
struct BuildLock {
    /// Held open for the lock; closing it releases the lock.
    _file: std::fs::File,
}

impl BuildLock {
    fn take(hash: &str) -> Result<BuildLock, ImageError> {
        use std::os::fd::AsRawFd;
        let path = std::env::temp_dir().join(format!("orbdock-build-{}.lock", &hash[..16.min(hash.len())]));
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| ImageError::Io(format!("open {}", path.display()), e))?;
        // SAFETY: flock on a descriptor we own; the lock goes with the file.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(ImageError::Io(
                format!("lock {}", path.display()),
                std::io::Error::last_os_error(),
            ));
        }
        Ok(BuildLock { _file: f })
    }
}

fn open_log(log: &Path) -> Result<std::fs::File, ImageError> {
    if let Some(dir) = log.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| ImageError::Log {
            path: log.to_path_buf(),
            source: e,
        })?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| ImageError::Log {
            path: log.to_path_buf(),
            source: e,
        })
}

fn image_changes(name: &str, hash: &str) -> Vec<String> {
    vec![
        "CMD [\"/sbin/init\"]".into(),
        "ENV container=docker".into(),
        format!("LABEL {}={}", labels::KIND, labels::KIND_MACHINE_IMAGE),
        format!("LABEL {}={}", labels::IMAGE, quote_label(name)),
        format!("LABEL {}={}", labels::RECIPE, hash),
    ]
}

/// A Dockerfile-style label value (quoted: image names hold `:`).
fn quote_label(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The Debian mirror of the host's apt sources (deb822 `.sources` or `sources.list`), else
/// deb.debian.org.
pub fn host_mirror() -> String {
    let mut texts = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            if p.extension().is_some_and(|x| x == "sources" || x == "list")
                && let Ok(t) = std::fs::read_to_string(&p)
            {
                texts.push(t);
            }
        }
    }
    if let Ok(t) = std::fs::read_to_string("/etc/apt/sources.list") {
        texts.insert(0, t);
    }
    for t in &texts {
        for line in t.lines() {
            let line = line.trim();
            let uri = if let Some(rest) = line.strip_prefix("URIs:") {
                rest.split_whitespace().next()
            } else if let Some(rest) = line.strip_prefix("deb ") {
                rest.split_whitespace().find(|w| !w.starts_with('['))
            } else {
                None
            };
            if let Some(u) = uri
                && u.contains("debian")
                && !u.contains("security")
            {
                return u.to_string();
            }
        }
    }
    "http://deb.debian.org/debian".into()
}

#[allow(clippy::too_many_arguments)]
fn build_debootstrap(
    engine: &Engine,
    name: &str,
    recipe: &Recipe,
    suite: &str,
    tag: &str,
    hash: &str,
    log: &Path,
    logf: &mut std::fs::File,
) -> Result<(), ImageError> {
    if which("debootstrap").is_none() {
        return Err(ImageError::NoDebootstrap);
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(ImageError::NotRoot);
    }
    let mirror = recipe.mirror.clone().unwrap_or_else(host_mirror);
    let work = tempfile::Builder::new()
        .prefix("orbdock-rootfs-")
        .tempdir_in(std::env::var_os("ORBDOCK_BUILD_DIR").map_or_else(std::env::temp_dir, PathBuf::from))
        .map_err(|e| ImageError::Io("make a build directory".into(), e))?;
    let root = work.path().join("rootfs");
    let include = recipe.packages().join(",");
    let _ = writeln!(
        logf,
        "$ debootstrap --variant=minbase --include={include} {suite} {} {mirror}",
        root.display()
    );
    let out = logf.try_clone().map_err(|e| ImageError::Io("log".into(), e))?;
    let err = logf.try_clone().map_err(|e| ImageError::Io("log".into(), e))?;
    let status = Command::new("debootstrap")
        .arg("--variant=minbase")
        .arg(format!("--include={include}"))
        .arg(suite)
        .arg(&root)
        .arg(&mirror)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .map_err(|e| ImageError::Io("run debootstrap".into(), e))?;
    if !status.success() {
        return Err(ImageError::Step {
            step: format!("debootstrap {suite} from {mirror}"),
            code: status.code().map_or("signal".into(), |c| c.to_string()),
            log: log.to_path_buf(),
            tail: log_tail(log),
        });
    }
    let sudoers = root.join("etc/sudoers.d/orbtest");
    std::fs::write(&sudoers, SUDOERS).map_err(|e| ImageError::Io(format!("write {}", sudoers.display()), e))?;
    set_mode(&sudoers, 0o440);
    // Machines get their hostname from the engine; apt's caches are not worth keeping.
    let _ = std::fs::remove_file(root.join("etc/hostname"));
    let _ = std::fs::remove_dir_all(root.join("var/cache/apt/archives"));
    let _ = writeln!(logf, "$ tar -C {} -c . | docker import - {tag}", root.display());
    import_dir(engine, &root, tag, &image_changes(name, hash), log)?;
    let _ = writeln!(logf, "# imported {tag}");
    Ok(())
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
}

fn which(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/sbin"].map(PathBuf::from));
    dirs.into_iter().map(|d| d.join(prog)).find(|p| p.is_file())
}

/// Streams `tar -C dir -c .` into the engine's import.
fn import_dir(engine: &Engine, dir: &Path, tag: &str, changes: &[String], log: &Path) -> Result<(), ImageError> {
    let mut child = Command::new("tar")
        .arg("--numeric-owner")
        .arg("-C")
        .arg(dir)
        .arg("-cf")
        .arg("-")
        .arg(".")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| ImageError::Io("run tar".into(), e))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| ImageError::Io("tar".into(), std::io::Error::other("no stdout")))?;
    let r = import_reader(engine, stdout, tag, changes);
    let status = child.wait().map_err(|e| ImageError::Io("wait for tar".into(), e))?;
    r?;
    if !status.success() {
        return Err(ImageError::Step {
            step: format!("tar of {}", dir.display()),
            code: status.code().map_or("signal".into(), |c| c.to_string()),
            log: log.to_path_buf(),
            tail: log_tail(log),
        });
    }
    Ok(())
}

/// `docker import` of a tar read from `reader` (on a thread of its own), tagged `tag`.
pub fn import_reader(
    engine: &Engine,
    reader: impl std::io::Read + Send + 'static,
    tag: &str,
    changes: &[String],
) -> Result<(), ImageError> {
    let (repo, t) = tag.split_once(':').unwrap_or((tag, "latest"));
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
    std::thread::spawn(move || {
        let mut reader = reader;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.blocking_send(Ok(bytes::Bytes::copy_from_slice(&buf[..n]))).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    let opts = CreateImageOptions {
        from_src: Some("-".into()),
        repo: Some(repo.to_string()),
        tag: Some(t.to_string()),
        changes: changes.to_vec(),
        ..Default::default()
    };
    engine.block_on(async {
        let mut s = engine
            .docker
            .create_image(Some(opts), Some(bollard::body_try_stream(body)), None);
        while let Some(item) = s.next().await {
            item?;
        }
        Ok::<(), bollard::errors::Error>(())
    })?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn build_from(
    engine: &Engine,
    name: &str,
    recipe: &Recipe,
    base: &str,
    tag: &str,
    hash: &str,
    log: &Path,
    logf: &mut std::fs::File,
) -> Result<(), ImageError> {
    match engine.block_on(engine.docker.inspect_image(base)) {
        Ok(_) => {}
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {
            return Err(ImageError::MissingBase(base.to_string()));
        }
        Err(e) => return Err(e.into()),
    }
    let script = format!(
        "set -e; export DEBIAN_FRONTEND=noninteractive; apt-get update; \
         apt-get install -y --no-install-recommends {}; \
         mkdir -p /etc/sudoers.d; printf '%s' '{}' > /etc/sudoers.d/orbtest; chmod 440 /etc/sudoers.d/orbtest; \
         apt-get clean; rm -rf /var/lib/apt/lists/*",
        recipe.packages().join(" "),
        SUDOERS.trim_end().to_string() + "\n"
    );
    let _ = writeln!(logf, "$ (in {base}) sh -c '{script}'");
    let body = ContainerCreateBody {
        image: Some(base.to_string()),
        entrypoint: Some(vec![]),
        cmd: Some(vec!["/bin/sh".into(), "-c".into(), script]),
        labels: Some(HashMap::from([(labels::KIND.to_string(), "image-build".to_string())])),
        ..Default::default()
    };
    let builder = engine
        .block_on(engine.docker.create_container(None::<CreateContainerOptions>, body))?
        .id;
    let result = (|| -> Result<(), ImageError> {
        engine.block_on(engine.docker.start_container(&builder, None::<StartContainerOptions>))?;
        let code = engine.block_on(async {
            let mut w = engine.docker.wait_container(&builder, None::<WaitContainerOptions>);
            let mut code = 0;
            while let Some(item) = w.next().await {
                match item {
                    Ok(r) => code = r.status_code,
                    Err(bollard::errors::Error::DockerContainerWaitError { code: c, .. }) => code = c,
                    Err(e) => return Err(e),
                }
            }
            Ok(code)
        })?;
        let out = crate::exec::logs(engine, &builder, None).unwrap_or_default();
        let _ = logf.write_all(&out);
        if code != 0 {
            return Err(ImageError::Step {
                step: format!("installing the machine packages into {base}"),
                code: code.to_string(),
                log: log.to_path_buf(),
                tail: log_tail(log),
            });
        }
        let (repo, t) = tag.split_once(':').unwrap_or((tag, "latest"));
        let opts = CommitContainerOptions {
            container: Some(builder.clone()),
            repo: Some(repo.into()),
            tag: Some(t.into()),
            changes: Some(image_changes(name, hash).join("\n")),
            ..Default::default()
        };
        engine.block_on(
            engine
                .docker
                .commit_container(opts, bollard::models::ContainerConfig::default()),
        )?;
        let _ = writeln!(logf, "# committed {tag}");
        Ok(())
    })();
    let _ = engine.block_on(engine.docker.remove_container(
        &builder,
        Some(RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        }),
    ));
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipe_hash_ignores_package_order_and_sees_everything_else() {
        let a = Recipe {
            debootstrap: Some("bookworm".into()),
            packages: vec!["curl".into(), "git".into()],
            ..Default::default()
        };
        let mut b = a.clone();
        b.packages.reverse();
        assert_eq!(a.hash(), b.hash());
        let mut base = a.clone();
        base.packages.push("sudo".into());
        assert_eq!(a.hash(), base.hash(), "a base package changes nothing");
        let mut c = a.clone();
        c.mirror = Some("http://example.org/debian".into());
        assert_ne!(a.hash(), c.hash());
        assert_eq!(a.hash().len(), 64);
    }

    #[test]
    fn names_match_through_version_aliases() {
        assert!(same_image("ubuntu:22.04", "ubuntu:jammy"));
        assert!(!same_image("ubuntu:22.04", "ubuntu:24.04"));
        assert!(same_image("my-image", "my-image"));
        assert_eq!(
            tag_for("ubuntu:22.04", "abcdef0123456789"),
            "orbtest/machine:ubuntu-22.04-abcdef012345"
        );
    }
}
