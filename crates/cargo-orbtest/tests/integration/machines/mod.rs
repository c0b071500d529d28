//! The machines client end to end: its policy against orbsim with scenario faults, and the
//! Rust test API.

mod api;
mod client;
