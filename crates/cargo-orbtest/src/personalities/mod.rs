//! The other programs cargo-orbtest is, by the name it is called as (argv[0]): the [`shim`]
//! (`orbctl`/`orb` during machine tiers), and the [`worker_slot`] runner and helper
//! (`orbtest-runner`, `orbtest-worker`). The embedded simulator (`orbsim-*`) is the `orbsim`
//! crate's.

pub mod shim;
pub mod worker_slot;
