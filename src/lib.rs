//! cargo-orbtest: tiered cargo-nextest runs that manage the OrbStack machines tests create.
//!
//! Data flows one way: `config` → `plan` → `run` (preflight, tiers, postflight) → `report`.
//! Everything that talks to `orbctl` goes through `machines`.

pub mod cli;
pub mod command;
pub mod commands;
pub mod config;
pub mod errors;
pub mod events;
pub mod exit_code;
pub mod files;
pub mod history;
pub mod lifecycle;
pub mod machines;
pub mod monitor;
pub mod nextest;
pub mod plan;
pub mod process;
pub mod redact;
pub mod report;
pub mod results;
pub mod runner;
pub mod shim;
pub mod signals;
pub mod sim;
pub mod worker_slot;
pub mod workspace;
