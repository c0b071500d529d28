//! The `orbctl` (and `orb`) tests see during a machine tier: this same binary, reached through
//! links in the run directory that come first on the tier's PATH.
//!
//! Each call is read as orbctl reads it. Operations the machines layer manages (create, clone,
//! import, delete, start, stop, list, info, ...) go through the run's policy, admission and
//! journal, and their output and exit code are passed through byte for byte. `run` streams
//! straight through (it is bounded only by the test's own timeout). Anything else, including
//! argv orbctl would reject, is handed to the real orbctl unchanged, so the caller gets
//! orbctl's own answer.
//!
//! The shim only ever executes the real orbctl named in the run's settings, never one found
//! on a PATH (which begins with the shim itself).

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use orbctl::{Flavor, Op, OpClass, argv};
use orbtest_machines::journal::{OpRecord, Record, now_ms};
use orbtest_machines::tracked::Tracked;

/// Entry point when invoked as `orbctl` or `orb`.
pub fn main(flavor: Flavor, args: Vec<OsString>) -> i32 {
    let tracked = match Tracked::from_env() {
        Ok(Some(t)) => t,
        Ok(None) => {
            return fail(
                "ORBTEST_RUN_DIR is not set: this orbctl is cargo orbtest's shim and works only inside a machine tier",
            );
        }
        Err(e) => return fail(e),
    };
    let real = real_program(&tracked, flavor);
    if let Err(e) = not_ourselves(&real) {
        return fail(e);
    }
    let Some(text_args) = args
        .iter()
        .map(|a| a.to_str().map(str::to_string))
        .collect::<Option<Vec<_>>>()
    else {
        return pass_through(&tracked, &real, &args);
    };
    let op = match argv::parse(flavor, &text_args) {
        Ok(op) => op,
        // orbctl would reject this: let it say so, in its own words.
        Err(_) => return pass_through(&tracked, &real, &args),
    };
    match &op {
        Op::Other { .. } | Op::Help { .. } => pass_through(&tracked, &real, &args),
        _ if op.class() == OpClass::Run => stream(&tracked, &real, &op, &args),
        _ => {
            // orbctl's own argv when that is what we were given; `orb`'s is rebuilt as orbctl's.
            let argv = match flavor {
                Flavor::Orbctl => text_args,
                Flavor::Orb => op.to_argv(),
            };
            match tracked.execute(&op, &argv) {
                Ok(result) => {
                    let _ = std::io::stdout().write_all(&result.stdout);
                    let _ = std::io::stderr().write_all(&result.stderr);
                    result.caller_exit_code()
                }
                Err(e) => fail(e),
            }
        }
    }
}

fn fail(message: impl std::fmt::Display) -> i32 {
    eprintln!("orbctl (cargo orbtest shim): {message}");
    1
}

/// The real program: orbctl, or its `orb` sibling for the `orb` flavour.
fn real_program(tracked: &Tracked, flavor: Flavor) -> PathBuf {
    let settings = tracked.settings();
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

fn command(tracked: &Tracked, real: &Path, args: &[OsString]) -> Command {
    let mut cmd = Command::new(real);
    cmd.args(args);
    for (k, v) in &tracked.settings().env {
        cmd.env(k, v);
    }
    cmd
}

/// Becomes the real program (same stdio, same arguments).
fn pass_through(tracked: &Tracked, real: &Path, args: &[OsString]) -> i32 {
    let err = command(tracked, real, args).exec();
    fail(format!("cannot run {}: {err}", real.display()))
}

/// `run`: streamed with the caller's stdio, no timeout of ours; journaled once it ends.
fn stream(tracked: &Tracked, real: &Path, op: &Op, args: &[OsString]) -> i32 {
    let start = Instant::now();
    let status = match command(tracked, real, args).status() {
        Ok(s) => s,
        Err(e) => return fail(format!("cannot run {}: {e}", real.display())),
    };
    let code = status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    let record = Record::Op(OpRecord {
        ts_ms: now_ms(),
        run_id: tracked.journal().run_id().to_string(),
        pid: std::process::id(),
        test: orbtest_machines::tracked::caller_from_env(),
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
    });
    let _ = tracked.journal().append(&record, false);
    code
}
