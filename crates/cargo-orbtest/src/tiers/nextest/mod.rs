//! Driving cargo-nextest: version check, generated tool config, build once, list, run a tier,
//! read its JUnit. nextest stays a separate process; we never link its runner.

mod args;
mod build;
pub mod filterset;
mod list;
mod progress;
pub mod repeat;
mod run;
mod sites;
pub mod target_runner;
mod tool_config;
mod version;

pub use args::ForwardedArgs;
pub use build::{BuildRequest, Built, build};
pub use list::{
    TierListing, build_and_list, count_selected, list_binaries, list_each_tier, list_matching, list_skipped_by_design,
    list_tiers,
};
pub use progress::{FailedAttempt, FailureTap, LineEvent, MESSAGE_LINES, parse_line};
pub use run::{TierRun, TierRunOutput, effective_threads, run_tier};
pub use sites::{ConfigSite, config_sites};
pub use tool_config::{ToolConfig, profile_name, slow_timeout};
pub use version::{MIN_VERSION, NextestVersion, check_version};
