//! End-to-end tests of `cargo orbtest` over fixture workspaces: real cargo, real nextest, real
//! test processes and signals.

mod config_errors;
mod doctor;
mod flags;
mod init;
mod list_init;
mod run_tiers;
mod signals;
