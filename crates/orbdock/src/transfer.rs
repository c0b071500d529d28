//! What crosses between the host and a machine: `run` (this process's stdin/stdout/stderr),
//! `push`/`pull` (files, copied by `cp -rf` inside the machine as orbctl does) and
//! `export`/`import` (an archive holding the machine's record and filesystem).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use futures_util::StreamExt;
use orbctl::errors::DaemonError;
use orbctl::op::Op;
use orbctl::output::MachineRecord;

use crate::exec::{self, Streamed};
use crate::machine::{self, Machine, NewMachine};
use crate::reply::{Ctx, Reply, go_io_error, isatty};

enum Missing {
    Named(String),
    NoMachines,
}

/// The machine (named, else the default), started if it was not running.
fn target(ctx: &Ctx, name: Option<&str>) -> Result<Result<Machine, Missing>, Reply> {
    let all = machine::list(&ctx.engine, &ctx.project).map_err(Reply::from)?;
    let m = match name {
        Some(n) => match machine::pick(all, n) {
            Some(m) => m,
            None => return Ok(Err(Missing::Named(n.to_string()))),
        },
        None => match machine::default_machine(&ctx.engine, &ctx.project, &all).map_err(Reply::from)? {
            Some(m) => m,
            None => return Ok(Err(Missing::NoMachines)),
        },
    };
    if !m.is_running() {
        machine::start(&ctx.engine, &m).map_err(Reply::from)?;
        // Its address is known once it runs.
        return Ok(machine::find(&ctx.engine, &ctx.project, &m.id)
            .map_err(Reply::from)?
            .ok_or(Missing::Named(m.name)));
    }
    Ok(Ok(m))
}

pub struct RunCall<'a> {
    pub machine: Option<&'a str>,
    pub user: Option<&'a str>,
    pub workdir: Option<&'a str>,
    pub shell: bool,
    pub command: &'a [String],
}

/// `run`: the command in the machine, as the default user (or `-u`), in the user's home (or
/// `-w`, relative to the home), with this process's stdin, stdout and stderr; its exit code.
pub fn run(ctx: &Ctx, a: RunCall<'_>) -> Reply {
    let m = match target(ctx, a.machine) {
        Ok(Ok(m)) => m,
        Ok(Err(Missing::Named(n))) => {
            // The SSH session fails with status 1; its text only reaches a terminal.
            let any_tty = isatty(0) || isatty(1) || isatty(2);
            let text = if any_tty {
                format!("machine not found: '{n}'\n")
            } else {
                String::new()
            };
            return Reply::err(text, 1);
        }
        Ok(Err(Missing::NoMachines)) => return Reply::err(orbctl::text::NO_MACHINES_HINT, 1),
        Err(r) => return r,
    };
    let user = a.user.filter(|u| !u.is_empty()).unwrap_or(&m.username).to_string();
    let home = Machine::home_of(&user);
    let workdir = match a.workdir.filter(|w| !w.is_empty()) {
        Some(w) if w.starts_with('/') => w.to_string(),
        Some(w) => format!("{home}/{w}"),
        None => home.clone(),
    };
    // Through sh, so a missing program fails as a remote shell would (127) and a missing
    // working directory is reported, not an engine error.
    let mut cmd: Vec<String> = vec![
        "/bin/sh".into(),
        "-c".into(),
        format!(
            "cd \"$ORBDOCK_WORKDIR\" 2>/dev/null || {{ echo \"orbdock: working directory '$ORBDOCK_WORKDIR' does not exist in machine '{}'\" >&2; exit 1; }}; \
             unset ORBDOCK_WORKDIR; \
             if [ $# -eq 0 ]; then if [ -x /bin/bash ]; then exec /bin/bash -l; else exec /bin/sh -l; fi; fi; exec \"$@\"",
            m.name
        ),
        "sh".into(),
    ];
    if a.shell {
        cmd.extend(["/bin/sh".to_string(), "-c".into(), a.command.join(" ")]);
    } else {
        cmd.extend(a.command.iter().cloned());
    }
    let env = vec![
        format!("HOME={home}"),
        format!("USER={user}"),
        format!("LOGNAME={user}"),
        format!("ORBDOCK_WORKDIR={workdir}"),
    ];
    let tty = isatty(0) && isatty(1);
    match exec::stream(
        &ctx.engine,
        Streamed {
            container: &m.container,
            user: &user,
            workdir: "/",
            env,
            cmd,
            tty,
        },
    ) {
        Ok(code) => Reply::code(i32::try_from(code).unwrap_or(1)),
        Err(e) => Reply::daemon(&format!("docker engine: {e}")),
    }
}

fn copy_target(ctx: &Ctx, name: Option<&str>) -> Result<Machine, Reply> {
    match target(ctx, name) {
        Ok(Ok(m)) => Ok(m),
        Ok(Err(Missing::Named(n))) => Err(Reply::daemon(&DaemonError::NotFound(n).to_string())),
        Ok(Err(Missing::NoMachines)) => Err(Reply::daemon("no machines found")),
        Err(r) => Err(r),
    }
}

fn host_path(p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    std::env::current_dir().map_or_else(|_| path.to_path_buf(), |cwd| cwd.join(path))
}

/// A staging directory inside the machine.
fn staging(kind: &str) -> String {
    format!("/tmp/.orbdock-{kind}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// `push`: host files to the machine (`cp -rf SRC... DEST` as the default user in the home;
/// DEST defaults to the home).
pub fn push(ctx: &Ctx, name: Option<&str>, paths: &[String]) -> Reply {
    let m = match copy_target(ctx, name) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let (sources, dest) = Op::copy_sources(paths);
    let dest = dest.unwrap_or(".").to_string();
    let stage = staging("push");
    let stage_name = stage.trim_start_matches("/tmp/").to_string();
    let mut stderr = String::new();
    let mut failed = false;
    let mut staged: Vec<String> = Vec::new();
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    for (i, s) in sources.iter().enumerate() {
        let abs = host_path(s);
        let Ok(meta) = std::fs::symlink_metadata(&abs) else {
            stderr.push_str(&format!(
                "cp: cannot stat '{}': No such file or directory\n",
                abs.display()
            ));
            failed = true;
            continue;
        };
        let base = abs
            .file_name()
            .map_or_else(|| "root".to_string(), |n| n.to_string_lossy().into_owned());
        let inner = format!("{stage_name}/{i}/{base}");
        let r = if meta.is_dir() {
            tar.append_dir_all(&inner, &abs)
        } else {
            tar.append_path_with_name(&abs, &inner)
        };
        if let Err(e) = r {
            stderr.push_str(&format!("cp: cannot read '{}': {e}\n", abs.display()));
            failed = true;
            continue;
        }
        staged.push(format!("{stage}/{i}/{base}"));
    }
    let body = match tar.into_inner() {
        Ok(b) => b,
        Err(e) => return Reply::daemon(&format!("push: {e}")),
    };
    let mut code = if failed { 1 } else { 0 };
    if !staged.is_empty() {
        let opts = bollard::query_parameters::UploadToContainerOptions {
            path: "/tmp".into(),
            ..Default::default()
        };
        if let Err(e) = ctx.engine.block_on(ctx.engine.docker.upload_to_container(
            &m.container,
            Some(opts),
            bollard::body_full(body.into()),
        )) {
            return Reply::daemon(&format!("push: docker engine: {e}"));
        }
        let home = Machine::home_of(&m.username);
        let mut cmd = vec![
            "/bin/sh".to_string(),
            "-c".into(),
            "u=\"$1\"; s=\"$2\"; h=\"$3\"; shift 3; chown -R \"$u\": \"$s\" 2>/dev/null; cd \"$h\" && \
             runuser -u \"$u\" -- cp -rf \"$@\"; c=$?; rm -rf \"$s\"; exit $c"
                .into(),
            "sh".into(),
            m.username.clone(),
            stage.clone(),
            home,
        ];
        cmd.extend(staged);
        cmd.push(dest);
        match exec::capture(&ctx.engine, &m.container, "root", &cmd) {
            Ok((c, out, err)) => {
                stderr.push_str(&String::from_utf8_lossy(&out));
                stderr.push_str(&String::from_utf8_lossy(&err));
                if c != 0 {
                    code = i32::try_from(c).unwrap_or(1);
                }
            }
            Err(e) => return Reply::daemon(&format!("push: docker engine: {e}")),
        }
    }
    Reply::err(stderr, code)
}

/// `pull`: machine files to the host (`cp -rf SRC... DEST`; DEST defaults to the current
/// directory; machine paths are relative to the default user's home).
pub fn pull(ctx: &Ctx, name: Option<&str>, paths: &[String]) -> Reply {
    let m = match copy_target(ctx, name) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let (sources, dest) = Op::copy_sources(paths);
    let dest = host_path(dest.unwrap_or("."));
    let stage = staging("pull");
    let home = Machine::home_of(&m.username);
    let mut cmd = vec![
        "/bin/sh".to_string(),
        "-c".into(),
        "u=\"$1\"; s=\"$2\"; h=\"$3\"; shift 3; mkdir -p \"$s\" && chown \"$u\": \"$s\" && cd \"$h\" && \
         runuser -u \"$u\" -- cp -rf \"$@\" \"$s/\""
            .into(),
        "sh".into(),
        m.username.clone(),
        stage.clone(),
        home,
    ];
    cmd.extend(sources.iter().cloned());
    let (code, err) = match exec::capture(&ctx.engine, &m.container, "root", &cmd) {
        Ok((c, _, err)) => (c, err),
        Err(e) => return Reply::daemon(&format!("pull: docker engine: {e}")),
    };
    let mut stderr = String::from_utf8_lossy(&err).into_owned();
    let fetched = fetch_dir(ctx, &m, &stage, &dest, sources.len());
    let _ = exec::capture(
        &ctx.engine,
        &m.container,
        "root",
        &["rm".into(), "-rf".into(), stage.clone()],
    );
    let mut code = i32::try_from(code).unwrap_or(1);
    if let Err(msg) = fetched {
        stderr.push_str(&msg);
        code = 1;
    }
    Reply::err(stderr, code)
}

/// Downloads the staging directory and writes its entries where `cp -rf ... DEST` would.
fn fetch_dir(ctx: &Ctx, m: &Machine, stage: &str, dest: &Path, n_sources: usize) -> Result<(), String> {
    let opts = bollard::query_parameters::DownloadFromContainerOptions {
        path: format!("{stage}/."),
    };
    let bytes = ctx
        .engine
        .block_on(async {
            let mut s = ctx.engine.docker.download_from_container(&m.container, Some(opts));
            let mut v = Vec::new();
            while let Some(chunk) = s.next().await {
                v.extend_from_slice(&chunk?);
            }
            Ok::<_, bollard::errors::Error>(v)
        })
        .map_err(|e| format!("pull: docker engine: {e}\n"))?;
    let into_dir = dest.is_dir();
    let mut archive = tar::Archive::new(bytes.as_slice());
    let entries = archive.entries().map_err(|e| format!("pull: {e}\n"))?;
    let mut tops = std::collections::BTreeSet::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("pull: {e}\n"))?;
        let path = entry.path().map_err(|e| format!("pull: {e}\n"))?.into_owned();
        // The archive's root is the staging directory itself (`./`).
        let rel: PathBuf = path
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        let mut comps = rel.components();
        let Some(top) = comps.next() else { continue };
        if path.components().any(|c| matches!(c, Component::ParentDir)) {
            continue;
        }
        tops.insert(top.as_os_str().to_owned());
        let rest: PathBuf = comps.collect();
        let base = if into_dir {
            dest.join(top)
        } else if n_sources == 1 {
            dest.to_path_buf()
        } else {
            return Err(format!("cp: target '{}' is not a directory\n", dest.display()));
        };
        let target = if rest.as_os_str().is_empty() {
            base
        } else {
            base.join(rest)
        };
        if let Some(parent) = target.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if entry.header().entry_type().is_dir() && target.is_dir() {
            continue;
        }
        entry
            .unpack(&target)
            .map_err(|e| format!("cp: cannot create '{}': {e}\n", target.display()))?;
    }
    Ok(())
}

// ---- export / import ----

const CONFIG: &str = "_orbstack/config.v1.json";
const ROOTFS: &str = "rootfs.tar";

#[derive(serde::Serialize, serde::Deserialize)]
struct ExportConfig {
    format: u32,
    record: MachineRecord,
}

/// `export NAME PATH`: a tar holding `_orbstack/config.v1.json` (the machine's record) and
/// `rootfs.tar` (its filesystem, as the engine exports it).
pub fn export(ctx: &Ctx, name: &str, path: &str) -> Reply {
    let out = host_path(path);
    let m = match machine::find(&ctx.engine, &ctx.project, name) {
        Ok(Some(m)) => m,
        Ok(None) => return Reply::daemon(&DaemonError::NotFound(name.to_string()).to_string()),
        Err(e) => return e.into(),
    };
    let shown = out.display().to_string();
    match write_export(ctx, &m, &out) {
        Ok(()) => Reply::ok(),
        Err(msg) => Reply::daemon(&format!("export {shown}: {msg}")),
    }
}

fn write_export(ctx: &Ctx, m: &Machine, out: &Path) -> Result<(), String> {
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut rootfs = tempfile::tempfile_in(dir).map_err(|e| go_io_error("open", &out.display().to_string(), &e))?;
    ctx.engine.block_on(async {
        use std::io::Write;
        let mut s = ctx.engine.docker.export_container(&m.container);
        while let Some(chunk) = s.next().await {
            let chunk = chunk.map_err(|e| format!("docker engine: {e}"))?;
            rootfs.write_all(&chunk).map_err(|e| e.to_string())?;
        }
        Ok::<(), String>(())
    })?;
    let size = rootfs.seek(SeekFrom::End(0)).map_err(|e| e.to_string())?;
    rootfs.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let mut record = m.record();
    record.state = "stopped".into();
    let config = serde_json::to_vec_pretty(&ExportConfig { format: 1, record }).map_err(|e| e.to_string())?;
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| e.to_string())?;
    let mut tar = tar::Builder::new(tmp.as_file());
    let mut header = tar::Header::new_gnu();
    header.set_size(config.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, CONFIG, config.as_slice())
        .map_err(|e| e.to_string())?;
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, ROOTFS, &mut rootfs)
        .map_err(|e| e.to_string())?;
    tar.finish().map_err(|e| e.to_string())?;
    drop(tar);
    tmp.as_file().sync_all().map_err(|e| e.to_string())?;
    tmp.persist(out).map_err(|e| e.error.to_string())?;
    Ok(())
}

/// `import [-n NAME] PATH`: a new stopped machine from an export.
pub fn import(ctx: &Ctx, name: Option<&str>, path: &str) -> Reply {
    let input = host_path(path);
    let shown = input.display().to_string();
    let (record, offset, size) = match read_export(&input) {
        Ok(v) => v,
        Err(msg) => return Reply::daemon(&msg),
    };
    let new_name = name
        .filter(|n| !n.is_empty())
        .map_or(record.name.clone(), str::to_string);
    let all = match machine::list(&ctx.engine, &ctx.project) {
        Ok(v) => v,
        Err(e) => return e.into(),
    };
    if let Err(e) = machine::check_new_name(&all, &new_name) {
        return Reply::daemon(&e.to_string());
    }
    let id = ulid::Ulid::new().to_string();
    let tag = format!("orbtest/snapshot:{}", id.to_lowercase());
    let file = match File::open(&input).and_then(|mut f| f.seek(SeekFrom::Start(offset)).map(|_| f)) {
        Ok(f) => f.take(size),
        Err(e) => return Reply::daemon(&go_io_error("open", &shown, &e)),
    };
    let changes = vec![
        "CMD [\"/sbin/init\"]".to_string(),
        "ENV container=docker".into(),
        format!("LABEL {}={}", crate::labels::KIND, crate::labels::KIND_CLONE),
    ];
    if let Err(e) = crate::images::import_reader(&ctx.engine, file, &tag, &changes) {
        return Reply::daemon(&format!("import {shown}: {e}"));
    }
    let new = NewMachine {
        name: new_name,
        image: record.image,
        username: record.config.default_username,
        image_id: tag.clone(),
        project: ctx.project.clone(),
        run: ctx.run.clone(),
        id,
    };
    let init = match machine::systemd_support(&ctx.engine) {
        crate::engine::SystemdSupport::No(_) => machine::Init::Minimal,
        _ => machine::Init::Systemd,
    };
    match machine::create_container(&ctx.engine, &new, init) {
        Ok(_) => Reply::ok(),
        Err(e) => {
            machine::remove_snapshot_image(&ctx.engine, &tag);
            e.into()
        }
    }
}

/// The record and where `rootfs.tar` sits in the archive (offset, size).
fn read_export(input: &Path) -> Result<(MachineRecord, u64, u64), String> {
    let shown = input.display().to_string();
    let file = File::open(input).map_err(|e| go_io_error("open", &shown, &e))?;
    let mut archive = tar::Archive::new(file);
    let bad = |e: std::io::Error| format!("import {shown}: {e}");
    let mut config: Option<ExportConfig> = None;
    let mut rootfs: Option<(u64, u64)> = None;
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let member = entry.path().map_err(bad)?.into_owned();
        if member == Path::new(CONFIG) {
            config = Some(serde_json::from_reader(&mut entry).map_err(|e| format!("import {shown}: {CONFIG}: {e}"))?);
        } else if member == Path::new(ROOTFS) {
            rootfs = Some((entry.raw_file_position(), entry.size()));
        }
    }
    match (config, rootfs) {
        (Some(c), Some((off, size))) => Ok((c.record, off, size)),
        _ => Err(format!(
            "can't find '{CONFIG}' in archive. is this a valid OrbStack machine export?"
        )),
    }
}
