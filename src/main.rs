//! `cargo-orbtest`: a thin entry point; everything lives in the `orbtest` library.

fn main() -> std::process::ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Reached through a link named `orbctl` or `orb`: the shim tests see during machine tiers.
    let flavor = args
        .first()
        .and_then(|a| a.to_str())
        .and_then(orbtest::machines::Flavor::from_argv0);
    let code = match flavor {
        Some(flavor) => orbtest::shim::main(flavor, args.into_iter().skip(1).collect()),
        None => orbtest::commands::main(args),
    };
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX))
}
