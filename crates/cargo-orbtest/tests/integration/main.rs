//! cargo-orbtest's integration tests, one binary: the real `cargo-orbtest` over fixture
//! workspaces and the embedded orbsim. Each module is one area; `support` holds what they share.
//!
//! * `architecture`: which crate may use which, orbtest-machines' tree, no import cycles.
//! * `config`: orchestrator.toml errors (snapshots) and properties, in process (the fast tier).
//! * `cli`: tiers, needs, signals and config errors through the binary.
//! * `commands`: command tiers (a pytest suite), worker machines, remedies.
//! * `lifecycle`: preflight, postflight, the shim.
//! * `docker`: the lifecycle on a real Docker engine (`provider = "docker"`).
//! * `machines`: the machines client against orbsim faults, and the Rust test API.
//! * `reliability`: faults, bad input, parser properties, security.
//! * `report`: reports, views, the gate, merging.
//! * `shard`: shard plans and runs, the flake ledger, quarantine, the CI workflow.

mod support;

mod architecture;
mod cli;
mod commands;
mod config;
mod docker;
mod lifecycle;
mod machines;
mod reliability;
mod report;
mod shard;
