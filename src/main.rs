//! `cargo-orbtest`: a thin entry point; everything lives in the `orbtest` library.

fn main() -> std::process::ExitCode {
    let code = orbtest::commands::main(std::env::args_os().collect());
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX))
}
