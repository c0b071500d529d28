//! What the benchmarks share.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The standalone `orbsim` binary (the orbsim crate's), built in release mode if it is not
/// up to date. Benchmarks that compare orbtest against "orbctl called directly" need a program
/// that answers as `orbctl` through a link of that name, which cargo-orbtest's embedded
/// simulator cannot (its `orbctl` name is the shim).
pub(crate) fn orbsim_binary() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "orbsim",
            "--bin",
            "orbsim",
            "--message-format=json-render-diagnostics",
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build -p orbsim");
    assert!(out.status.success(), "cargo build -p orbsim failed");
    let reader = std::io::Cursor::new(out.stdout);
    cargo_metadata::Message::parse_stream(reader)
        .filter_map(Result::ok)
        .find_map(|m| match m {
            cargo_metadata::Message::CompilerArtifact(a) if a.target.name == "orbsim" => {
                a.executable.map(PathBuf::from)
            }
            _ => None,
        })
        .expect("cargo build -p orbsim names the orbsim executable")
}
