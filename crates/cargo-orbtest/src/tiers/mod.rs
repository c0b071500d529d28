//! The two kinds of tier: [`nextest`] tiers (one `cargo nextest run` each, with a generated
//! profile) and [`command`] tiers (any test runner's command, with its JUnit).

pub mod command;
pub mod nextest;
pub mod strays;
