//! Machines around a run (issue #4) and the orbctl shim (issue #5), end to end: real
//! cargo-orbtest, real nextest, real test processes calling `orbctl`, orbsim as OrbStack.

mod api;
mod claims;
mod fidelity;
mod preflight;
mod shim;
mod signals;
