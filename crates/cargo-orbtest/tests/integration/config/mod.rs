//! orchestrator.toml: every kind of bad input gets a located, actionable message (snapshots),
//! and the loader holds up to arbitrary input (properties).

mod errors;
mod properties;
