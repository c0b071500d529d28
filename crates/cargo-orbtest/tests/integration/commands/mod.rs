//! Command tiers, worker machines and OrbStack remedies (issue #9), end to end: the real
//! cargo-orbtest binary running a pytest suite (installed once into a virtualenv) whose tests
//! call `orbctl` against orbsim, a Rust fixture under nextest for worker slots, and JUnit as
//! other runners write it.

mod api;
mod interrupt;
mod junit_flavours;
mod placeholders;
mod pytest;
mod remedy;
mod seed_client;
mod worker_machines;
