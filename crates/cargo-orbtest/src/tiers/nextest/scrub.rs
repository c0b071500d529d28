//! nextest inside nextest: a tier must not inherit the `NEXTEST_*` variables of the nextest
//! that runs orbtest's own tests.

use orbtest_process::Invocation;

/// `inv` without inherited `NEXTEST_*` variables: when orbtest itself runs under nextest (our
/// own tests do), they would silently override the tier's profile (e.g.
/// `NEXTEST_TEST_THREADS`).
pub fn scrubbed(inv: Invocation) -> Invocation {
    inv.without_inherited("NEXTEST_")
}
