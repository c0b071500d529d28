//! Machines around a run (issue #4) and the orbctl shim (issue #5), end to end: real
//! cargo-orbtest, real nextest, real test processes calling `orbctl`, orbsim as OrbStack.

#[path = "../cli/support.rs"]
#[allow(dead_code)]
mod cli_support;
mod support;

mod api;
mod fidelity;
mod preflight;
mod shim;
mod signals;
