//! `cargo-orbtest`: a thin entry point; everything lives in the `orbtest` library. The binary
//! answers to several names (argv[0]).

use orbctl::Flavor;

fn main() -> std::process::ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let argv0 = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|a| a.to_str())
        .unwrap_or_default();
    let code = match (argv0, Flavor::from_argv0(argv0)) {
        // The simulator travels inside cargo-orbtest (so it always matches the orchestrator),
        // reached through links with these names.
        (name @ ("orbsim-orbctl" | "orbsim-orb" | "orbsim"), _) => {
            let rest: Vec<String> = args.iter().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
            orbsim::main_with(name.trim_start_matches("orbsim-"), &rest)
        }
        // So does orbdock, the engine of `provider = "docker"`: machines on a Docker engine.
        (name @ ("orbdock-orbctl" | "orbdock-orb" | "orbdock"), _) => {
            let as_called = std::ffi::OsString::from(name.trim_start_matches("orbdock-"));
            orbdock::main_with_args(std::iter::once(as_called).chain(args.iter().skip(1).cloned()).collect())
        }
        // Each test's worker machine: nextest's target runner, and the helper other suites call.
        (name @ (orbtest::personalities::worker_slot::RUNNER | orbtest::personalities::worker_slot::HELPER), _) => {
            orbtest::personalities::worker_slot::main(name, args.iter().skip(1).cloned().collect())
        }
        // `orbctl` or `orb`: the shim tests see during machine tiers.
        (_, Some(flavor)) => orbtest::personalities::shim::main(flavor, args.into_iter().skip(1).collect()),
        _ => orbtest::subcommands::main(args),
    };
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX))
}
