//! Files a run leaves behind and what they are computed from: `summary.json`, the merged
//! `junit.xml`, `report.html`, GitHub Actions output, the release gate, reading a past run back,
//! merging shards, and where those files go. [`digest`] is what every rendering of a finished
//! run shows, computed once. What the terminal shows lives in `view`.

pub(crate) mod digest;
pub mod gate;
pub(crate) mod github;
pub mod html;
pub mod journal;
mod layout;
mod load;
pub(crate) mod merge;
mod rerun;
mod summary;
mod text;
pub(crate) mod trend;
mod write;

pub use digest::{Digest, Entry, TierRow, Verdict, counts_phrase, failure_word};
pub use layout::{REPORT_FILES, RunDir, new_run_id};
pub use load::{LoadedRun, load_run};
pub use orbtest_machines::files::{create_private_dir, write_atomic};
pub use rerun::{rerun_command, rerun_for, rerun_in, shell_word};
pub use summary::{
    AttemptSummary, BlameSummary, CountsSummary, FailureSummary, FlakySummary, GateSummary, MachinesSummary,
    QuarantineSummary, ResourcesSummary, ShardActual, ShardSummary, Summary, TierSummary,
};
pub use text::{count, count_as, excerpt, failure_excerpt, human_duration, seconds, tail};
pub use write::{ops_in, timeline_for, write_html, write_reports, write_summary};
