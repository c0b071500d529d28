//! The connection to a Docker engine: discovery (`DOCKER_HOST`, else the local socket), API
//! version negotiation, a current-thread runtime for bollard's async calls, and what the engine
//! can do (its version, whether systemd runs as PID 1 in a container there).

use std::cell::OnceCell;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use bollard::Docker;

use crate::env;

/// No Docker engine could be reached.
#[derive(Debug, thiserror::Error)]
#[error(
    "no Docker engine reachable at {looked}: {detail}\n\
     Start one (`sudo systemctl start docker`, or `sudo dockerd &` where there is no systemd), \
     or point DOCKER_HOST at a running engine."
)]
pub struct ConnectError {
    /// Where orbdock looked (`DOCKER_HOST=...`, or the sockets it tried).
    pub looked: String,
    /// What went wrong there.
    pub detail: String,
}

/// Whether systemd can run as PID 1 in a machine on this engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemdSupport {
    /// It can: machines boot systemd.
    Yes,
    /// It cannot (the reason): machines boot a minimal init.
    No(String),
    /// Not probed yet: there is no machine image to probe with.
    Unknown,
}

/// What [`Engine::describe`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// Where the engine was found (`unix:///var/run/docker.sock`, a `DOCKER_HOST` value).
    pub endpoint: String,
    /// The engine's version (`20.10.24+dfsg1`).
    pub version: String,
    /// The API version in use after negotiation (`1.41`).
    pub api_version: String,
    /// The engine's architecture as orbctl names it (`amd64`, `arm64`).
    pub arch: String,
    /// Whether systemd can be PID 1 in a machine (probed once per engine, then remembered;
    /// `Unknown` while there is no machine image to probe with).
    pub systemd: SystemdSupport,
}

/// A connected Docker engine.
pub struct Engine {
    pub(crate) docker: Docker,
    rt: tokio::runtime::Runtime,
    endpoint: String,
    version: OnceCell<(String, String, String)>,
    pub(crate) systemd: OnceCell<SystemdSupport>,
    /// The id of the machines' network, once known.
    pub(crate) network: OnceCell<String>,
}

/// Long enough for any single request (an image import, a long `run`): a test's own timeout
/// bounds a `run`, not orbdock.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// How long the first contact may take before the engine counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

fn local_sockets() -> Vec<PathBuf> {
    let mut v = vec![PathBuf::from("/var/run/docker.sock")];
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        v.push(PathBuf::from(dir).join("docker.sock"));
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        v.push(PathBuf::from(home).join(".docker/run/docker.sock"));
    }
    v
}

impl Engine {
    /// Finds and contacts the engine: `DOCKER_HOST` if set, else the first local socket that
    /// exists (`/var/run/docker.sock`, `$XDG_RUNTIME_DIR/docker.sock`,
    /// `~/.docker/run/docker.sock`).
    pub fn connect() -> Result<Engine, ConnectError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ConnectError {
                looked: "nowhere".into(),
                detail: format!("cannot start an async runtime: {e}"),
            })?;
        let (docker, endpoint, looked) = match std::env::var(env::DOCKER_HOST).ok().filter(|h| !h.is_empty()) {
            Some(host) => {
                let looked = format!("DOCKER_HOST={host}");
                let docker = Docker::connect_with_host(&host).map_err(|e| ConnectError {
                    looked: looked.clone(),
                    detail: e.to_string(),
                })?;
                (docker, host, looked)
            }
            None => {
                let candidates = local_sockets();
                let shown = candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                let looked = format!("{shown} (DOCKER_HOST is not set)");
                let Some(sock) = candidates.iter().find(|p| p.exists()) else {
                    return Err(ConnectError {
                        looked,
                        detail: "no such socket".into(),
                    });
                };
                let path = sock.to_string_lossy().into_owned();
                let docker = Docker::connect_with_unix(&path, REQUEST_TIMEOUT.as_secs(), bollard::API_DEFAULT_VERSION)
                    .map_err(|e| ConnectError {
                        looked: looked.clone(),
                        detail: e.to_string(),
                    })?;
                (docker, format!("unix://{path}"), looked)
            }
        };
        let docker = docker.with_timeout(REQUEST_TIMEOUT);
        let negotiated = rt.block_on(async { tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version()).await });
        let docker = match negotiated {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => {
                return Err(ConnectError {
                    looked,
                    detail: e.to_string(),
                });
            }
            Err(_) => {
                return Err(ConnectError {
                    looked,
                    detail: format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()),
                });
            }
        };
        Ok(Engine {
            docker,
            rt,
            endpoint,
            version: OnceCell::new(),
            systemd: OnceCell::new(),
            network: OnceCell::new(),
        })
    }

    /// Runs a future on the engine's runtime.
    pub(crate) fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The underlying bollard client (for callers that need more than orbdock offers).
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Where the engine was found.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub(crate) fn version_facts(&self) -> &(String, String, String) {
        self.version.get_or_init(|| {
            let v = self.block_on(self.docker.version()).ok();
            let version = v.as_ref().and_then(|v| v.version.clone()).unwrap_or_default();
            let api = v.as_ref().and_then(|v| v.api_version.clone()).unwrap_or_default();
            let arch = v
                .as_ref()
                .and_then(|v| v.arch.clone())
                .map(|a| orbctl_arch(&a))
                .unwrap_or_else(host_arch);
            (version, api, arch)
        })
    }

    /// The engine's architecture as orbctl names it.
    pub fn arch(&self) -> String {
        self.version_facts().2.clone()
    }
}

/// Docker's and Rust's architecture names as orbctl names them.
pub fn orbctl_arch(arch: &str) -> String {
    match arch {
        "x86_64" | "amd64" => "amd64".into(),
        "aarch64" | "arm64" => "arm64".into(),
        "x86" | "i386" | "i686" => "i386".into(),
        other => other.to_string(),
    }
}

/// This host's architecture as orbctl names it.
pub fn host_arch() -> String {
    orbctl_arch(std::env::consts::ARCH)
}
