//! Wall-clock milliseconds, as the journal records them and machine ids (ULIDs) carry them.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Allowed difference between our clock and the provider's when comparing a machine's creation
/// time with an ownership record (the provider runs on the same host).
pub const CLOCK_SLACK_MS: u64 = 2_000;
