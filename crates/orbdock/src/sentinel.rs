//! Sentinel containers: how cargo-orbtest keeps its run lock and knows which runs are alive when
//! machines live on a Docker engine (possibly a remote one, where no file lock reaches).
//!
//! A sentinel is a tiny container whose only process reads its stdin until end of file. It is
//! started with its stdin attached to the process that holds it and closed when that
//! connection closes (`StdinOnce`), and removed when it exits (`AutoRemove`): however the holder
//! ends, SIGKILL included, the engine closes the connection, the sentinel exits and is gone.
//!
//! * A run is alive while its **run sentinel** is running (`dev.orbtest.sentinel=run`, with the
//!   project and run labels).
//! * The **run lock** of a project is a sentinel of a fixed name, `orbtest-lock-<project>`:
//!   container names are unique per engine, so creating it is taking the lock.
//!
//! Sentinels never carry [`labels::MACHINE`], so no orbctl command ever shows or touches one.
//! Their image holds one static executable of a few hundred bytes (written here, for the
//! engine's architecture) and is imported once per engine: no registry is needed.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    AttachContainerOptions, CreateContainerOptions, CreateImageOptions, InspectContainerOptions, ListContainersOptions,
    RemoveContainerOptions, StartContainerOptions,
};
use futures_util::StreamExt;

use crate::engine::Engine;
use crate::labels;

/// `run` or `lock`: what a sentinel stands for. Never on a machine.
pub const SENTINEL: &str = "dev.orbtest.sentinel";
/// The image sentinels run (its tag is the hash of the executable).
pub const IMAGE_REPO: &str = "orbtest-sentinel";
/// A lock sentinel that is not running this long after it was created was left by a holder
/// that died between creating and starting it: it is removed.
const STALE_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum SentinelError {
    #[error("the Docker engine refused a sentinel container: {0}")]
    Docker(#[from] bollard::errors::Error),
    #[error("no sentinel executable for the engine's architecture `{0}` (amd64 and arm64 have one)")]
    Arch(String),
}

/// A running sentinel, held for as long as this value lives (and by the engine, for as long as
/// this process lives).
pub struct Hold {
    engine: Engine,
    id: String,
    /// The attached stdin: the connection whose end stops the sentinel.
    _attached: bollard::container::AttachContainerResults,
}

impl std::fmt::Debug for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sentinel {}", self.id)
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        // At once, rather than when the engine notices the closed connection.
        let options = RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        let _ = self
            .engine
            .block_on(self.engine.docker().remove_container(&self.id, Some(options)));
    }
}

/// The name of `project`'s lock sentinel.
pub fn lock_name(project: &str) -> String {
    format!("orbtest-lock-{project}")
}

/// Takes `project`'s run lock for `run` at once; `None` when another holder has it.
pub fn lock(engine: Engine, project: &str, run: &str) -> Result<Option<Hold>, SentinelError> {
    let name = lock_name(project);
    for _ in 0..2 {
        match start(&engine, &name, "lock", project, run)? {
            Started::Running(id, attached) => {
                return Ok(Some(Hold {
                    engine,
                    id,
                    _attached: attached,
                }));
            }
            Started::NameTaken => {
                if !remove_if_stale(&engine, &name)? {
                    return Ok(None);
                }
            }
        }
    }
    Ok(None)
}

/// The run that holds `project`'s lock, if any does.
pub fn lock_holder(engine: &Engine, project: &str) -> Option<String> {
    let inspect = engine
        .block_on(
            engine
                .docker()
                .inspect_container(&lock_name(project), None::<InspectContainerOptions>),
        )
        .ok()?;
    inspect.config?.labels?.get(labels::RUN).cloned()
}

/// Marks `run` of `project` alive for as long as the hold lives.
pub fn hold_run(engine: Engine, project: &str, run: &str) -> Result<Hold, SentinelError> {
    let name = format!("orbtest-run-{project}-{run}");
    loop {
        match start(&engine, &name, "run", project, run)? {
            Started::Running(id, attached) => {
                return Ok(Hold {
                    engine,
                    id,
                    _attached: attached,
                });
            }
            // Only a run with this very id (ours, started again) can have this name.
            Started::NameTaken => {
                let options = RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                };
                engine.block_on(engine.docker().remove_container(&name, Some(options)))?;
            }
        }
    }
}

/// Whether `run` of `project` is alive: its run sentinel is running.
pub fn is_alive(engine: &Engine, project: &str, run: &str) -> Result<bool, SentinelError> {
    let filters = HashMap::from([
        (
            "label".to_string(),
            vec![
                format!("{SENTINEL}=run"),
                format!("{}={project}", labels::PROJECT),
                format!("{}={run}", labels::RUN),
            ],
        ),
        ("status".to_string(), vec!["running".to_string()]),
    ]);
    let options = ListContainersOptions {
        all: false,
        filters: Some(filters),
        ..Default::default()
    };
    Ok(!engine
        .block_on(engine.docker().list_containers(Some(options)))?
        .is_empty())
}

enum Started {
    Running(String, bollard::container::AttachContainerResults),
    NameTaken,
}

fn start(engine: &Engine, name: &str, kind: &str, project: &str, run: &str) -> Result<Started, SentinelError> {
    let image = ensure_image(engine)?;
    let docker = engine.docker();
    let body = ContainerCreateBody {
        image: Some(image),
        cmd: Some(vec!["/sentinel".to_string()]),
        attach_stdin: Some(true),
        open_stdin: Some(true),
        stdin_once: Some(true),
        labels: Some(HashMap::from([
            (SENTINEL.to_string(), kind.to_string()),
            (labels::PROJECT.to_string(), project.to_string()),
            (labels::RUN.to_string(), run.to_string()),
        ])),
        host_config: Some(HostConfig {
            auto_remove: Some(true),
            network_mode: Some("none".to_string()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptions {
        name: Some(name.to_string()),
        ..Default::default()
    };
    let id = match engine.block_on(docker.create_container(Some(options), body)) {
        Ok(created) => created.id,
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => {
            return Ok(Started::NameTaken);
        }
        Err(e) => return Err(e.into()),
    };
    let attach = AttachContainerOptions {
        stdin: true,
        stream: true,
        ..Default::default()
    };
    let attached = match engine.block_on(docker.attach_container(&id, Some(attach))) {
        Ok(a) => a,
        Err(e) => {
            remove(engine, &id);
            return Err(e.into());
        }
    };
    if let Err(e) = engine.block_on(docker.start_container(&id, None::<StartContainerOptions>)) {
        remove(engine, &id);
        return Err(e.into());
    }
    Ok(Started::Running(id, attached))
}

fn remove(engine: &Engine, id: &str) {
    let options = RemoveContainerOptions {
        force: true,
        ..Default::default()
    };
    let _ = engine.block_on(engine.docker().remove_container(id, Some(options)));
}

/// Removes the sentinel `name` if its holder died before starting it; whether it did (or it
/// was gone already).
fn remove_if_stale(engine: &Engine, name: &str) -> Result<bool, SentinelError> {
    let inspect = match engine.block_on(engine.docker().inspect_container(name, None::<InspectContainerOptions>)) {
        Ok(i) => i,
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => return Ok(true),
        Err(e) => return Err(e.into()),
    };
    let running = inspect.state.as_ref().and_then(|s| s.running).unwrap_or(false);
    if running {
        return Ok(false);
    }
    let created = inspect.created.as_deref().and_then(age_of).unwrap_or(Duration::ZERO);
    if created < STALE_AFTER {
        return Ok(false);
    }
    remove(engine, name);
    Ok(true)
}

/// How long ago an RFC 3339 time (`2026-11-30T20:31:45.123456789Z`) was.
fn age_of(rfc3339: &str) -> Option<Duration> {
    let (date, time) = rfc3339.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let time = time.trim_end_matches('Z');
    let time = time.split(['+', '.']).next()?;
    let mut t = time.split(':').map(|p| p.parse::<i64>());
    let (hh, mm, ss) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs() as i64;
    Some(Duration::from_secs(now.saturating_sub(secs).max(0) as u64))
}

/// Imports the sentinel image for the engine's architecture unless the engine has it.
fn ensure_image(engine: &Engine) -> Result<String, SentinelError> {
    let arch = engine.arch();
    let exe = match arch.as_str() {
        "amd64" => elf(62, X86_64),
        "arm64" => elf(183, &AARCH64.iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<_>>()),
        other => return Err(SentinelError::Arch(other.to_string())),
    };
    let tag = {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&exe);
        digest.iter().take(6).map(|b| format!("{b:02x}")).collect::<String>()
    };
    let reference = format!("{IMAGE_REPO}:{tag}");
    if engine.block_on(engine.docker().inspect_image(&reference)).is_ok() {
        return Ok(reference);
    }
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(exe.len() as u64);
    header.set_mode(0o755);
    header.set_cksum();
    tar.append_data(&mut header, "sentinel", exe.as_slice())
        .map_err(|e| bollard::errors::Error::IOError { err: e })?;
    let bytes = tar
        .into_inner()
        .map_err(|e| bollard::errors::Error::IOError { err: e })?;
    let options = CreateImageOptions {
        from_src: Some("-".to_string()),
        repo: Some(IMAGE_REPO.to_string()),
        tag: Some(tag),
        changes: vec!["CMD [\"/sentinel\"]".to_string()],
        ..Default::default()
    };
    let body = bollard::body_full(bytes.into());
    let mut stream = engine.docker().create_image(Some(options), Some(body), None);
    engine.block_on(async {
        while let Some(item) = stream.next().await {
            item?;
        }
        Ok::<(), bollard::errors::Error>(())
    })?;
    Ok(reference)
}

/// x86-64: reserve 256 bytes of stack; `read(0, buf, 256)` until it returns 0 or less; `exit(0)`.
const X86_64: &[u8] = &[
    0x48, 0x81, 0xec, 0x00, 0x01, 0x00, 0x00, // sub $256, %rsp
    0x31, 0xc0, // xor %eax, %eax          (read)
    0x31, 0xff, // xor %edi, %edi          (stdin)
    0x48, 0x89, 0xe6, // mov %rsp, %rsi
    0xba, 0x00, 0x01, 0x00, 0x00, // mov $256, %edx
    0x0f, 0x05, // syscall
    0x48, 0x85, 0xc0, // test %rax, %rax
    0x7f, 0xed, // jg (back to the read)
    0xb8, 0x3c, 0x00, 0x00, 0x00, // mov $60, %eax (exit)
    0x31, 0xff, // xor %edi, %edi
    0x0f, 0x05, // syscall
];

/// The same on AArch64 (`read` is 63, `exit` 93).
const AARCH64: &[u32] = &[
    0xd10403ff, // sub sp, sp, #256
    0xd2800000, // mov x0, #0
    0x910003e1, // mov x1, sp
    0xd2802002, // mov x2, #256
    0xd28007e8, // mov x8, #63
    0xd4000001, // svc #0
    0xf100001f, // cmp x0, #0
    0x54ffff4c, // b.gt (back to mov x0)
    0xd2800000, // mov x0, #0
    0xd2800ba8, // mov x8, #93
    0xd4000001, // svc #0
];

/// A static ELF64 executable: one read+execute segment holding the headers and `code`, which
/// starts right after them.
fn elf(machine: u16, code: &[u8]) -> Vec<u8> {
    const BASE: u64 = 0x40_0000;
    const HEADERS: u64 = 64 + 56;
    let size = HEADERS + code.len() as u64;
    let mut out = Vec::with_capacity(size as usize);
    out.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]); // ELF64, little endian, v1, SysV
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&2u16.to_le_bytes()); // an executable
    out.extend_from_slice(&machine.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&(BASE + HEADERS).to_le_bytes()); // entry point
    out.extend_from_slice(&64u64.to_le_bytes()); // program headers right after this header
    out.extend_from_slice(&0u64.to_le_bytes()); // no section headers
    out.extend_from_slice(&0u32.to_le_bytes()); // flags
    out.extend_from_slice(&64u16.to_le_bytes()); // this header's size
    out.extend_from_slice(&56u16.to_le_bytes()); // a program header's size
    out.extend_from_slice(&1u16.to_le_bytes()); // one program header
    out.extend_from_slice(&[0; 6]); // no section headers or names
    out.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    out.extend_from_slice(&5u32.to_le_bytes()); // read + execute
    out.extend_from_slice(&0u64.to_le_bytes()); // from the file's start
    out.extend_from_slice(&BASE.to_le_bytes()); // virtual address
    out.extend_from_slice(&BASE.to_le_bytes()); // physical address
    out.extend_from_slice(&size.to_le_bytes()); // size in the file
    out.extend_from_slice(&size.to_le_bytes()); // size in memory
    out.extend_from_slice(&0x1000u64.to_le_bytes()); // alignment
    out.extend_from_slice(code);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sentinel_executable_reads_stdin_until_it_closes() {
        if std::env::consts::ARCH != "x86_64" {
            return;
        }
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sentinel");
        std::fs::write(&path, elf(62, X86_64)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut child = std::process::Command::new(&path)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"still here\n").unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            child.try_wait().unwrap().is_none(),
            "it keeps reading while stdin is open"
        );
        drop(stdin);
        assert!(child.wait().unwrap().success(), "it exits 0 when stdin closes");
    }

    #[test]
    fn rfc3339_ages() {
        let age = age_of("2020-01-01T00:00:00.5Z").unwrap();
        assert!(age > Duration::from_secs(5 * 365 * 86_400));
        assert_eq!(age_of("garbage"), None);
    }
}
