//! CI scale-out: `cargo orbtest shard plan` spreads tests over N shards by their durations and
//! machine cost from history, and `cargo orbtest --shard K/N --plan FILE` runs one of them (or,
//! without a plan, nextest's `slice:K/N`).
//!
//! * [`spec`]: `K/N` and the hash that places tests the plan does not know.
//! * [`ids`]: test ids across runners (pytest node ids against JUnit names).
//! * [`plan`]: the plan file.
//! * [`planner`]: the balancing.
//! * [`inputs`]: what the planner learns from history and the current tests.
//! * [`select`]: a shard's tests in each tier of a run.
//! * [`runtime`]: preparing a run that is one shard.

pub use crate::test_ids as ids;
pub(crate) mod inputs;
pub(crate) mod plan;
pub mod planner;
pub(crate) mod runtime;
pub(crate) mod select;
pub(crate) mod spec;

pub use plan::{PlanError, PlanFile};
pub use spec::{ShardSpec, hash_shard};
