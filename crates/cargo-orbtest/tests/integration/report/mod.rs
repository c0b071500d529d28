//! Reports, the live and plain progress, the release gate, GitHub Actions output and merging,
//! over built results (snapshots) and over real runs of the fixture workspaces.

mod data;
mod gate;
mod github;
mod live;
pub(crate) mod merge;
mod render;
mod runs;
mod snapshots;
