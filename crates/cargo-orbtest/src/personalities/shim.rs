//! The `orbctl` (and `orb`) tests see during a machine tier: this same binary, reached through
//! links in the run directory that come first on the tier's PATH.
//!
//! A thin client of the run's machine broker. Each call is read as orbctl reads it. What
//! orbctl refuses by itself (argv its grammar rejects; a create with a bad name, distro or
//! arch) is answered here at once, in orbctl's own words (the `orbctl` crate), without reaching
//! the broker. Operations the machines layer manages (create, clone, import, delete, start,
//! stop, list, info, ...) go to the broker, which carries them out under the run's policy,
//! admission and journal; their output and exit code are passed through byte for byte. If this
//! process is killed meanwhile (a test's own timeout), the broker notices and the call goes on.
//! `run` streams straight through (it is bounded only by the test's own timeout) and is
//! journaled through the broker. Help and commands we do not model are handed to the real
//! orbctl unchanged.
//!
//! The shim only ever executes the real orbctl named in the run's settings, never one found
//! on a PATH (which begins with the shim itself).

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use orbctl::{Flavor, Op, OpClass, argv, checks};
use orbtest_machines::broker::remote::Remote;
use orbtest_machines::journal::{OpRecord, now_ms};

/// Entry point when invoked as `orbctl` or `orb`.
pub fn main(flavor: Flavor, args: Vec<OsString>) -> i32 {
    let run = match Remote::from_env() {
        Ok(Some(r)) => r,
        Ok(None) => {
            return fail(
                "ORBTEST_RUN_DIR is not set: this orbctl is cargo orbtest's shim and works only inside a machine tier",
            );
        }
        Err(e) => return fail(&e.to_string()),
    };
    let real = real_program(&run, flavor);
    if let Err(e) = not_ourselves(&real) {
        return fail(&e.to_string());
    }
    let Some(text_args) = args
        .iter()
        .map(|a| a.to_str().map(str::to_string))
        .collect::<Option<Vec<_>>>()
    else {
        return pass_through(&run, &real, &args);
    };
    let op = match argv::parse(flavor, &text_args) {
        Ok(op) => op,
        // orbctl would reject this before doing anything: say so at once, in its words.
        Err(exit) => return answer(&exit),
    };
    if let Some(exit) = checks::create_refusal(flavor, &op, run.settings().host_arch.as_deref()) {
        return answer(&exit);
    }
    match &op {
        Op::Other { .. } | Op::Help { .. } => pass_through(&run, &real, &args),
        _ if op.class() == OpClass::Run => stream(&run, &real, &op, &args),
        _ => {
            // orbctl's own argv when that is what we were given; `orb`'s is rebuilt as orbctl's.
            let argv = match flavor {
                Flavor::Orbctl => text_args,
                Flavor::Orb => op.to_argv(),
            };
            match run.call(&argv) {
                Ok(reply) => {
                    if let Some(error) = &reply.head.error {
                        return fail(error);
                    }
                    let _ = std::io::stdout().write_all(&reply.stdout);
                    let _ = std::io::stderr().write_all(&reply.stderr);
                    reply.head.code
                }
                Err(e) => fail(&e.to_string()),
            }
        }
    }
}

/// Prints what orbctl would print and returns its exit code.
fn answer(exit: &argv::Exit) -> i32 {
    let _ = std::io::stdout().write_all(exit.stdout.as_bytes());
    let _ = std::io::stderr().write_all(exit.stderr.as_bytes());
    exit.code
}

fn fail(message: &str) -> i32 {
    crate::errln!("orbctl (cargo orbtest shim): {message}");
    1
}

/// The real program: orbctl, or its `orb` sibling for the `orb` flavour.
fn real_program(run: &Remote, flavor: Flavor) -> PathBuf {
    let settings = run.settings();
    match flavor {
        Flavor::Orbctl => settings.real_orbctl.clone(),
        Flavor::Orb => settings.real_orb.clone(),
    }
}

/// Refuses to execute the shim again (a misconfigured run would loop forever). This binary
/// reached under another name (`orbsim-orbctl`: the embedded simulator) is fine.
fn not_ourselves(real: &Path) -> Result<(), RealOrbctlError> {
    let me = std::env::current_exe().and_then(std::fs::canonicalize);
    let target = std::fs::canonicalize(real).map_err(|source| RealOrbctlError::Unusable {
        path: real.to_path_buf(),
        source,
    })?;
    let name = real.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if me.is_ok_and(|me| me == target) && Flavor::from_argv0(name).is_some() {
        return Err(RealOrbctlError::Shim(real.to_path_buf()));
    }
    Ok(())
}

/// The run's real orbctl cannot be handed the call.
#[derive(Debug, thiserror::Error)]
enum RealOrbctlError {
    #[error("the real orbctl {} is unusable: {source}", .path.display())]
    Unusable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the real orbctl {} is this shim itself; check the run settings", .0.display())]
    Shim(PathBuf),
}

fn command(run: &Remote, real: &Path, args: &[OsString]) -> Command {
    let mut cmd = Command::new(real);
    cmd.args(args);
    for (k, v) in &run.settings().env {
        cmd.env(k, v);
    }
    cmd
}

/// Becomes the real program (same stdio, same arguments).
fn pass_through(run: &Remote, real: &Path, args: &[OsString]) -> i32 {
    let err = command(run, real, args).exec();
    fail(&format!("cannot run {}: {err}", real.display()))
}

/// `run`: streamed with the caller's stdio, no timeout of ours; journaled once it ends.
fn stream(run: &Remote, real: &Path, op: &Op, args: &[OsString]) -> i32 {
    let start = Instant::now();
    let status = match command(run, real, args).status() {
        Ok(s) => s,
        Err(e) => return fail(&format!("cannot run {}: {e}", real.display())),
    };
    let code = status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    let record = OpRecord {
        ts_ms: now_ms(),
        run_id: run.settings().run_id.clone(),
        pid: std::process::id(),
        test: run.test().map(str::to_string),
        op: op.verb().to_string(),
        machine: op.machine().map(str::to_string),
        attempt: 1,
        timeout_ms: None,
        waited_ms: 0,
        recovery_ms: 0,
        duration_ms: start.elapsed().as_millis() as u64,
        outcome: if code == 0 { "ok".into() } else { "failed".into() },
        recovered: false,
        error: None,
        exit_code: status.code(),
    };
    if let Err(e) = run.record(record) {
        tracing::warn!("cannot journal `{op}`: {e}");
    }
    code
}
