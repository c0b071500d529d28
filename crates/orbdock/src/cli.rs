//! orbctl's commands answered by the Docker engine. argv is read by [`orbctl::argv`]; the texts,
//! JSON shapes and exit codes are orbctl's ([`orbctl::checks`], [`orbctl::errors`],
//! [`orbctl::output`], [`orbctl::text`]).

use std::io::BufRead;

use orbctl::argv;
use orbctl::errors::DaemonError;
use orbctl::op::{Flavor, Op};
use orbctl::output::{ImageSpec, MachineInfo, MachineRecord, to_orbctl_json};
use orbctl::{checks, images as distros};

use crate::engine::{ConnectError, Engine, host_arch};
use crate::machine::{self, Machine, MachineError, NewMachine};
use crate::reply::isatty;
pub use crate::reply::{Ctx, Reply, go_io_error};
use crate::{env, images, transfer};

/// The engine being unreachable, as `status` and every other command report it.
fn unreachable(e: &ConnectError) -> Reply {
    Reply::daemon(&e.to_string())
}

/// orbctl (or orb) behaviour for `args` (argv without the program name).
pub fn main(flavor: Flavor, args: &[String]) -> Reply {
    let op = match argv::parse(flavor, args) {
        Ok(op) => op,
        Err(exit) => return exit.into(),
    };
    match &op {
        Op::Help { path } => return Reply::out(argv::help_text(flavor, path)),
        Op::Version => return version(),
        Op::Create { .. } => {
            // The CLI's own checks come before it contacts the daemon.
            if let Some(refused) = checks::arch_refusal(flavor, &op, Some(&host_arch())) {
                return refused.into();
            }
        }
        _ => {}
    }
    let engine = match Engine::connect() {
        Ok(e) => e,
        Err(e) => {
            return match op {
                Op::Status => Reply {
                    stdout: b"Stopped\n".to_vec(),
                    stderr: format!("{e}\n").into_bytes(),
                    code: 1,
                },
                // orbctl's stop/restart say this and succeed when OrbStack is down.
                Op::Stop { .. } | Op::Restart { .. } => Reply::err("OrbStack is not running\n", 0),
                _ => unreachable(&e),
            };
        }
    };
    let ctx = Ctx {
        flavor,
        engine,
        project: env::project(),
        run: env::run(),
    };
    dispatch(&ctx, op)
}

fn dispatch(ctx: &Ctx, op: Op) -> Reply {
    match op {
        Op::Create { .. } => create(ctx, &op),
        Op::Delete { names, force, all } => delete(ctx, &names, force, all),
        Op::List { running, quiet, format } => list(ctx, running, quiet, format.as_deref()),
        Op::Info { name, format } => info(ctx, &name, format.as_deref()),
        Op::Start { names, all } => start(ctx, &names, all),
        Op::Stop { names, all, .. } => lifecycle(ctx, &names, all, Lifecycle::Stop),
        Op::Restart { names, all } => {
            if !all && names.is_empty() {
                return ctx.usage_error(&["restart"], "no machines specified");
            }
            lifecycle(ctx, &names, all, Lifecycle::Restart)
        }
        Op::Clone { src, dst } => clone(ctx, &src, &dst),
        Op::Rename { old, new } => rename(ctx, &old, &new),
        Op::Export { name, path } => transfer::export(ctx, &name, &path),
        Op::Import { name, path } => transfer::import(ctx, name.as_deref(), &path),
        Op::Run {
            machine,
            user,
            workdir,
            shell,
            path: _,
            command,
        } => transfer::run(
            ctx,
            transfer::RunCall {
                machine: machine.as_deref(),
                user: user.as_deref(),
                workdir: workdir.as_deref(),
                shell,
                command: &command,
            },
        ),
        Op::Push { machine, paths } => transfer::push(ctx, machine.as_deref(), &paths),
        Op::Pull { machine, paths } => transfer::pull(ctx, machine.as_deref(), &paths),
        Op::Default { name } => default(ctx, name.as_deref()),
        Op::Status => Reply::out("Running\n"),
        Op::Version => version(),
        Op::Logs { name, all } => logs(ctx, &name, all),
        Op::ConfigShow | Op::ConfigGet { .. } => config_show(ctx),
        Op::ConfigSet { key, .. } => Reply::err(
            format!(
                "orbdock: `config set {key}` has no meaning on a Docker engine (machines take their resources from the engine)\n"
            ),
            1,
        ),
        Op::Help { path } => Reply::out(argv::help_text(ctx.flavor, &path)),
        Op::Other { command, .. } => Reply::err(
            format!(
                "orbdock: \"{} {}\" is OrbStack's own and has no Docker counterpart\n",
                ctx.flavor.root(),
                command.join(" ")
            ),
            1,
        ),
    }
}

/// `version`: the orbctl surface it answers, and the engine behind it.
pub fn version() -> Reply {
    Reply::out(orbctl::text::version_text(
        "0000000000000000000000000000000000000000",
        &format!("orbdock {}", env!("CARGO_PKG_VERSION")),
    ))
}

/// The Linux user orbctl creates by default: the Mac user's name; here the host user's, and
/// `orbtest` for root (whose name would make a second root).
pub fn host_username() -> String {
    std::env::var("USER")
        .ok()
        .map(|u| u.to_lowercase())
        .filter(|u| !u.is_empty() && u != "root")
        .unwrap_or_else(|| "orbtest".into())
}

fn create(ctx: &Ctx, op: &Op) -> Reply {
    let Op::Create {
        image,
        name,
        arch,
        user,
        user_data,
        set_password,
    } = op
    else {
        return Reply::err("orbdock: create called with another operation\n", 1);
    };
    let engine_arch = ctx.engine.arch();
    let arch = arch
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or(&engine_arch)
        .to_string();
    let mut password = None;
    if *set_password {
        if !isatty(0) {
            return Reply {
                stdout: b"Password for Linux user: ".to_vec(),
                stderr: b"inappropriate ioctl for device\n".to_vec(),
                code: 1,
            };
        }
        print!("Password for Linux user: ");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        println!();
        password = Some(line.trim_end_matches(['\r', '\n']).to_string());
    }
    if let Some(refused) = checks::distro_refusal(ctx.flavor, op) {
        return refused.into();
    }
    let (token, version) = match image.split_once(':') {
        Some((t, v)) => (t, Some(v)),
        None => (image.as_str(), None),
    };
    let Some(distro) = distros::distro(token) else {
        return Reply::err(format!("orbdock: no distro {token} after the distro check\n"), 1);
    };
    let version = distro.resolve_version(version.filter(|v| !v.is_empty()).unwrap_or(distro.latest));
    let name = name.as_deref().unwrap_or(token).to_string();
    let prefix = checks::create_prefix(&name);
    if let Some(path) = user_data.as_deref().filter(|p| !p.is_empty()) {
        if let Err(e) = std::fs::read(path) {
            return Reply::err(format!("{}\n", go_io_error("open", path, &e)), 1);
        }
        // Nearest orbctl answer: cloud-init is not run on Docker machines.
        return Reply::daemon(&format!("{prefix}{}", DaemonError::CloudInitUnsupported(image.clone())));
    }
    if !distros::valid_machine_name(&name) {
        return Reply::daemon(&format!("{prefix}{}", DaemonError::InvalidName(name.clone())));
    }
    if arch != engine_arch {
        // orbctl accepts it (an amd64 Mac runs i386), but the engine has no such machine image.
        return Reply::daemon(&format!(
            "{prefix}make rootfs: this Docker engine runs {engine_arch} machines only, not {arch}"
        ));
    }
    let all = match ctx.machines() {
        Ok(v) => v,
        Err(r) => return r,
    };
    if all.iter().any(|m| m.name == name) {
        return Reply::daemon(&format!("{prefix}{}", DaemonError::AlreadyExists(name.clone())));
    }
    let image_id = match images::resolve(&ctx.engine, image) {
        Ok(Some(id)) => id,
        Ok(None) => {
            return Reply::daemon(&format!(
                "{prefix}make rootfs: no machine image for '{image}' on this Docker engine: give it a recipe \
                 in orchestrator.toml, [machines.docker.images.\"{image}\"] with `debootstrap = \"bookworm\"` \
                 or `from = \"<docker image>\"`, and run `cargo orbtest images`"
            ));
        }
        Err(e) => return Reply::daemon(&format!("{prefix}make rootfs: {e}")),
    };
    let username = match user.as_deref().filter(|u| !u.is_empty()) {
        Some(u) => u.to_string(),
        None => host_username(),
    };
    let new = NewMachine {
        name: name.clone(),
        image: ImageSpec {
            distro: distro.image.to_string(),
            version,
            arch,
            variant: distro.variant(false).to_string(),
        },
        username: username.clone(),
        image_id,
        project: ctx.project.clone(),
        run: ctx.run.clone(),
        id: ulid::Ulid::new().to_string(),
    };
    let had_default = match machine::default_id(&ctx.engine, &ctx.project, &all) {
        Ok(d) => d.is_some(),
        Err(e) => return Reply::daemon(&format!("{prefix}{e}")),
    };
    let made = match machine::create(&ctx.engine, &new) {
        Ok(m) => m,
        Err(MachineError::Daemon(d)) => return Reply::daemon(&format!("{prefix}{d}")),
        Err(MachineError::Setup(s)) => return Reply::daemon(&format!("{prefix}setup: {s}")),
        Err(e) => return Reply::daemon(&format!("{prefix}{e}")),
    };
    if let Some(pw) = password {
        let cmd = vec![
            "/bin/sh".to_string(),
            "-c".into(),
            "printf '%s:%s\\nroot:%s\\n' \"$1\" \"$2\" \"$2\" | chpasswd".into(),
            "sh".into(),
            username,
            pw,
        ];
        let _ = crate::exec::capture(&ctx.engine, &made.container, "root", &cmd);
    }
    // The first machine created becomes the default.
    if !had_default {
        let _ = machine::set_default(&ctx.engine, &ctx.project, &made.id);
    }
    Reply::ok()
}

fn delete(ctx: &Ctx, names: &[String], force: bool, all: bool) -> Reply {
    if !all && names.is_empty() {
        return ctx.usage_error(&["delete"], "no machines specified");
    }
    let machines = match ctx.machines() {
        Ok(v) => v,
        Err(r) => return r,
    };
    // Resolve everything first: one unknown name and nothing is deleted.
    let targets: Vec<Machine> = if all {
        machines
    } else {
        let mut out: Vec<Machine> = Vec::new();
        for n in names {
            if n == "k8s" {
                continue;
            }
            match machine::pick(machines.clone(), n) {
                Some(m) => {
                    if !out.iter().any(|o| o.id == m.id) {
                        out.push(m);
                    }
                }
                None => return Reply::daemon(&DaemonError::NotFound(n.clone()).to_string()),
            }
        }
        out
    };
    if !force && !targets.is_empty() && isatty(0) {
        let shown: Vec<String> = targets.iter().map(|m| m.name.clone()).collect();
        eprint!("{}", orbctl::text::delete_warning(&shown, all));
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line).is_err() || !orbctl::text::confirms(&line) {
            return Reply::err("Aborted\n", 1);
        }
    }
    for m in &targets {
        if let Err(e) = machine::delete(&ctx.engine, m) {
            return e.into();
        }
    }
    Reply::ok()
}

fn list(ctx: &Ctx, running: bool, quiet: bool, format: Option<&str>) -> Reply {
    let format = format.unwrap_or("text");
    if !quiet && !matches!(format, "text" | "json" | "") {
        return ctx.usage_error(&["list"], &format!("invalid format: {format}"));
    }
    let machines: Vec<Machine> = match ctx.machines() {
        Ok(v) => v.into_iter().filter(|m| !running || m.is_running()).collect(),
        Err(r) => return r,
    };
    if quiet {
        return Reply::out(machines.iter().map(|m| format!("{}\n", m.name)).collect::<String>());
    }
    if format == "json" {
        let records: Vec<MachineRecord> = machines.iter().map(Machine::record).collect();
        return Reply::out(to_orbctl_json(&records));
    }
    let rows: Vec<MachineInfo> = machines.iter().map(|m| machine::info(&ctx.engine, m)).collect();
    Reply::out(orbctl::text::list_text(&rows, isatty(1)))
}

fn info(ctx: &Ctx, name: &str, format: Option<&str>) -> Reply {
    let m = match machine::find(&ctx.engine, &ctx.project, name) {
        Ok(Some(m)) => m,
        Ok(None) => return Reply::daemon(&DaemonError::NotFound(name.to_string()).to_string()),
        Err(e) => return e.into(),
    };
    let info = machine::info(&ctx.engine, &m);
    if format == Some("json") {
        return Reply::out(to_orbctl_json(&info));
    }
    Reply::out(orbctl::text::info_text(&info))
}

#[derive(Clone, Copy)]
enum Lifecycle {
    Start,
    Stop,
    Restart,
}

fn start(ctx: &Ctx, names: &[String], all: bool) -> Reply {
    if !all && names.is_empty() {
        // No names: start OrbStack itself, which runs.
        return Reply::err(orbctl::text::ALREADY_RUNNING, 0);
    }
    lifecycle(ctx, names, all, Lifecycle::Start)
}

/// One machine after the other; the first unknown name stops the command.
fn lifecycle(ctx: &Ctx, names: &[String], all: bool, which: Lifecycle) -> Reply {
    if !all && names.is_empty() {
        // `stop` with no names stops OrbStack; the Docker engine is left alone.
        return Reply::ok();
    }
    let machines = match ctx.machines() {
        Ok(v) => v,
        Err(r) => return r,
    };
    let targets: Vec<String> = if all {
        machines.iter().map(|m| m.name.clone()).collect()
    } else {
        names.to_vec()
    };
    for key in targets {
        if key == "k8s" {
            continue;
        }
        let Some(m) = machine::pick(machines.clone(), &key) else {
            return Reply::daemon(&DaemonError::NotFound(key).to_string());
        };
        let r = match which {
            Lifecycle::Start => machine::start(&ctx.engine, &m),
            Lifecycle::Stop => machine::stop(&ctx.engine, &m),
            Lifecycle::Restart => machine::stop(&ctx.engine, &m).and_then(|()| {
                let mut stopped = m.clone();
                stopped.state = "stopped".into();
                machine::start(&ctx.engine, &stopped)
            }),
        };
        if let Err(e) = r {
            return e.into();
        }
    }
    Reply::ok()
}

fn clone(ctx: &Ctx, src: &str, dst: &str) -> Reply {
    let machines = match ctx.machines() {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(source) = machine::pick(machines.clone(), src) else {
        return Reply::daemon(&DaemonError::NotFound(src.to_string()).to_string());
    };
    if let Err(e) = machine::check_new_name(&machines, dst) {
        return Reply::daemon(&e.to_string());
    }
    match machine::clone(&ctx.engine, &ctx.project, &source, dst, &ctx.run) {
        Ok(_) => Reply::ok(),
        Err(e) => e.into(),
    }
}

fn rename(ctx: &Ctx, old: &str, new: &str) -> Reply {
    let machines = match ctx.machines() {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(m) = machine::pick(machines.clone(), old) else {
        return Reply::daemon(&DaemonError::NotFound(old.to_string()).to_string());
    };
    if m.name == new {
        return Reply::ok();
    }
    match machine::check_new_name(&machines, new) {
        Err(DaemonError::AlreadyExists(n)) => return Reply::daemon(&DaemonError::RenameTaken(n).to_string()),
        Err(e) => return Reply::daemon(&e.to_string()),
        Ok(()) => {}
    }
    match machine::rename(&ctx.engine, &ctx.project, &m, new) {
        Ok(()) => Reply::ok(),
        Err(e) => e.into(),
    }
}

fn default(ctx: &Ctx, name: Option<&str>) -> Reply {
    let machines = match ctx.machines() {
        Ok(v) => v,
        Err(r) => return r,
    };
    match name {
        None => match machine::default_machine(&ctx.engine, &ctx.project, &machines) {
            Ok(Some(m)) => Reply::out(format!("{}\n", m.name)),
            Ok(None) => Reply::daemon("no machines found"),
            Err(e) => e.into(),
        },
        Some(n) => match machine::pick(machines, n) {
            Some(m) => match machine::set_default(&ctx.engine, &ctx.project, &m.id) {
                Ok(()) => Reply::ok(),
                Err(e) => e.into(),
            },
            None => Reply::daemon(&DaemonError::NotFound(n.to_string()).to_string()),
        },
    }
}

/// Errors go to stdout and the exit code is 0, as orbctl does for `logs`.
fn logs(ctx: &Ctx, name: &str, all: bool) -> Reply {
    let m = match machine::find(&ctx.engine, &ctx.project, name) {
        Ok(Some(m)) => m,
        Ok(None) => {
            return Reply::out(checks::daemon_error(
                &DaemonError::NotFound(name.to_string()).to_string(),
            ));
        }
        Err(e) => return Reply::out(checks::daemon_error(&e.to_string())),
    };
    // systemd keeps the boot log in its journal, not on the container's console.
    let mut console = crate::exec::logs(&ctx.engine, &m.container, None).unwrap_or_default();
    if m.is_running() && m.init == machine::Init::Systemd {
        let cmd = ["journalctl", "-b", "--no-pager", "-q", "-o", "short-monotonic"].map(String::from);
        if let Ok((0, out, _)) = crate::exec::capture(&ctx.engine, &m.container, "root", &cmd) {
            console.extend_from_slice(&out);
        }
    }
    let mut s = Vec::new();
    if all {
        s.extend_from_slice(
            format!(
                "Runtime:\norbdock: container {} ({} init), state {}\n\n\n\nConsole:\n",
                &m.container[..12.min(m.container.len())],
                m.init.as_str(),
                m.state
            )
            .as_bytes(),
        );
    }
    s.extend_from_slice(&console);
    Reply {
        stdout: s,
        ..Reply::default()
    }
}

/// `config show`/`get`: what the engine gives machines, in orbctl's `key: value` form.
fn config_show(ctx: &Ctx) -> Reply {
    let d = ctx.engine.describe();
    let systemd = match d.systemd {
        crate::engine::SystemdSupport::Yes => "yes".to_string(),
        crate::engine::SystemdSupport::No(why) => format!("no ({why})"),
        crate::engine::SystemdSupport::Unknown => "not probed".to_string(),
    };
    Reply::out(format!(
        "docker.endpoint: {}\ndocker.version: {}\nmachines.arch: {}\nmachines.project: {}\nmachines.systemd: {}\n",
        d.endpoint, d.version, d.arch, ctx.project, systemd
    ))
}
