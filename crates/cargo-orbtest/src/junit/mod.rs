//! JUnit, in one place: [`read`] is the one reader every JUnit file goes through (nextest's
//! per tier, any command tier's runner's, a past run's merged `junit.xml`); [`cases`] turns
//! attempts and repeated entries into test results; [`write`] writes a command tier's results
//! in nextest's shape; [`documents`] joins whole documents (the run's `junit.xml`, shards').

pub(crate) mod cases;
pub(crate) mod documents;
pub(crate) mod read;
pub(crate) mod write;

pub use cases::{attempts_of, from_attempts, merge_duplicates};
pub use read::{Invalid, JunitError, parse, parse_by_suite, read_path};
pub use write::normalized;
