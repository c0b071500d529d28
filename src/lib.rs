//! cargo-orbtest: tiered cargo-nextest runs that manage the OrbStack machines tests create.
//!
//! Data flows one way: `config` → `plan` → `run` (preflight, tiers, postflight) → `report`.
//! Everything that talks to `orbctl` goes through `machines`.

pub mod machines;
pub mod sim;
