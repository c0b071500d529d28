//! The two kinds of tier: [`nextest`] tiers (one `cargo nextest run` each, with a generated
//! profile) and [`command`] tiers (any test runner's command, with its JUnit).

pub(crate) mod command;
pub(crate) mod nextest;
pub(crate) mod strays;
