//! `provider = "docker"`: machines are labelled system containers on a Docker engine, made by
//! orbdock, the orbctl-compatible engine cargo-orbtest embeds (reached through links named
//! `orbdock-orbctl`/`orbdock-orb`, as the simulator is). Here: finding the engine, the project
//! every container of this workspace is labelled with, the run lock and run liveness as
//! sentinel containers on the engine, and the machine images built from
//! `[machines.docker.images."IMAGE"]`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::resolved::{ResolvedProvider, short_hash};
use super::state::{Hold, Liveness, LockHolder, ProviderState};
use crate::config::{DockerConfig, ImageRecipe, ImageSource, MachinesConfig, ProviderKind};
use crate::errors::{Error, Result};
use orbtest_machines::OrbctlProvider;

/// The file in the run directory that maps each machine image name to the Docker image built for
/// it (orbdock reads it through `ORBTEST_DOCKER_IMAGES`).
pub const IMAGES_FILE: &str = "docker-images.json";

/// The project a workspace's containers are labelled with (`dev.orbtest.project`): its
/// directory's name and a hash of its path, so two checkouts never share machines or a lock.
pub fn project(workspace: &Path) -> String {
    let root = std::fs::canonicalize(workspace).unwrap_or_else(|_| workspace.to_path_buf());
    let base: String = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(24)
        .collect();
    let base = base.trim_matches('-');
    let hash = short_hash(&root.to_string_lossy());
    if base.is_empty() {
        hash
    } else {
        format!("{base}-{hash}")
    }
}

/// Where orbtest keeps its journals and records for one project on one engine (its locks are
/// sentinels on the engine).
pub fn state_dir(endpoint: &str, project: &str) -> PathBuf {
    super::state::orbstack_state_dir()
        .with_file_name("docker")
        .join(format!("{project}-{}", short_hash(endpoint)))
}

/// The engine, or exit 3 saying where we looked and how to start one.
pub fn connect() -> Result<orbdock::Engine> {
    orbdock::Engine::connect().map_err(|e| Error::preflight("provider", e.to_string()))
}

pub fn resolve(config: &MachinesConfig, home: &Path, workspace: &Path) -> Result<ResolvedProvider> {
    let engine = connect()?;
    let endpoint = engine.endpoint().to_string();
    drop(engine);
    // `ORBDOCK_PROJECT` set by hand wins (several checkouts sharing machines, tests that need
    // a project each).
    let project = std::env::var(orbdock::env::PROJECT)
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| project(workspace));
    let dir = state_dir(&endpoint, &project);
    let liveness = Arc::new(EngineSentinels {
        project: project.clone(),
    });
    let state = ProviderState::with_liveness(&dir, liveness).map_err(|e| {
        Error::preflight(
            "provider",
            format!("cannot create orbtest's state in {}: {e}", dir.display()),
        )
    })?;
    let exe = std::env::current_exe().unwrap_or_default();
    let bin = home.join("bin").join(short_hash(&exe.to_string_lossy()));
    let [orbctl, orb] = link_embedded_engine(&bin)
        .map_err(|e| Error::preflight("provider", format!("cannot link orbdock into {}: {e}", bin.display())))?;
    let mut env = vec![(orbdock::env::PROJECT.to_string(), project.clone())];
    if let Ok(host) = std::env::var(orbdock::env::DOCKER_HOST)
        && !host.is_empty()
    {
        env.push((orbdock::env::DOCKER_HOST.to_string(), host));
    }
    let _ = config;
    Ok(ResolvedProvider {
        kind: ProviderKind::Docker,
        provider: Arc::new(provider_for(&orbctl, &env)),
        state,
        orbctl,
        orb,
        env,
        description: format!("docker ({endpoint}, project {project})"),
    })
}

fn provider_for(orbctl: &Path, env: &[(String, String)]) -> OrbctlProvider {
    OrbctlProvider::restore(
        "docker",
        orbctl.to_path_buf(),
        env.iter().map(|(k, v)| (k.into(), v.into())).collect(),
        None,
    )
}

impl ResolvedProvider {
    /// The same provider with `key=value` added to every call (and to the tiers' environment).
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.to_string()));
        if self.kind == ProviderKind::Docker {
            self.provider = Arc::new(provider_for(&self.orbctl, &self.env));
        }
        self
    }
}

/// Links `orbdock-orbctl` and `orbdock-orb` in `dir` to this very executable, which runs the
/// engine it embeds when called by those names.
pub fn link_embedded_engine(dir: &Path) -> std::io::Result<[PathBuf; 2]> {
    link_engine_names(&std::env::current_exe()?, dir)
}

/// Links `orbdock-orbctl` and `orbdock-orb` in `dir` to `exe`, a cargo-orbtest executable
/// (tests reach the engine it embeds this way).
pub fn link_engine_names(exe: &Path, dir: &Path) -> std::io::Result<[PathBuf; 2]> {
    let me = std::fs::canonicalize(exe)?;
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    orbtest_machines::files::ensure_private_dir(dir)?;
    let names = ["orbdock-orbctl", "orbdock-orb"];
    for name in names {
        let link = dir.join(name);
        if std::fs::read_link(&link).is_ok_and(|target| target == me) {
            continue;
        }
        // Replace atomically: link under a temporary name, then rename over the old one.
        let tmp = dir.join(format!(".{name}.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&me, &tmp)?;
        std::fs::rename(&tmp, &link)?;
    }
    Ok(names.map(|n| dir.join(n)))
}

/// The run lock and run liveness as sentinel containers on the engine (see
/// `orbdock::sentinel`). Each call connects afresh: the engine may be remote, and a hold keeps
/// its own connection, whose end (however this process ends) stops the sentinel.
#[derive(Debug)]
pub struct EngineSentinels {
    pub project: String,
}

fn io(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl Liveness for EngineSentinels {
    fn try_lock(&self, me: &LockHolder) -> std::io::Result<Option<Hold>> {
        let engine = orbdock::Engine::connect().map_err(io)?;
        Ok(orbdock::sentinel::lock(engine, &self.project, &me.run_id)
            .map_err(io)?
            .map(|h| Hold::new(Mutex::new(h))))
    }

    fn hold_run(&self, run_id: &str, _run_dir: &Path) -> std::io::Result<Hold> {
        let engine = orbdock::Engine::connect().map_err(io)?;
        let hold = orbdock::sentinel::hold_run(engine, &self.project, run_id).map_err(io)?;
        Ok(Hold::new(Mutex::new(hold)))
    }

    fn is_alive(&self, run_id: &str, _run_dir: &Path) -> bool {
        // Unsure counts as alive: a run we cannot see might still own its machines.
        orbdock::Engine::connect()
            .map_err(io)
            .and_then(|engine| orbdock::sentinel::is_alive(&engine, &self.project, run_id).map_err(io))
            .unwrap_or(true)
    }

    fn holder(&self) -> Option<String> {
        let engine = orbdock::Engine::connect().ok()?;
        orbdock::sentinel::lock_holder(&engine, &self.project)
    }
}

/// orbdock's recipe for one `[machines.docker.images."IMAGE"]`.
pub fn recipe(r: &ImageRecipe) -> orbdock::images::Recipe {
    let (from, debootstrap, mirror) = match &r.source {
        ImageSource::From(image) => (Some(image.clone()), None, None),
        ImageSource::Debootstrap { suite, mirror } => (None, Some(suite.clone()), mirror.clone()),
    };
    orbdock::images::Recipe {
        from,
        debootstrap,
        mirror,
        packages: r.packages.clone(),
    }
}

/// One machine image after [`ensure_images`].
#[derive(Debug, Clone)]
pub struct BuiltImage {
    pub name: String,
    pub id: String,
    /// Built now (else reused from the cache).
    pub built: bool,
    pub log: PathBuf,
}

/// Why the machine images could not all be made.
#[derive(Debug, thiserror::Error)]
pub enum ImageBuildError {
    #[error("cannot create {}: {source}", .dir.display())]
    LogDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build machine image `{name}` ([machines.docker.images.\"{name}\"]): {source}; see {}", .log.display())]
    Build {
        name: String,
        log: PathBuf,
        #[source]
        source: Box<orbdock::images::ImageError>,
    },
}

/// Builds every configured machine image the engine does not have for its recipe (all of them
/// with `rebuild`), each with its log in `log_dir`; `progress` hears which one is being built.
pub fn ensure_images(
    engine: &orbdock::Engine,
    docker: &DockerConfig,
    rebuild: bool,
    log_dir: &Path,
    progress: &dyn Fn(&str),
) -> std::result::Result<Vec<BuiltImage>, ImageBuildError> {
    orbtest_machines::files::ensure_private_dir(log_dir).map_err(|source| ImageBuildError::LogDir {
        dir: log_dir.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for r in &docker.images {
        let log = log_dir.join(format!("{}.log", log_name(&r.name)));
        progress(&r.name);
        let info = orbdock::images::ensure(engine, &r.name, &recipe(r), rebuild, &log).map_err(|source| {
            ImageBuildError::Build {
                name: r.name.clone(),
                log: log.clone(),
                source: Box::new(source),
            }
        })?;
        out.push(BuiltImage {
            name: r.name.clone(),
            id: info.id.clone(),
            built: info.built,
            log,
        });
    }
    Ok(out)
}

/// A file name for `image`'s build log (`ubuntu-22.04`).
pub fn log_name(image: &str) -> String {
    image
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Writes the image map orbdock reads (`ORBTEST_DOCKER_IMAGES`) into `run_dir` (orbdock matches
/// names as orbctl resolves them: `ubuntu:jammy` finds `ubuntu:22.04`). Returns its path.
pub fn write_image_map(run_dir: &Path, images: &[BuiltImage]) -> std::io::Result<PathBuf> {
    let map: BTreeMap<&str, &str> = images.iter().map(|i| (i.name.as_str(), i.id.as_str())).collect();
    let path = run_dir.join(IMAGES_FILE);
    let mut bytes = serde_json::to_vec_pretty(&map).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    orbtest_machines::files::write_atomic(&path, &bytes)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_are_named_for_their_directory_and_told_apart_by_path() {
        let a = project(Path::new("/nonexistent/work/My Repo"));
        let b = project(Path::new("/nonexistent/other/My Repo"));
        assert!(a.starts_with("my-repo-"), "{a}");
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'), "{a}");
    }
}
