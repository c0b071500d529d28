//! `orchestrator.toml`: read, validate (every problem with file:line:col), and write back with
//! every default explicit.
//!
//! Reading works on toml's spanned document so each diagnostic can point at the exact key or
//! value; the typed [`Config`] it produces is what the rest of the program sees.

mod diagnostic;
mod docker;
mod gate;
mod load;
mod machines;
mod monitor;
pub(crate) mod placeholders;
mod pressure;
mod quarantine;
mod reader;
mod starter;
mod tier;
mod write;

pub use diagnostic::{ConfigError, Diagnostic, Source, did_you_mean};
pub use docker::{DockerConfig, ImageRecipe, ImageSource};
pub use gate::{GateConfig, TierGate};
pub use machines::{
    Baseline, MIN_PREFIX_LEN, MachinesConfig, OpRetry, OpTimeouts, ProviderKind, RestartConfig, SimConfig, WorkerCount,
    WorkerSpec, WorkersConfig, bad_protect_glob, prefix_never_matches,
};
pub use monitor::MonitorConfig;
pub use pressure::{OnPressure, PressureConfig};
pub use quarantine::{QuarantineEntry, today};
pub use starter::{CommandTierStarter, Derived, ListedBinary, for_commands, for_workspace, missing_config_message};
pub use tier::{Backoff, COMMAND_TIMEOUT, CommandTier, NoTests, Retries, Threads, Tier, TierSpans, default_timeout};
pub use write::duration_string;

pub use load::{Config, FILE_NAME, LoadError, load, parse};
