//! cargo-orbtest: tiered cargo-nextest runs that manage the OrbStack machines tests create.
//!
//! Data flows one way: `config` → `plan` → `run` (preflight, tiers, postflight) → `report`.
//! Everything that talks to `orbctl` goes through the `orbtest-machines` crate.

/// `println!` that never panics: a closed or broken stdout (`cargo orbtest list | head`) is
/// the reader's choice, not a crash.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `print!` that never panics.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` that never panics (a closed or broken stderr).
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `eprint!` that never panics.
#[macro_export]
macro_rules! err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

pub mod cli;
pub mod config;
pub mod env;
pub(crate) mod errors;
pub mod events;
pub(crate) mod exit_code;
pub(crate) mod history;
pub mod junit;
pub mod ledger;
pub mod lifecycle;
pub mod monitor;
pub mod personalities;
pub(crate) mod plan;
pub(crate) mod quarantine;
pub mod report;
pub mod results;
pub(crate) mod runner;
pub mod shard;
pub(crate) mod signals;
pub mod subcommands;
pub mod test_ids;
pub(crate) mod tiers;
pub mod view;
pub(crate) mod workspace;

/// The Rust API for tests moved to the `orbtest-machines` crate; depend on it directly.
#[deprecated(
    since = "0.1.0",
    note = "use the `orbtest-machines` crate (`orbtest_machines::Machines`)"
)]
pub mod machines {
    pub use orbtest_machines::*;
}
