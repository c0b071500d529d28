//! The machines layer: argv properties, the client's policy against orbsim and scripted
//! providers, and the test API. One test binary.

mod api;
mod argv;
mod client;
mod scripted;
#[path = "../sim/support.rs"]
mod support;
