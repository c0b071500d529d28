//! OrbStack's `orbctl`/`orb` command line as data, and nothing else.
//!
//! One definition of what orbctl says, shared by everything that speaks it: the client
//! (`orbtest-machines`), the simulator (`orbsim`) and the Docker engine.
//!
//! * [`op`]: typed operations and the argv that expresses each one.
//! * [`argv`]: reading argv exactly as orbctl does (cobra/pflag, `run`'s own parser, `orb`).
//! * [`output`]: the JSON shapes of `list -f json` and `info -f json`.
//! * [`errors`]: classifying what a failed call printed.
//! * [`checks`]: what orbctl answers by itself before a create does any work.
//! * [`images`]: distros, version aliases, architectures and machine-name rules.
//! * [`links`]: `orbctl`/`orb` links to a program that dispatches on argv[0].
//! * [`text`]: the human-readable texts (list table, info, sizes, prompts, hints, version).

pub mod argv;
pub mod checks;
pub mod errors;
pub mod images;
pub mod links;
pub mod op;
pub mod output;
pub mod text;

pub use errors::{ErrorKind, classify};
pub use op::{Flavor, Op, OpClass};
pub use output::{MachineInfo, MachineRecord, parse_info, parse_list};
