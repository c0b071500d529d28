//! What the Docker tests share: the engine (or a skip), the one machine image every test
//! boots (built once per engine, cached by recipe hash, behind a lock across test processes),
//! and a project per test whose machines are all deleted when the test ends.

#![allow(dead_code)]

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use orbdock::images::{self, ImageInfo, Recipe};
use orbdock::{Engine, labels};

/// The image name tests ask for.
pub(crate) const IMAGE: &str = "ubuntu:22.04";

pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Skips (returns `None`) when something outside is missing on a developer machine; fails
/// under `CI=true`.
pub(crate) fn skip(why: &str) -> Option<Engine> {
    if in_ci() {
        panic!("CI=true and {why}: .ci/run provides it");
    }
    eprintln!("SKIPPED: {why}");
    None
}

/// The engine, or a skip when there is none.
pub(crate) fn engine() -> Option<Engine> {
    match Engine::connect() {
        Ok(e) => Some(e),
        Err(e) => skip(&format!("no Docker engine ({e})")),
    }
}

/// The recipe the tests' machine image comes from: Debian's stable suite.
pub(crate) fn recipe() -> Recipe {
    Recipe {
        debootstrap: Some("bookworm".into()),
        ..Default::default()
    }
}

fn tmp() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

/// The build log of the shared image.
pub(crate) fn image_log() -> PathBuf {
    tmp().join("orbdock-image.log")
}

/// The shared machine image (built on first use, by one test process at a time), or a skip
/// when the engine or debootstrap is missing.
pub(crate) fn image() -> Option<(Engine, ImageInfo)> {
    let engine = engine()?;
    static BUILT: OnceLock<Result<ImageInfo, String>> = OnceLock::new();
    let r = BUILT.get_or_init(|| {
        let lock = std::fs::File::create(tmp().join("orbdock-image.lock")).map_err(|e| e.to_string())?;
        // SAFETY: flock on a descriptor we own; released when the file closes.
        unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
        sweep_stale_test_machines(&engine);
        if let Ok(Some(found)) = images::cached(&engine, IMAGE, &recipe()) {
            return Ok(found);
        }
        if !Path::new("/usr/sbin/debootstrap").exists() {
            return Err("debootstrap is not installed".into());
        }
        images::ensure(&engine, IMAGE, &recipe(), false, &image_log()).map_err(|e| e.to_string())
    });
    match r {
        Ok(info) => Some((engine, info.clone())),
        Err(e) if e.contains("not installed") => {
            skip(e);
            None
        }
        Err(e) => panic!(
            "building the test machine image failed: {e} (log: {})",
            image_log().display()
        ),
    }
}

/// One test's world: a project of its own, the image map, a scratch directory. Dropping it
/// deletes every container, volume and snapshot image of the project.
pub(crate) struct World {
    pub(crate) project: String,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) images_map: PathBuf,
    pub(crate) engine: Engine,
}

impl World {
    pub(crate) fn new(engine: Engine, image: &ImageInfo) -> World {
        let project = format!("orbdock-test-{}", ulid::Ulid::new().to_string().to_lowercase());
        let dir = tempfile::tempdir().expect("tempdir");
        let images_map = dir.path().join("images.json");
        let map = HashMap::from([(IMAGE.to_string(), image.id.clone())]);
        std::fs::write(&images_map, serde_json::to_string(&map).expect("json")).expect("write images map");
        World {
            project,
            dir,
            images_map,
            engine,
        }
    }

    /// `orbdock ARGS...` in this world (cwd: the scratch directory, stdin empty).
    pub(crate) fn orbctl<I, S>(&self, args: I) -> Out
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.orbctl_stdin(args, b"")
    }

    pub(crate) fn orbctl_stdin<I, S>(&self, args: I, stdin: &[u8]) -> Out
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = self.command();
        c.args(args);
        run_with_stdin(c, stdin)
    }

    pub(crate) fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_orbdock"));
        c.env("ORBDOCK_PROJECT", &self.project)
            .env("ORBDOCK_RUN", "test")
            .env("ORBTEST_DOCKER_IMAGES", &self.images_map)
            .env("USER", "tester")
            .current_dir(self.dir.path());
        c
    }
}

impl Drop for World {
    fn drop(&mut self) {
        cleanup_project(&self.engine, &self.project);
    }
}

/// Deletes what orbdock made for `project` (machines, their snapshot images, default volumes).
pub(crate) fn cleanup_project(engine: &Engine, project: &str) {
    let Ok(machines) = orbdock::machine::list(engine, project) else {
        return;
    };
    for m in machines {
        let _ = orbdock::machine::delete(engine, &m);
    }
    let docker = engine.docker();
    let rt = tokio_rt();
    let filters = HashMap::from([("label".to_string(), vec![format!("{}={project}", labels::PROJECT)])]);
    if let Ok(v) = rt.block_on(docker.list_volumes(Some(bollard::query_parameters::ListVolumesOptions {
        filters: Some(filters),
    }))) {
        for vol in v.volumes.unwrap_or_default() {
            let _ =
                rt.block_on(docker.remove_volume(&vol.name, None::<bollard::query_parameters::RemoveVolumeOptions>));
        }
    }
}

pub(crate) fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Out {
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) code: i32,
}

impl Out {
    #[track_caller]
    pub(crate) fn ok(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success: {self:?}");
        self
    }
}

pub(crate) fn run_with_stdin(mut c: Command, stdin: &[u8]) -> Out {
    use std::io::Write;
    c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(stdin);
    }
    let out = child.wait_with_output().expect("wait");
    Out {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

/// Machines of test projects made over an hour ago belong to test processes that were killed
/// before they could clean up (a timeout): they go, with their snapshot images.
fn sweep_stale_test_machines(engine: &Engine) {
    let rt = tokio_rt();
    let filters = HashMap::from([("label".to_string(), vec![labels::MACHINE.to_string()])]);
    let Ok(all) = rt.block_on(engine.docker().list_containers(Some(
        bollard::query_parameters::ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        },
    ))) else {
        return;
    };
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let mut stale_projects = std::collections::BTreeSet::new();
    for c in all {
        let labels_map = c.labels.unwrap_or_default();
        let project = labels_map.get(labels::PROJECT).cloned().unwrap_or_default();
        let made = labels_map
            .get(labels::ID)
            .and_then(|id| ulid::Ulid::from_string(id).ok())
            .map(|u| u.datetime());
        if project.starts_with("orbdock-test-") && made.is_some_and(|t| t < hour_ago) {
            stale_projects.insert(project);
        }
    }
    for project in stale_projects {
        cleanup_project(engine, &project);
    }
}
