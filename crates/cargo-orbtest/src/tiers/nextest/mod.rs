//! Driving cargo-nextest: version check, generated tool config, build once, list, run a tier,
//! read its JUnit. nextest stays a separate process; we never link its runner.

mod args;
mod build;
pub(crate) mod filterset;
mod list;
mod progress;
pub(crate) mod repeat;
mod run;
mod sites;
pub(crate) mod target_runner;
mod tool_config;
mod version;

pub(crate) use args::ForwardedArgs;
pub(crate) use build::{BuildRequest, Built, build};
pub(crate) use list::{
    build_and_list, count_selected, list_binaries, list_each_tier, list_matching, list_skipped_by_design,
};
pub(crate) use progress::{FailedAttempt, FailureTap, LineEvent, parse_line};
pub(crate) use run::{TierRun, TierRunOutput, effective_threads, run_tier};
pub(crate) use sites::{ConfigSite, config_sites};
pub(crate) use tool_config::{ToolConfig, profile_name};
pub(crate) use version::{MIN_VERSION, check_version};
