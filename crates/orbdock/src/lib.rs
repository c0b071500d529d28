//! orbdock: an engine that answers OrbStack's `orbctl` on a Docker engine. Its machines are
//! labelled system containers booting systemd as PID 1 (or a minimal init where systemd cannot
//! run), with a hostname equal to the machine's name, the default user orbctl would make (with
//! passwordless sudo), and an IPv4 address on the `orbtest` Docker network.
//!
//! argv, texts, JSON shapes and exit codes are the [`orbctl`] crate's: orbdock never redefines
//! what orbctl says. It talks to the engine through bollard on a current-thread runtime.
//!
//! # API
//!
//! * [`main_with_args`]: the whole program as `orbctl` (`orb` when argv\[0\] is `orb`), with this
//!   process's stdin/stdout/stderr and environment; returns the exit code. The `orbdock` binary
//!   is exactly this.
//! * [`Engine::connect`] (`DOCKER_HOST`, else the local socket; a [`ConnectError`] says where it
//!   looked and how to start an engine) and [`Engine::describe`] (engine version, architecture,
//!   whether systemd can be PID 1 here: probed once per engine and remembered).
//! * [`images`]: [`images::Recipe`], [`images::ensure`] (build a machine image unless cached by
//!   recipe hash), [`images::list`], [`images::resolve`].
//! * [`labels`]: the labels on every container and image orbdock makes.
//! * [`env`]: the environment it reads (`DOCKER_HOST`, `ORBTEST_DOCKER_IMAGES`,
//!   `ORBDOCK_PROJECT`, `ORBDOCK_RUN`, `ORBDOCK_INIT`).
//!
//! # Machines and ownership
//!
//! A machine is the container `orbtest_<project>_<name>`, labelled `dev.orbtest.machine`
//! (name at creation), `dev.orbtest.id` (a ULID minted at create), `dev.orbtest.project`
//! (`ORBDOCK_PROJECT`, default `default`) and `dev.orbtest.run` (`ORBDOCK_RUN`). orbdock sees
//! only containers labelled as machines of its project: a container it did not make is
//! invisible to `list`, `info`, `delete -a` and every other command, so it can never be
//! touched. The project's default machine is recorded in a labelled volume; snapshot images
//! made by `clone`/`import` are removed with their machine.
//!
//! # Where a create finds its machine image
//!
//! `create ubuntu:22.04 NAME` boots the Docker image that `ORBTEST_DOCKER_IMAGES` (a JSON file
//! `{"ubuntu:22.04": "<image id>"}`, written by cargo-orbtest's preflight) names, else the
//! newest local machine image labelled `dev.orbtest.image=ubuntu:22.04` (or an alias of it,
//! `ubuntu:jammy`). With neither, create fails with orbctl's `make rootfs` error naming the
//! config key `[machines.docker.images."ubuntu:22.04"]`.
//!
//! # Where Docker differs from OrbStack
//!
//! * The record says the distro and version asked for; the filesystem is whatever the image
//!   recipe built (e.g. Debian bookworm for `ubuntu:22.04`).
//! * `create -a` accepts only the engine's own architecture (orbctl's `invalid architecture`
//!   for one no Mac runs; a `make rootfs` error for `i386` on amd64). `create -c` (cloud-init)
//!   answers orbctl's `cloud-init not supported`. `-p` sets the password with `chpasswd`.
//! * `rename` renames the container; the hostname keeps the first name (Docker cannot change
//!   it on an existing container).
//! * `stop` with no names does nothing (it would stop OrbStack; the engine is left alone);
//!   `start` with no names says OrbStack is already running.
//! * `logs` prints the container's console output (systemd writes little there).
//! * `config show` prints the engine's facts; `config set` and OrbStack-only commands (`ssh`,
//!   `k8s`, `docker`, ...) fail with a message saying so.
//! * A `run` whose client is killed leaves its command running in the machine until it ends.
//! * A `create` whose client is killed may leave a machine that is stopped or still booting;
//!   `start` (or `run`) finishes it (its first boot makes the user).

pub mod cli;
pub mod engine;
pub mod env;
pub mod exec;
pub mod images;
pub mod labels;
pub mod machine;
pub mod reply;
pub mod sentinel;
pub mod transfer;

use std::io::Write;

pub use engine::{ConnectError, Description, Engine, SystemdSupport};
use orbctl::op::Flavor;

/// Runs orbdock as `orbctl` with `args` (argv\[0\] first: `orb` gives the `orb` flavour, anything
/// else `orbctl`), printing to this process's stdout/stderr; returns the exit code.
pub fn main_with_args(args: Vec<std::ffi::OsString>) -> i32 {
    let mut it = args.into_iter();
    let argv0 = it.next().map(|a| a.to_string_lossy().into_owned()).unwrap_or_default();
    let rest: Vec<String> = it.map(|a| a.to_string_lossy().into_owned()).collect();
    let flavor = match Flavor::from_argv0(&argv0) {
        Some(Flavor::Orb) => Flavor::Orb,
        _ => Flavor::Orbctl,
    };
    let reply = cli::main(flavor, &rest);
    // A closed pipe on the other end is the caller's business, not an error of ours.
    let _ = std::io::stdout().write_all(&reply.stdout);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(&reply.stderr);
    reply.code
}
