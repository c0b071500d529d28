//! orbctl's machine commands against the simulated daemon: create, delete, list, info,
//! start/stop/restart, clone, rename, default, status, version, logs.

use orbctl::errors::DaemonError;
use std::io::BufRead;

use crate::ctx::{Ctx, Reply, go_io_error, isatty};
use crate::daemon::{CreatePlan, Ended, NewMachine, OrbStatus};
use crate::state::MState;
use orbctl::images;
use orbctl::output::{ImageSpec, MachineInfo, MachineRecord, to_orbctl_json};
use orbctl::{Op, checks};

/// `create`, parsed. The CLI's own checks come first, in orbctl's order and words
/// (`orbctl::checks`): arch, the password prompt, distro; then the daemon's.
pub(crate) fn create(ctx: &Ctx, op: &Op) -> Reply {
    let Op::Create {
        image,
        name,
        arch,
        user,
        user_data,
        set_password,
    } = op
    else {
        return Reply::sim("create called with another operation");
    };
    let host_arch = ctx.scenario.host_arch.as_str();
    if let Some(refused) = checks::arch_refusal(ctx.flavor, op, Some(host_arch)) {
        return refused.into();
    }
    let arch = arch
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or(host_arch)
        .to_string();
    if *set_password {
        if !isatty(0) {
            // Reading a password needs a terminal; orbctl's prompt is already out.
            return Reply {
                stdout: b"Password for Linux user: ".to_vec(),
                stderr: b"inappropriate ioctl for device\n".to_vec(),
                code: 1,
            };
        }
        print!("Password for Linux user: ");
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        println!();
    }
    if let Some(refused) = checks::distro_refusal(ctx.flavor, op) {
        return refused.into();
    }
    let (token, version) = match image.split_once(':') {
        Some((t, v)) => (t, Some(v)),
        None => (image.as_str(), None),
    };
    let Some(distro) = images::distro(token) else {
        return Reply::sim(&format!("no distro {token} after the distro check"));
    };
    let version = distro.resolve_version(version.unwrap_or(distro.latest));
    let name = name.as_deref().unwrap_or(token).to_string();
    let cloud_init = match user_data.as_deref().filter(|p| !p.is_empty()) {
        Some(path) => match std::fs::read(path) {
            Ok(_) => true,
            Err(e) => return Reply::err(format!("{}\n", go_io_error("open", path, &e)), 1),
        },
        None => false,
    };
    let username = match user.as_deref().filter(|u| !u.is_empty()) {
        Some(u) => u.to_string(),
        None => host_username(),
    };
    let machine = NewMachine {
        name: name.clone(),
        image: ImageSpec {
            distro: distro.image.to_string(),
            version: version.clone(),
            arch,
            variant: distro.variant(cloud_init).to_string(),
        },
        username,
    };
    let known = distro.has_version(&version);
    let prefix = checks::create_prefix(&name);
    let plan = match ctx.daemon(&prefix, |t| t.begin_create(machine, cloud_init, known)) {
        Ok(Ok(plan)) => plan,
        Ok(Err(msg)) => return Reply::daemon(&format!("{prefix}{msg}")),
        Err(reply) => return reply,
    };
    finish_create(ctx, &plan, &prefix)
}

/// The client side of create/clone/import: wait for the daemon, report, maybe hang.
/// It looks in at least every 100 ms of real time, so a canceled creation is reported
/// promptly, as the real daemon's answer would be.
pub(crate) fn finish_create(ctx: &Ctx, plan: &CreatePlan, prefix: &str) -> Reply {
    let mut until = plan.ends_at;
    loop {
        ctx.sleep_until_at_most(until, std::time::Duration::from_millis(100));
        match ctx.txn(|t| t.ended(&plan.id)) {
            Ok(Ended::Done) => break,
            Ok(Ended::Failed(msg)) => return Reply::daemon(&format!("{prefix}{msg}")),
            Ok(Ended::NotYet(t)) => until = t,
            Err(reply) => return reply,
        }
    }
    // Injected hang: the work is done, the client just does not return yet.
    ctx.sleep_for(plan.hang);
    Reply::ok()
}

/// The Linux user orbctl creates by default: the Mac user's name.
fn host_username() -> String {
    std::env::var("USER")
        .ok()
        .map(|u| u.to_lowercase())
        .filter(|u| !u.is_empty() && u != "root")
        .unwrap_or_else(|| "orbsim".into())
}

pub(crate) fn clone(ctx: &Ctx, src: &str, dst: &str) -> Reply {
    let plan = ctx.daemon("", |t| match t.find(src) {
        None => Err(DaemonError::NotFound(src.to_string())),
        Some(i) => t.begin_clone(i, dst),
    });
    match plan {
        Ok(Ok(plan)) => finish_create(ctx, &plan, ""),
        Ok(Err(msg)) => Reply::daemon(&msg.to_string()),
        Err(reply) => reply,
    }
}

pub(crate) fn delete(ctx: &Ctx, names: &[String], force: bool, all: bool) -> Reply {
    if !all && names.is_empty() {
        return ctx.usage_error(&["delete"], "no machines specified");
    }
    // Resolve everything first: one unknown name and nothing is deleted.
    let resolved = ctx.daemon("", |t| {
        if all {
            return Ok(t
                .listing()
                .into_iter()
                .map(|i| t.state.machines[i].name.clone())
                .collect::<Vec<_>>());
        }
        let mut out = Vec::new();
        for n in names {
            // "k8s" is OrbStack's Kubernetes switch, not a machine.
            if n == "k8s" {
                continue;
            }
            match t.find(n) {
                Some(i) => out.push(t.state.machines[i].name.clone()),
                None => return Err(format!("machine not found: '{n}'")),
            }
        }
        Ok(out)
    });
    let targets = match resolved {
        Ok(Ok(v)) => v,
        Ok(Err(msg)) => return Reply::daemon(&msg),
        Err(reply) => return reply,
    };
    if !force && !targets.is_empty() && isatty(0) && !confirm_delete(&targets, all) {
        return Reply::err("Aborted\n", 1);
    }
    let scheduled = ctx.txn(|t| {
        let mut at = t.now;
        for name in &targets {
            let Some(i) = t.find(name) else { continue };
            match t.delete_at(i, at) {
                Ok(end) => at = end,
                Err(msg) => return Err((at, msg)),
            }
        }
        Ok(at)
    });
    match scheduled {
        Ok(Ok(end)) => {
            ctx.sleep_until(end);
            Reply::ok()
        }
        Ok(Err((end, msg))) => {
            ctx.sleep_until(end);
            Reply::daemon(&msg.to_string())
        }
        Err(reply) => reply,
    }
}

fn confirm_delete(names: &[String], all: bool) -> bool {
    use std::io::Write;
    let mut err = std::io::stderr();
    let _ = write!(err, "{}", orbctl::text::delete_warning(names, all));
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    orbctl::text::confirms(&line)
}

pub(crate) fn list(ctx: &Ctx, running: bool, quiet: bool, format: Option<&str>) -> Reply {
    let format = format.unwrap_or("text");
    if !quiet && !matches!(format, "text" | "json" | "") {
        return ctx.usage_error(&["list"], &format!("invalid format: {format}"));
    }
    let got = ctx.daemon("", |t| {
        let wait = t.latency("list");
        let rows: Vec<(MachineRecord, Option<u64>, Option<String>)> = t
            .listing()
            .into_iter()
            .filter(|&i| !running || t.state_of(i) == MState::Running)
            .map(|i| {
                if quiet || format == "json" {
                    (t.record(i), None, None)
                } else {
                    let info = t.info(i);
                    (info.record, info.disk_size, info.ip4)
                }
            })
            .collect();
        (wait, rows)
    });
    let (wait, rows) = match got {
        Ok(v) => v,
        Err(reply) => return reply,
    };
    ctx.sleep_for(wait);
    if quiet {
        let mut s = String::new();
        for (r, _, _) in &rows {
            s.push_str(&r.name);
            s.push('\n');
        }
        return Reply::out(s);
    }
    if format == "json" {
        let records: Vec<MachineRecord> = rows.into_iter().map(|(r, _, _)| r).collect();
        return Reply::out(to_orbctl_json(&records));
    }
    // Text: the header only on a terminal. orbctl's "Use ... create" hint counts the builtin
    // docker machine, which a real OrbStack always has, so it never shows.
    let rows: Vec<MachineInfo> = rows
        .into_iter()
        .map(|(record, disk_size, ip4)| MachineInfo {
            record,
            disk_size,
            ip4,
            ip6: None,
        })
        .collect();
    Reply::out(orbctl::text::list_text(&rows, isatty(1)))
}

pub(crate) fn info(ctx: &Ctx, name: &str, format: Option<&str>) -> Reply {
    let got = ctx.daemon("", |t| {
        let wait = t.latency("info");
        (wait, t.find(name).map(|i| t.info(i)))
    });
    let (wait, info) = match got {
        Ok(v) => v,
        Err(reply) => return reply,
    };
    ctx.sleep_for(wait);
    let Some(info) = info else {
        return Reply::daemon(&format!("machine not found: '{name}'"));
    };
    if format == Some("json") {
        return Reply::out(to_orbctl_json(&info));
    }
    Reply::out(orbctl::text::info_text(&info))
}

/// Which machines a start/stop/restart names (`--all` = every machine).
fn targets(t: &crate::state::Txn<'_>, names: &[String], all: bool) -> Vec<String> {
    if all {
        t.listing()
            .into_iter()
            .map(|i| t.state.machines[i].name.clone())
            .collect()
    } else {
        names.to_vec()
    }
}

#[derive(Clone, Copy)]
enum Lifecycle {
    Start,
    Stop,
    Restart,
}

/// Machines are handled one after the other, as orbctl does; the first unknown name stops
/// the command (earlier ones stay done).
fn lifecycle(ctx: &Ctx, names: &[String], all: bool, which: Lifecycle) -> Reply {
    let got = ctx.daemon("", |t| {
        let mut at = t.now;
        for name in targets(t, names, all) {
            if name == "k8s" {
                continue;
            }
            let Some(i) = t.find(&name) else {
                return (at, Some(format!("machine not found: '{name}'")));
            };
            let r = match which {
                Lifecycle::Start => t.start_at(i, at),
                Lifecycle::Stop => t.stop_at(i, at),
                Lifecycle::Restart => t.restart_at(i, at),
            };
            match r {
                Ok(end) => at = end,
                Err(e) => return (at, Some(e.to_string())),
            }
        }
        (at, None)
    });
    match got {
        Ok((end, err)) => {
            ctx.sleep_until(end);
            match err {
                Some(msg) => Reply::daemon(&msg),
                None => Reply::ok(),
            }
        }
        Err(reply) => reply,
    }
}

pub(crate) fn start(ctx: &Ctx, names: &[String], all: bool) -> Reply {
    if !all && names.is_empty() {
        // No names: start OrbStack itself.
        let running = match ctx.txn(|t| t.orb_status(t.now)) {
            Ok(s) => s == OrbStatus::Running,
            Err(reply) => return reply,
        };
        if running {
            return Reply::err(orbctl::text::ALREADY_RUNNING, 0);
        }
        return match ctx.daemon("", |_| ()) {
            Ok(()) => Reply::ok(),
            Err(reply) => reply,
        };
    }
    lifecycle(ctx, names, all, Lifecycle::Start)
}

fn orbstack_down(ctx: &Ctx) -> Result<bool, Reply> {
    ctx.txn(|t| t.orb_status(t.now) == OrbStatus::Stopped)
}

pub(crate) fn stop(ctx: &Ctx, names: &[String], all: bool) -> Reply {
    match orbstack_down(ctx) {
        Ok(true) => return Reply::err("OrbStack is not running\n", 0),
        Ok(false) => {}
        Err(reply) => return reply,
    }
    if !all && names.is_empty() {
        // No names: stop OrbStack (with or without -f, the machines stop with it).
        let wait = ctx.txn(|t| {
            let wait = t.latency("stop");
            t.stop_orbstack();
            wait
        });
        return match wait {
            Ok(w) => {
                ctx.sleep_for(w);
                Reply::ok()
            }
            Err(reply) => reply,
        };
    }
    lifecycle(ctx, names, all, Lifecycle::Stop)
}

pub(crate) fn restart(ctx: &Ctx, names: &[String], all: bool) -> Reply {
    match orbstack_down(ctx) {
        Ok(true) => return Reply::err("OrbStack is not running\n", 0),
        Ok(false) => {}
        Err(reply) => return reply,
    }
    if !all && names.is_empty() {
        return ctx.usage_error(&["restart"], "no machines specified");
    }
    lifecycle(ctx, names, all, Lifecycle::Restart)
}

pub(crate) fn rename(ctx: &Ctx, old: &str, new: &str) -> Reply {
    let got = ctx.daemon("", |t| {
        let wait = t.latency("rename");
        let r = match t.find(old) {
            None => Err(DaemonError::NotFound(old.to_string())),
            Some(i) => t.rename(i, new),
        };
        (wait, r)
    });
    match got {
        Ok((wait, r)) => {
            ctx.sleep_for(wait);
            match r {
                Ok(()) => Reply::ok(),
                Err(msg) => Reply::daemon(&msg.to_string()),
            }
        }
        Err(reply) => reply,
    }
}

pub(crate) fn default(ctx: &Ctx, name: Option<&str>) -> Reply {
    let got = ctx.daemon("", |t| {
        let wait = t.latency("default");
        let r = match name {
            // UNVERIFIED: with no machines the server answers "no machines found" (its
            // GetDefaultContainer); otherwise the set default, else the first by name.
            None => match t.default_machine() {
                Some(i) => Ok(Some(t.state.machines[i].name.clone())),
                None => Err("no machines found".to_string()),
            },
            // `default none` is looked up like any name (the CLI resolves before setting).
            Some(n) => match t.find(n) {
                Some(i) => {
                    t.state.default_id = Some(t.state.machines[i].id.clone());
                    t.touch();
                    Ok(None)
                }
                None => Err(format!("machine not found: '{n}'")),
            },
        };
        (wait, r)
    });
    match got {
        Ok((wait, r)) => {
            ctx.sleep_for(wait);
            match r {
                Ok(Some(n)) => Reply::out(format!("{n}\n")),
                Ok(None) => Reply::ok(),
                Err(msg) => Reply::daemon(&msg),
            }
        }
        Err(reply) => reply,
    }
}

pub(crate) fn status(ctx: &Ctx) -> Reply {
    match ctx.txn(|t| (t.latency("status"), t.orb_status(t.now))) {
        Ok((wait, s)) => {
            ctx.sleep_for(wait);
            match s {
                OrbStatus::Running => Reply::out("Running\n"),
                OrbStatus::Starting { .. } | OrbStatus::Restarting { .. } => Reply {
                    stdout: b"Starting\n".to_vec(),
                    code: 2,
                    ..Reply::default()
                },
                OrbStatus::Stopped => Reply {
                    stdout: b"Stopped\n".to_vec(),
                    code: 1,
                    ..Reply::default()
                },
            }
        }
        Err(reply) => reply,
    }
}

pub(crate) fn version() -> Reply {
    Reply::out(orbctl::text::version_text(
        "0000000000000000000000000000000000000000",
        &format!("orbsim {}", env!("CARGO_PKG_VERSION")),
    ))
}

/// Errors go to stdout and the exit code is 0, as orbctl does for `logs`.
pub(crate) fn logs(ctx: &Ctx, name: &str, all: bool) -> Reply {
    let got = ctx.daemon("", |t| {
        let wait = t.latency("logs");
        let found = t.find(name).map(|i| {
            let m = &t.state.machines[i];
            let start = m.timeline.first().map(|p| p.at).unwrap_or(0.0);
            (m.name.clone(), m.image.clone(), t.state_of(i), (t.now - start).max(0.0))
        });
        (wait, found)
    });
    let (wait, found) = match got {
        Ok(v) => v,
        Err(reply) => return reply,
    };
    ctx.sleep_for(wait);
    let Some((name, image, state, age)) = found else {
        return Reply::out(format!("[-32098] machine not found: '{name}'\n"));
    };
    let console = format!(
        "[    0.000000] orbsim: simulated console of '{name}' ({} {} {})\n[{age:12.6}] orbsim: machine is {}",
        image.distro,
        image.version,
        image.arch,
        state.as_str()
    );
    let mut s = String::new();
    if all {
        s.push_str("Runtime:\n");
        s.push_str("orbsim: no runtime log is simulated\n");
        s.push_str("\n\n\nConsole:\n");
    }
    s.push_str(&console);
    s.push('\n');
    Reply::out(s)
}
