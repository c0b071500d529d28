//! One module per subcommand (`run`, `list`, `init`, `clean`, `doctor`, `report`); each turns
//! parsed arguments into work and returns the exit code. [`app`] is the program around them,
//! [`project`] finds the workspace and config they work on.

mod app;
mod clean;
mod doctor;
mod flaky;
mod images;
mod init;
mod list;
mod project;
mod report;
mod run;
mod shard;

pub use app::main;
