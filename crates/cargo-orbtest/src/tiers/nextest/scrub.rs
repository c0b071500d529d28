//! nextest inside nextest: a tier must not inherit the `NEXTEST_*` variables of the nextest
//! that runs orbtest's own tests.

use std::process::Command;

/// Removes inherited `NEXTEST_*` variables: when orbtest itself runs under nextest (our own
/// tests do), they would silently override the tier's profile (e.g. `NEXTEST_TEST_THREADS`).
pub fn scrub_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("NEXTEST_") {
            cmd.env_remove(&key);
        }
    }
}

/// The same, for duct expressions.
pub fn scrub_env_duct(mut expr: duct::Expression) -> duct::Expression {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("NEXTEST_") {
            expr = expr.env_remove(&key);
        }
    }
    expr
}
