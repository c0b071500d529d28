//! Shards and the flake ledger: `shard plan`, `--shard K/N --plan`, `report merge` of shards,
//! the ledger, `flaky`, quarantine, `new_test_runs`, and the CI workflow.

mod ledger;
mod newcomers;
mod plan;
mod quarantine;
mod runs;
mod workflow;
