//! `export` and `import`: a real tar archive holding the machine's record and files, which
//! `import` reads back.
//!
//! Layout: `_orbstack/config.v1.json` (`{"format": 1, "record": <list-style record>}`) and
//! `rootfs/...` (the machine directory). The name of the config member is the one OrbStack's
//! import looks for; the rest of the layout is orbsim's own (real exports are zstd-compressed
//! and hold more).

use std::fs::File;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::commands::finish_create;
use crate::ctx::{Ctx, Reply, go_io_error};
use crate::daemon::NewMachine;
use orbctl::errors::DaemonError;
use orbctl::output::MachineRecord;

const CONFIG: &str = "_orbstack/config.v1.json";

#[derive(Serialize, Deserialize)]
struct ExportConfig {
    format: u32,
    record: MachineRecord,
}

fn absolute(p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

pub(crate) fn export(ctx: &Ctx, name: &str, path: &str) -> Reply {
    let out = absolute(path);
    let got = ctx.daemon("", |t| {
        let wait = t.latency("export");
        let i = t.find(name).ok_or_else(|| DaemonError::NotFound(name.to_string()))?;
        t.check_hold(i, "export")?;
        t.state.counters.exports += 1;
        t.touch();
        let mut record = t.record(i);
        // An export is a stopped snapshot.
        record.state = "stopped".into();
        Ok::<_, DaemonError>((wait, record))
    });
    let (wait, record) = match got {
        Ok(Ok(v)) => v,
        Ok(Err(msg)) => return Reply::daemon(&msg.to_string()),
        Err(reply) => return reply,
    };
    ctx.sleep_for(wait);
    let src = ctx.store.machine_dir(&record.id);
    match write_archive(&out, &src, record) {
        Ok(()) => Reply::ok(),
        Err(msg) => Reply::daemon(&msg.to_string()),
    }
}

fn write_archive(out: &Path, src: &Path, record: MachineRecord) -> Result<(), DaemonError> {
    let shown = out.display().to_string();
    let tmp = out.with_file_name(format!(
        ".{}.orbsim-tmp",
        out.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
    ));
    let file = File::create(&tmp).map_err(|e| DaemonError::Message(go_io_error("open", &shown, &e)))?;
    let mut tar = tar::Builder::new(file);
    tar.follow_symlinks(false);
    let config = serde_json::to_vec_pretty(&ExportConfig { format: 1, record })
        .map_err(|e| DaemonError::Message(format!("export: encode config: {e}")))?;
    let mut header = tar::Header::new_gnu();
    header.set_size(config.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    let fail = |e: std::io::Error| DaemonError::Message(format!("export {shown}: {e}"));
    tar.append_data(&mut header, CONFIG, config.as_slice()).map_err(fail)?;
    if src.is_dir() {
        tar.append_dir_all("rootfs", src).map_err(fail)?;
    }
    tar.into_inner().and_then(|f| f.sync_all()).map_err(fail)?;
    std::fs::rename(&tmp, out).map_err(|e| DaemonError::Message(go_io_error("rename", &shown, &e)))
}

pub(crate) fn import(ctx: &Ctx, name: Option<&str>, path: &str) -> Reply {
    let input = absolute(path);
    let staged = ctx.store.dir().join("incoming").join(ulid::Ulid::new().to_string());
    let record = match read_archive(&input, &staged) {
        Ok(r) => r,
        Err(msg) => {
            let _ = std::fs::remove_dir_all(&staged);
            return Reply::daemon(&msg.to_string());
        }
    };
    let new_name = name
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .unwrap_or(record.name.clone());
    let machine = NewMachine {
        name: new_name,
        image: record.image,
        username: record.config.default_username,
    };
    let plan = ctx.daemon("", |t| t.begin_import(machine, &staged));
    match plan {
        Ok(Ok(plan)) => finish_create(ctx, &plan, ""),
        Ok(Err(msg)) => {
            let _ = std::fs::remove_dir_all(&staged);
            Reply::daemon(&msg.to_string())
        }
        Err(reply) => {
            let _ = std::fs::remove_dir_all(&staged);
            reply
        }
    }
}

/// Unpacks `rootfs/` into `staged` and returns the record from the config member.
fn read_archive(input: &Path, staged: &Path) -> Result<MachineRecord, DaemonError> {
    let shown = input.display().to_string();
    let file = File::open(input).map_err(|e| DaemonError::Message(go_io_error("open", &shown, &e)))?;
    std::fs::create_dir_all(staged).map_err(|e| DaemonError::Message(format!("import: staging: {e}")))?;
    let mut archive = tar::Archive::new(file);
    let bad = |e: std::io::Error| DaemonError::Message(format!("import {shown}: {e}"));
    let mut config: Option<ExportConfig> = None;
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let member = entry.path().map_err(bad)?.into_owned();
        if member == Path::new(CONFIG) {
            config = Some(
                serde_json::from_reader(&mut entry)
                    .map_err(|e| DaemonError::Message(format!("import {shown}: {CONFIG}: {e}")))?,
            );
            continue;
        }
        let Ok(rel) = member.strip_prefix("rootfs") else {
            continue;
        };
        // Never write outside the staging directory.
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            continue;
        }
        let target = staged.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(bad)?;
        }
        entry.unpack(&target).map_err(bad)?;
    }
    match config {
        Some(c) => Ok(c.record),
        None => Err(DaemonError::Message(format!(
            "can't find '{CONFIG}' in archive. is this a valid OrbStack machine export?"
        ))),
    }
}
