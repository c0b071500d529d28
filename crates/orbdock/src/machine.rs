//! Machines as labelled system containers: finding them, creating, booting (systemd as PID 1,
//! or a minimal init where systemd cannot run), stopping, cloning, renaming, deleting, and the
//! project's default machine.
//!
//! A machine is the container `orbtest_<project>_<name>` carrying the labels of
//! [`crate::labels`]. Container names are unique per engine, so two creates of one name race
//! safely: the engine lets one win and the other hears "machine already exists" at once.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, ContainerSummary, ContainerSummaryStateEnum, HostConfig, HostConfigCgroupnsModeEnum,
    NetworkCreateRequest, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CommitContainerOptions, CreateContainerOptions, ListContainersOptions, ListVolumesOptions, RemoveContainerOptions,
    RemoveImageOptions, RemoveVolumeOptions, RenameContainerOptions, StartContainerOptions, StopContainerOptions,
};
use orbctl::errors::DaemonError;
use orbctl::output::{ImageSpec, MachineConfig, MachineInfo, MachineRecord};

use crate::engine::{Description, Engine, SystemdSupport};
use crate::{env, labels};

/// The Docker network every machine joins (a bridge: reachable from the host and each other).
pub const NETWORK: &str = "orbtest";
/// Seconds a machine gets to stop before it is killed.
const STOP_TIMEOUT: i32 = 10;
/// How long a booting machine may take to reach `running` (systemd up, user made).
const BOOT_TIMEOUT: Duration = Duration::from_secs(60);

/// What can go wrong with a machine operation.
#[derive(Debug, thiserror::Error)]
pub enum MachineError {
    /// What OrbStack's machine manager would answer.
    #[error(transparent)]
    Daemon(#[from] DaemonError),
    /// The engine refused or failed a request.
    #[error("docker engine: {0}")]
    Engine(#[from] bollard::errors::Error),
    /// The machine did not come up.
    #[error("{0}")]
    Setup(String),
}

impl MachineError {
    /// The engine's HTTP status for this error, if it came from the engine.
    pub fn status(&self) -> Option<u16> {
        match self {
            MachineError::Engine(bollard::errors::Error::DockerResponseServerError { status_code, .. }) => {
                Some(*status_code)
            }
            _ => None,
        }
    }
}

/// Which init a machine boots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// systemd as PID 1.
    Systemd,
    /// docker's minimal init (tini) reaping for a long sleep; no services.
    Minimal,
}

impl Init {
    pub fn as_str(self) -> &'static str {
        match self {
            Init::Systemd => "systemd",
            Init::Minimal => "minimal",
        }
    }
}

/// A machine as the engine knows it.
#[derive(Debug, Clone)]
pub struct Machine {
    /// The container id.
    pub container: String,
    pub name: String,
    pub id: String,
    pub image: ImageSpec,
    pub username: String,
    /// orbctl's state word.
    pub state: String,
    pub ip4: Option<String>,
    pub init: Init,
    /// The Docker image the container runs.
    pub image_id: String,
    /// The run that made it.
    pub run: String,
}

impl Machine {
    pub fn record(&self) -> MachineRecord {
        MachineRecord {
            id: self.id.clone(),
            name: self.name.clone(),
            image: self.image.clone(),
            config: MachineConfig {
                isolated: false,
                default_username: self.username.clone(),
                extra: Default::default(),
            },
            builtin: false,
            state: self.state.clone(),
        }
    }

    pub fn is_running(&self) -> bool {
        self.state == "running"
    }

    /// The user's home inside the machine.
    pub fn home_of(user: &str) -> String {
        if user == "root" {
            "/root".into()
        } else {
            format!("/home/{user}")
        }
    }
}

/// The container name of machine `name` in `project`.
pub fn container_name(project: &str, name: &str) -> String {
    format!("orbtest_{}_{name}", sanitize(project))
}

/// Docker names allow `[a-zA-Z0-9][a-zA-Z0-9_.-]`; machine names never hold `_`, so a project
/// without `_` keeps `orbtest_<project>_<name>` unambiguous.
pub fn sanitize(project: &str) -> String {
    let s: String = project
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() { "default".into() } else { s }
}

fn state_word(s: Option<&ContainerSummaryStateEnum>) -> &'static str {
    match s {
        Some(ContainerSummaryStateEnum::RUNNING | ContainerSummaryStateEnum::PAUSED) => "running",
        Some(ContainerSummaryStateEnum::RESTARTING) => "starting",
        Some(ContainerSummaryStateEnum::REMOVING) => "deleting",
        Some(ContainerSummaryStateEnum::STOPPING) => "stopping",
        _ => "stopped",
    }
}

fn from_summary(c: &ContainerSummary, prefix: &str) -> Option<Machine> {
    let labels = c.labels.as_ref()?;
    let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
    let cname = c
        .names
        .as_ref()?
        .iter()
        .find_map(|n| n.trim_start_matches('/').strip_prefix(prefix))?;
    let state = state_word(c.state.as_ref());
    let ip4 = if state == "running" {
        c.network_settings
            .as_ref()
            .and_then(|n| n.networks.as_ref())
            .and_then(|n| n.get(NETWORK))
            .and_then(|e| e.ip_address.clone())
            .filter(|ip| !ip.is_empty())
    } else {
        None
    };
    Some(Machine {
        container: c.id.clone().unwrap_or_default(),
        name: cname.to_string(),
        id: get(labels::ID),
        image: ImageSpec {
            distro: get(labels::DISTRO),
            version: get(labels::VERSION),
            arch: get(labels::ARCH),
            variant: "default".into(),
        },
        username: get(labels::USER),
        state: state.to_string(),
        ip4,
        init: if get(labels::INIT) == "minimal" {
            Init::Minimal
        } else {
            Init::Systemd
        },
        image_id: c.image_id.clone().unwrap_or_default(),
        run: get(labels::RUN),
    })
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

/// The machines of `project`, sorted by name.
pub fn list(engine: &Engine, project: &str) -> Result<Vec<Machine>, MachineError> {
    let opts = ListContainersOptions {
        all: true,
        filters: Some(label_filter(&[(labels::MACHINE, ""), (labels::PROJECT, project)])),
        ..Default::default()
    };
    let summaries = engine.block_on(engine.docker.list_containers(Some(opts)))?;
    let prefix = format!("{}_", container_name(project, "").trim_end_matches('_'));
    let mut v: Vec<Machine> = summaries.iter().filter_map(|c| from_summary(c, &prefix)).collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(v)
}

/// A machine by id, then by name (as OrbStack resolves `[ID/NAME]`).
pub fn find(engine: &Engine, project: &str, key: &str) -> Result<Option<Machine>, MachineError> {
    let all = list(engine, project)?;
    Ok(pick(all, key))
}

/// [`find`] over a listing already made.
pub fn pick(all: Vec<Machine>, key: &str) -> Option<Machine> {
    if let Some(m) = all.iter().find(|m| m.id == key) {
        return Some(m.clone());
    }
    all.into_iter().find(|m| m.name == key)
}

/// `info`: the record, disk usage and address.
pub fn info(engine: &Engine, m: &Machine) -> MachineInfo {
    let size = engine
        .block_on(engine.docker.inspect_container(
            &m.container,
            Some(bollard::query_parameters::InspectContainerOptions { size: true }),
        ))
        .ok()
        .and_then(|c| c.size_root_fs)
        .and_then(|s| u64::try_from(s).ok());
    MachineInfo {
        record: m.record(),
        disk_size: size,
        ip4: m.ip4.clone(),
        ip6: None,
    }
}

/// Makes sure the machines' network exists and returns its id. Engines before API 1.44 let
/// two creates of one name both succeed, so after creating it every process settles on the
/// oldest network of that name and removes the others it can.
pub fn ensure_network(engine: &Engine) -> Result<String, MachineError> {
    if let Some(id) = engine.network.get() {
        return Ok(id.clone());
    }
    let find = || -> Result<Vec<bollard::models::Network>, MachineError> {
        let opts = bollard::query_parameters::ListNetworksOptions {
            filters: Some(HashMap::from([("name".to_string(), vec![NETWORK.to_string()])])),
        };
        let mut v: Vec<_> = engine
            .block_on(engine.docker.list_networks(Some(opts)))?
            .into_iter()
            .filter(|n| n.name.as_deref() == Some(NETWORK))
            .collect();
        v.sort_by(|a, b| {
            let key = |n: &bollard::models::Network| (n.created.clone().map(|c| c.to_string()), n.id.clone());
            key(a).cmp(&key(b))
        });
        Ok(v)
    };
    let mut nets = find()?;
    if nets.is_empty() {
        let req = NetworkCreateRequest {
            name: NETWORK.to_string(),
            driver: Some("bridge".into()),
            labels: Some(HashMap::from([(labels::KIND.to_string(), "network".to_string())])),
            ..Default::default()
        };
        match engine.block_on(engine.docker.create_network(req)) {
            Ok(_) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => {}
            Err(e) => return Err(e.into()),
        }
        nets = find()?;
    }
    let Some(keep) = nets.first().and_then(|n| n.id.clone()) else {
        return Err(MachineError::Setup(format!(
            "the {NETWORK} network vanished as it was made"
        )));
    };
    for extra in nets.iter().skip(1) {
        if let Some(id) = &extra.id {
            let _ = engine.block_on(engine.docker.remove_network(id));
        }
    }
    let _ = engine.network.set(keep.clone());
    Ok(keep)
}

/// What a new machine is.
#[derive(Debug, Clone)]
pub struct NewMachine {
    pub name: String,
    pub image: ImageSpec,
    pub username: String,
    /// The Docker image to boot.
    pub image_id: String,
    pub project: String,
    pub run: String,
    /// The id to give it (a fresh ULID for create and clone).
    pub id: String,
}

/// The shell that runs as PID 1 first: it makes the default user (once), then becomes init.
/// A failure to make the user is left in `/run/.orbdock-setup-error` for [`wait_ready`].
fn boot_command(init: Init, user: &str) -> Vec<String> {
    let then = match init {
        Init::Systemd => "exec /sbin/init",
        Init::Minimal => "exec sleep infinity",
    };
    let script = format!(
        "u=\"$0\"; if ! id -u \"$u\" >/dev/null 2>&1; then \
         useradd -m -s /bin/bash -G sudo \"$u\" 2>/run/.orbdock-setup-error \
         || useradd -m -s /bin/sh \"$u\" 2>>/run/.orbdock-setup-error \
         && : >/run/.orbdock-setup-error; fi; {then}"
    );
    vec!["/bin/sh".into(), "-c".into(), script, user.to_string()]
}

fn container_body(new: &NewMachine, init: Init, network: &str) -> ContainerCreateBody {
    let mut labels_map = HashMap::new();
    for (k, v) in [
        (labels::MACHINE, new.name.as_str()),
        (labels::ID, new.id.as_str()),
        (labels::PROJECT, new.project.as_str()),
        (labels::RUN, new.run.as_str()),
        (labels::KIND, "machine"),
        (labels::DISTRO, new.image.distro.as_str()),
        (labels::VERSION, new.image.version.as_str()),
        (labels::ARCH, new.image.arch.as_str()),
        (labels::USER, new.username.as_str()),
        (labels::INIT, init.as_str()),
    ] {
        labels_map.insert(k.to_string(), v.to_string());
    }
    let mut host = HostConfig {
        network_mode: Some(network.to_string()),
        tmpfs: Some(HashMap::from([
            ("/run".to_string(), String::new()),
            ("/run/lock".to_string(), String::new()),
        ])),
        ..Default::default()
    };
    match init {
        Init::Systemd => {
            // What systemd needs here without --privileged (which fails on hosts whose bounding
            // set lacks CAP_SYS_RESOURCE): see docs/docker.md.
            host.cap_add = Some(vec!["ALL".into()]);
            host.cap_drop = Some(vec!["SYS_RESOURCE".into()]);
            host.security_opt = Some(vec!["seccomp=unconfined".into()]);
            host.binds = Some(vec!["/sys/fs/cgroup:/sys/fs/cgroup:rw".into()]);
            host.cgroupns_mode = Some(HostConfigCgroupnsModeEnum::HOST);
        }
        Init::Minimal => {
            host.init = Some(true);
            host.cap_add = Some(vec!["ALL".into()]);
            host.cap_drop = Some(vec!["SYS_RESOURCE".into()]);
        }
    }
    ContainerCreateBody {
        hostname: Some(new.name.clone()),
        image: Some(new.image_id.clone()),
        env: Some(vec!["container=docker".into()]),
        cmd: Some(boot_command(init, &new.username)),
        entrypoint: Some(vec![]),
        labels: Some(labels_map),
        stop_signal: Some(match init {
            Init::Systemd => "SIGRTMIN+3".into(),
            Init::Minimal => "SIGTERM".into(),
        }),
        host_config: Some(host),
        ..Default::default()
    }
}

/// Creates the container (stopped). A taken name is the daemon's "already exists".
pub fn create_container(engine: &Engine, new: &NewMachine, init: Init) -> Result<String, MachineError> {
    let network = ensure_network(engine)?;
    let opts = CreateContainerOptions {
        name: Some(container_name(&new.project, &new.name)),
        ..Default::default()
    };
    match engine.block_on(
        engine
            .docker
            .create_container(Some(opts), container_body(new, init, &network)),
    ) {
        Ok(r) => Ok(r.id),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => {
            Err(DaemonError::AlreadyExists(new.name.clone()).into())
        }
        Err(e) => Err(e.into()),
    }
}

/// The init machines should boot on this engine: `ORBDOCK_INIT`, else what the probe found.
fn preferred_init(engine: &Engine) -> Init {
    match std::env::var(env::INIT).as_deref() {
        Ok("minimal") => Init::Minimal,
        Ok("systemd") => Init::Systemd,
        _ => match systemd_support(engine) {
            SystemdSupport::No(_) => Init::Minimal,
            _ => Init::Systemd,
        },
    }
}

/// Creates and boots a machine. Where systemd cannot be PID 1 (its container exits at once)
/// and `ORBDOCK_INIT` does not insist, the machine boots a minimal init instead. A machine
/// that does not come up is deleted, as OrbStack deletes a failed create.
pub fn create(engine: &Engine, new: &NewMachine) -> Result<Machine, MachineError> {
    let init = preferred_init(engine);
    let forced = matches!(std::env::var(env::INIT).as_deref(), Ok("systemd" | "minimal"));
    let container = create_container(engine, new, init)?;
    match boot(engine, &container, init, &new.username) {
        Ok(()) => {
            if init == Init::Systemd {
                remember_systemd(engine, SystemdSupport::Yes);
            }
        }
        Err(Boot::Exited(reason)) if init == Init::Systemd && !forced => {
            remove_quietly(engine, &container);
            remember_systemd(engine, SystemdSupport::No(reason));
            let container = create_container(engine, new, Init::Minimal)?;
            if let Err(e) = boot(engine, &container, Init::Minimal, &new.username) {
                remove_quietly(engine, &container);
                return Err(MachineError::Setup(e.to_string()));
            }
        }
        Err(e) => {
            remove_quietly(engine, &container);
            return Err(MachineError::Setup(e.to_string()));
        }
    }
    find(engine, &new.project, &new.id)?
        .ok_or_else(|| MachineError::Setup("the machine disappeared while it booted".into()))
}

/// Why a boot failed.
#[derive(Debug, thiserror::Error)]
pub enum Boot {
    /// The container stopped (init could not run): its exit and last log lines.
    #[error("machine crashed on startup: {0}")]
    Exited(String),
    /// It runs but did not become ready.
    #[error("{0}")]
    NotReady(String),
    #[error("docker engine: {0}")]
    Engine(#[from] bollard::errors::Error),
}

/// Starts a container and waits until it is ready.
pub fn boot(engine: &Engine, container: &str, init: Init, user: &str) -> Result<(), Boot> {
    engine.block_on(engine.docker.start_container(container, None::<StartContainerOptions>))?;
    wait_ready(engine, container, init, user)
}

/// Waits (inside the machine) until the user exists and, under systemd, the system is up
/// (`running` or `degraded`).
pub fn wait_ready(engine: &Engine, container: &str, init: Init, user: &str) -> Result<(), Boot> {
    let rounds = BOOT_TIMEOUT.as_millis() / 50;
    let script = format!(
        "u=\"$1\"; i=0; s=''; while [ $i -lt {rounds} ]; do \
         if [ -s /run/.orbdock-setup-error ]; then cat /run/.orbdock-setup-error >&2; exit 3; fi; \
         if id -u \"$u\" >/dev/null 2>&1; then \
           if [ \"$2\" = minimal ]; then exit 0; fi; \
           s=$(systemctl is-system-running 2>/dev/null); \
           case \"$s\" in running|degraded) exit 0;; esac; \
         fi; i=$((i+1)); sleep 0.05; done; \
         echo \"did not come up within {}s (systemd: ${{s:-not answering}})\" >&2; exit 1",
        BOOT_TIMEOUT.as_secs()
    );
    let cmd = vec![
        "/bin/sh".to_string(),
        "-c".into(),
        script,
        "sh".into(),
        user.to_string(),
        init.as_str().to_string(),
    ];
    match crate::exec::capture(engine, container, "root", &cmd) {
        Ok((0, _, _)) => Ok(()),
        Ok((_, _, err)) => {
            if !is_running(engine, container) {
                return Err(Boot::Exited(exit_reason(engine, container)));
            }
            let text = String::from_utf8_lossy(&err).trim().to_string();
            Err(Boot::NotReady(format!("setup: {text}")))
        }
        Err(e) => {
            if !is_running(engine, container) {
                return Err(Boot::Exited(exit_reason(engine, container)));
            }
            Err(Boot::Engine(e))
        }
    }
}

fn is_running(engine: &Engine, container: &str) -> bool {
    engine
        .block_on(
            engine
                .docker
                .inspect_container(container, None::<bollard::query_parameters::InspectContainerOptions>),
        )
        .ok()
        .and_then(|c| c.state)
        .and_then(|s| s.running)
        .unwrap_or(false)
}

/// A stopped container's exit code and the last lines it printed.
fn exit_reason(engine: &Engine, container: &str) -> String {
    let code = engine
        .block_on(
            engine
                .docker
                .inspect_container(container, None::<bollard::query_parameters::InspectContainerOptions>),
        )
        .ok()
        .and_then(|c| c.state)
        .and_then(|s| s.exit_code)
        .unwrap_or(-1);
    let tail = crate::exec::logs(engine, container, Some(5)).unwrap_or_default();
    let tail = String::from_utf8_lossy(&tail);
    let tail: Vec<&str> = tail.lines().filter(|l| !l.trim().is_empty()).collect();
    format!("init exited with status {code}: {}", tail.join(" | "))
}

fn remove_quietly(engine: &Engine, container: &str) {
    let _ = engine.block_on(engine.docker.remove_container(
        container,
        Some(RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        }),
    ));
}

/// Starts a stopped machine and waits until it is up; a running one is left alone.
pub fn start(engine: &Engine, m: &Machine) -> Result<(), MachineError> {
    if m.is_running() {
        return Ok(());
    }
    boot(engine, &m.container, m.init, &m.username).map_err(|e| MachineError::Setup(e.to_string()))
}

/// Stops a machine (systemd halts on SIGRTMIN+3); a stopped one is left alone.
pub fn stop(engine: &Engine, m: &Machine) -> Result<(), MachineError> {
    if !m.is_running() {
        return Ok(());
    }
    let opts = StopContainerOptions {
        t: Some(STOP_TIMEOUT),
        ..Default::default()
    };
    match engine.block_on(engine.docker.stop_container(&m.container, Some(opts))) {
        Ok(()) => Ok(()),
        // Already stopped (304) or gone meanwhile.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 304 | 404, ..
        }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Deletes a machine (killing it if it runs) and the snapshot image a clone or import made
/// for it.
pub fn delete(engine: &Engine, m: &Machine) -> Result<(), MachineError> {
    let r = engine.block_on(engine.docker.remove_container(
        &m.container,
        Some(RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        }),
    ));
    match r {
        Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
        Err(e) => return Err(e.into()),
    }
    remove_snapshot_image(engine, &m.image_id);
    // A default that names the machine goes with it.
    let opts = ListVolumesOptions {
        filters: Some(label_filter(&[
            (labels::KIND, labels::KIND_DEFAULT),
            (labels::ID, &m.id),
        ])),
    };
    if let Ok(r) = engine.block_on(engine.docker.list_volumes(Some(opts))) {
        for v in r.volumes.unwrap_or_default() {
            let _ = engine.block_on(engine.docker.remove_volume(&v.name, None::<RemoveVolumeOptions>));
        }
    }
    Ok(())
}

/// Removes an image made by clone/import once no machine uses it (best effort).
pub fn remove_snapshot_image(engine: &Engine, image_id: &str) {
    let is_snapshot = engine
        .block_on(engine.docker.inspect_image(image_id))
        .ok()
        .and_then(|i| i.config)
        .and_then(|c| c.labels)
        .is_some_and(|l| l.get(labels::KIND).map(String::as_str) == Some(labels::KIND_CLONE));
    if is_snapshot {
        let _ = engine.block_on(engine.docker.remove_image(image_id, None::<RemoveImageOptions>, None));
    }
}

/// The daemon's check of a new name: valid, and not taken in `all`.
pub fn check_new_name(all: &[Machine], name: &str) -> Result<(), DaemonError> {
    if !orbctl::images::valid_machine_name(name) {
        return Err(DaemonError::InvalidName(name.to_string()));
    }
    if all.iter().any(|m| m.name == name) {
        return Err(DaemonError::AlreadyExists(name.to_string()));
    }
    Ok(())
}

/// `clone`: the source's filesystem committed to a snapshot image, and a new stopped machine
/// on it (OrbStack leaves clones stopped too).
pub fn clone(engine: &Engine, project: &str, src: &Machine, dst: &str, run: &str) -> Result<Machine, MachineError> {
    let id = ulid::Ulid::new().to_string();
    let image_id = commit_snapshot(engine, &src.container, &id)?;
    let new = NewMachine {
        name: dst.to_string(),
        image: src.image.clone(),
        username: src.username.clone(),
        image_id: image_id.clone(),
        project: project.to_string(),
        run: run.to_string(),
        id: id.clone(),
    };
    if let Err(e) = create_container(engine, &new, src.init) {
        remove_snapshot_image(engine, &image_id);
        return Err(e);
    }
    find(engine, project, &id)?.ok_or_else(|| MachineError::Setup("the clone disappeared".into()))
}

/// Commits a container to a snapshot image (`orbtest/snapshot:<id>`), marked as such so it
/// is never taken for a machine image and goes with its machine.
pub fn commit_snapshot(engine: &Engine, container: &str, id: &str) -> Result<String, MachineError> {
    let opts = CommitContainerOptions {
        container: Some(container.to_string()),
        repo: Some("orbtest/snapshot".into()),
        tag: Some(id.to_lowercase()),
        pause: true,
        changes: Some(format!("LABEL {}={}", labels::KIND, labels::KIND_CLONE)),
        ..Default::default()
    };
    let r = engine.block_on(
        engine
            .docker
            .commit_container(opts, bollard::models::ContainerConfig::default()),
    )?;
    Ok(r.id)
}

/// `rename`: the container takes the new name. (The hostname stays until the machine is
/// made again: Docker cannot change it on an existing container.)
pub fn rename(engine: &Engine, project: &str, m: &Machine, new: &str) -> Result<(), MachineError> {
    let opts = RenameContainerOptions {
        name: container_name(project, new),
    };
    match engine.block_on(engine.docker.rename_container(&m.container, opts)) {
        Ok(()) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => {
            Err(DaemonError::RenameTaken(new.to_string()).into())
        }
        Err(e) => Err(e.into()),
    }
}

// ---- the default machine: a labelled volume per project naming the machine's id ----

fn default_volumes(engine: &Engine, project: &str) -> Result<Vec<bollard::models::Volume>, MachineError> {
    let opts = ListVolumesOptions {
        filters: Some(label_filter(&[
            (labels::KIND, labels::KIND_DEFAULT),
            (labels::PROJECT, project),
        ])),
    };
    let r = engine.block_on(engine.docker.list_volumes(Some(opts)))?;
    Ok(r.volumes.unwrap_or_default())
}

/// The id the project's default points at, if it names a machine in `all`.
pub fn default_id(engine: &Engine, project: &str, all: &[Machine]) -> Result<Option<String>, MachineError> {
    let mut vols = default_volumes(engine, project)?;
    vols.sort_by(|a, b| b.name.cmp(&a.name));
    Ok(vols
        .iter()
        .filter_map(|v| v.labels.get(labels::ID).cloned())
        .find(|id| all.iter().any(|m| &m.id == id)))
}

/// The default machine: the one set, else the first by name (as OrbStack picks).
pub fn default_machine(engine: &Engine, project: &str, all: &[Machine]) -> Result<Option<Machine>, MachineError> {
    let id = default_id(engine, project, all)?;
    Ok(match id {
        Some(id) => all.iter().find(|m| m.id == id).cloned(),
        None => all.first().cloned(),
    })
}

/// Makes `id` the project's default.
pub fn set_default(engine: &Engine, project: &str, id: &str) -> Result<(), MachineError> {
    let old = default_volumes(engine, project)?;
    // Names sort by time: a ULID per setting.
    let name = format!("orbtest_{}_default_{}", sanitize(project), ulid::Ulid::new());
    let req = VolumeCreateRequest {
        name: Some(name.clone()),
        labels: Some(HashMap::from([
            (labels::KIND.to_string(), labels::KIND_DEFAULT.to_string()),
            (labels::PROJECT.to_string(), project.to_string()),
            (labels::ID.to_string(), id.to_string()),
        ])),
        ..Default::default()
    };
    engine.block_on(engine.docker.create_volume(req))?;
    for v in old.into_iter().filter(|v| v.name != name) {
        let _ = engine.block_on(engine.docker.remove_volume(&v.name, None::<RemoveVolumeOptions>));
    }
    Ok(())
}

// ---- whether systemd can be PID 1 here ----

const PROBE_VOLUME: &str = "orbtest_systemd-probe";

/// What is known about systemd on this engine: `ORBDOCK_INIT`, this process's finding, the
/// engine's memory (a volume), else a probe with the newest machine image (if there is one).
pub fn systemd_support(engine: &Engine) -> SystemdSupport {
    if let Some(s) = engine.systemd.get() {
        return s.clone();
    }
    if std::env::var(env::INIT).as_deref() == Ok("minimal") {
        return SystemdSupport::No(format!("{}=minimal", env::INIT));
    }
    let remembered = engine
        .block_on(engine.docker.inspect_volume(PROBE_VOLUME))
        .ok()
        .and_then(|v| v.labels.get("dev.orbtest.systemd").cloned());
    if remembered.as_deref() == Some("yes") {
        let _ = engine.systemd.set(SystemdSupport::Yes);
        return SystemdSupport::Yes;
    }
    SystemdSupport::Unknown
}

/// Probes now (booting a throwaway machine from `image_id`) unless the answer is known.
pub fn probe_systemd(engine: &Engine, image_id: &str) -> SystemdSupport {
    match systemd_support(engine) {
        SystemdSupport::Unknown => {}
        known => return known,
    }
    let id = ulid::Ulid::new().to_string();
    let new = NewMachine {
        name: format!("probe-{}", id.to_lowercase()),
        image: ImageSpec {
            distro: String::new(),
            version: String::new(),
            arch: String::new(),
            variant: String::new(),
        },
        username: "root".into(),
        image_id: image_id.to_string(),
        project: "orbtest-probe".into(),
        run: String::new(),
        id,
    };
    let verdict = match create_container(engine, &new, Init::Systemd) {
        Err(e) => SystemdSupport::No(e.to_string()),
        Ok(container) => {
            let r = boot(engine, &container, Init::Systemd, "root");
            remove_quietly(engine, &container);
            match r {
                Ok(()) => SystemdSupport::Yes,
                Err(e) => SystemdSupport::No(e.to_string()),
            }
        }
    };
    remember_systemd(engine, verdict.clone());
    verdict
}

/// Keeps a verdict for this process; a "yes" also on the engine (a "no" may be the host's
/// passing trouble, such as too few inotify instances, so it is probed again next time).
fn remember_systemd(engine: &Engine, verdict: SystemdSupport) {
    if verdict == SystemdSupport::Yes {
        let req = VolumeCreateRequest {
            name: Some(PROBE_VOLUME.into()),
            labels: Some(HashMap::from([
                (labels::KIND.to_string(), labels::KIND_PROBE.to_string()),
                ("dev.orbtest.systemd".to_string(), "yes".to_string()),
            ])),
            ..Default::default()
        };
        let _ = engine.block_on(engine.docker.create_volume(req));
    }
    let _ = engine.systemd.set(verdict);
}

impl Engine {
    /// The engine's version, its API version, its architecture, and whether systemd can be
    /// PID 1 in a machine there. The systemd probe runs once per engine (it boots a throwaway
    /// container from the newest machine image) and is remembered on the engine in a volume
    /// labelled `dev.orbtest.kind=systemd-probe`; remove that volume to probe again.
    pub fn describe(&self) -> Description {
        let (version, api_version, arch) = self.version_facts().clone();
        let mut systemd = systemd_support(self);
        if systemd == SystemdSupport::Unknown
            && let Ok(images) = crate::images::list(self)
            && let Some(newest) = images.first()
        {
            systemd = probe_systemd(self, &newest.id);
        }
        Description {
            endpoint: self.endpoint().to_string(),
            version,
            api_version,
            arch,
            systemd,
        }
    }
}
