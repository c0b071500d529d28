//! Reliability (issue #8): faults injected into orbsim, processes and files; bad input; parser
//! properties; security. Every fault test checks what a user would rely on: the exit code, a
//! summary.json that is complete or absent, no pass reported for a test that did not pass, and
//! no machine of ours left once the next run's preflight has run. docs/reliability.md maps each
//! fault to its test.

mod bad_input;
mod files;
mod harness;
mod multirun;
mod orbsim_faults;
mod ownership;
mod parsers;
mod processes;
mod redaction;
mod results;
mod security;
mod signals;
