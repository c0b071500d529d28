//! orbdock's integration tests: they need a Docker engine and debootstrap (skipped with a
//! message on a developer machine without them; failing under CI=true, where .ci/run provides
//! both). Every machine a test makes belongs to a project of its own and is deleted at the end.

mod isolation;
mod machine_images;
mod ownership;
mod parity;
mod refusals;
mod support;
