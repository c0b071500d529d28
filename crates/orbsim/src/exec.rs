//! `run`, `push` and `pull`: real processes on the host, inside the machine's own directory.
//!
//! orbsim is a simulator, not a sandbox: the command runs as the calling host user, with the
//! machine directory (`$ORBSIM_STATE/machines/<id>/`) standing in for its filesystem root and
//! `HOME` set to the Linux user's home inside it. Nothing stops it from touching the rest of
//! the host.

use orbctl::errors::DaemonError;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ctx::{Ctx, Reply, isatty};
use crate::daemon::home_of;
use crate::scenario::SimSecs;
use crate::state::{MState, Txn};
use orbctl::op::Op;

/// Where a command runs.
struct Target {
    name: String,
    id: String,
    username: String,
    ready_at: SimSecs,
    wait: SimSecs,
}

enum Missing {
    Named(String),
    NoMachines,
    Held(DaemonError),
}

/// Resolves the machine (named, else the default) and auto-starts it.
fn resolve(t: &mut Txn<'_>, machine: Option<&str>, latency_key: &str) -> Result<Target, Missing> {
    let i = match machine {
        Some(m) => t.find(m).ok_or_else(|| Missing::Named(m.to_string()))?,
        None => t.default_machine().ok_or(Missing::NoMachines)?,
    };
    let wait = t.latency(latency_key);
    let m = &t.state.machines[i];
    let ready_at = match t.state_of(i) {
        // UNVERIFIED: a command for a machine still being created waits for it to run.
        MState::Creating | MState::Provisioning => m.pending.as_ref().map(|p| p.ends_at).unwrap_or(t.now),
        MState::Running | MState::Starting => m.settles_at().max(t.now),
        MState::Deleting | MState::Gone => {
            return Err(Missing::Held(DaemonError::InProgress {
                verb: "start",
                state: "deleting",
            }));
        }
        MState::Stopped | MState::Stopping => {
            let now = t.now;
            t.start_at(i, now).map_err(Missing::Held)?
        }
    };
    let m = &t.state.machines[i];
    Ok(Target {
        name: m.name.clone(),
        id: m.id.clone(),
        username: m.username.clone(),
        ready_at,
        wait,
    })
}

/// The machine's root directory and the user's home in it (created if missing).
fn dirs(ctx: &Ctx, target: &Target, user: &str) -> (PathBuf, PathBuf) {
    let root = ctx.store.machine_dir(&target.id);
    let home = root.join(home_of(user).trim_start_matches('/'));
    let _ = std::fs::create_dir_all(&home);
    (root, home)
}

/// A Linux path inside the machine: absolute paths hang off the machine root.
fn linux_path(root: &Path, p: &str) -> String {
    if let Some(rest) = p.strip_prefix('/') {
        root.join(rest).to_string_lossy().into_owned()
    } else {
        p.to_string()
    }
}

/// A host (macOS) path made absolute against the caller's directory.
fn host_path(p: &str) -> String {
    let path = Path::new(p);
    if path.is_absolute() {
        return p.to_string();
    }
    match std::env::current_dir() {
        Ok(cwd) => cwd.join(path).to_string_lossy().into_owned(),
        Err(_) => p.to_string(),
    }
}

pub(crate) struct RunCall<'a> {
    pub machine: Option<&'a str>,
    pub user: Option<&'a str>,
    pub workdir: Option<&'a str>,
    pub shell: bool,
    pub command: &'a [String],
}

/// Replaces this process with the command; returns only on failure.
pub(crate) fn run(ctx: &Ctx, a: RunCall<'_>) -> Reply {
    let target = match ctx.daemon("", |t| resolve(t, a.machine, "run")) {
        Ok(Ok(target)) => target,
        Ok(Err(Missing::Named(m))) => {
            // The SSH session fails with status 1; its text only reaches a terminal.
            let any_tty = isatty(0) || isatty(1) || isatty(2);
            let text = if any_tty {
                format!("machine not found: '{m}'\n")
            } else {
                String::new()
            };
            return Reply::err(text, 1);
        }
        Ok(Err(Missing::NoMachines)) => return Reply::err(orbctl::text::NO_MACHINES_HINT, 1),
        Ok(Err(Missing::Held(msg))) => return Reply::daemon(&msg.to_string()),
        Err(reply) => return reply,
    };
    ctx.sleep_until(target.ready_at);
    ctx.sleep_for(target.wait);
    let user = a.user.filter(|u| !u.is_empty()).unwrap_or(&target.username).to_string();
    let (root, home) = dirs(ctx, &target, &user);
    let cwd = match a.workdir.filter(|w| !w.is_empty()) {
        Some(w) => {
            let p = PathBuf::from(linux_path(&root, w));
            let p = if p.is_absolute() { p } else { home.join(p) };
            if !p.is_dir() {
                return Reply::err(
                    format!(
                        "orbsim: working directory '{w}' does not exist in machine '{}'\n",
                        target.name
                    ),
                    1,
                );
            }
            p
        }
        None => home.clone(),
    };
    let mut cmd = Command::new("/bin/sh");
    if a.shell {
        cmd.arg("-c").arg(a.command.join(" "));
    } else if !a.command.is_empty() {
        // Through sh so a missing program fails like a remote shell would (exit 127).
        cmd.arg("-c").arg("exec \"$@\"").arg("sh").args(a.command);
    }
    cmd.current_dir(&cwd)
        .env("HOME", &home)
        .env("USER", &user)
        .env("LOGNAME", &user)
        .env("PWD", &cwd)
        .env("SHELL", "/bin/sh")
        .env("ORBSIM_MACHINE", &target.name);
    let e = cmd.exec();
    Reply::sim(&format!("cannot run /bin/sh: {e}"))
}

/// `push` (host → machine) and `pull` (machine → host): `cp -rf` run in the user's home, as
/// orbctl runs it inside the machine. Returns only on failure (cp's exit code otherwise).
pub(crate) fn copy(ctx: &Ctx, machine: Option<&str>, paths: &[String], push: bool) -> Reply {
    let key = if push { "push" } else { "pull" };
    let target = match ctx.daemon("", |t| resolve(t, machine, key)) {
        Ok(Ok(target)) => target,
        Ok(Err(Missing::Named(m))) => return Reply::daemon(&format!("machine not found: '{m}'")),
        Ok(Err(Missing::NoMachines)) => return Reply::daemon("no machines found"),
        Ok(Err(Missing::Held(msg))) => return Reply::daemon(&msg.to_string()),
        Err(reply) => return reply,
    };
    ctx.sleep_until(target.ready_at);
    ctx.sleep_for(target.wait);
    let user = target.username.clone();
    let (root, home) = dirs(ctx, &target, &user);
    let (sources, dest) = Op::copy_sources(paths);
    let dest = dest.unwrap_or(".");
    let (sources, dest): (Vec<String>, String) = if push {
        (sources.iter().map(|s| host_path(s)).collect(), linux_path(&root, dest))
    } else {
        (sources.iter().map(|s| linux_path(&root, s)).collect(), host_path(dest))
    };
    let e = Command::new("cp")
        .arg("-rf")
        .args(&sources)
        .arg(&dest)
        .current_dir(&home)
        .exec();
    Reply::sim(&format!("cannot run cp: {e}"))
}
