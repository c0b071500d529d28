//! The JUnit reader (nextest's junit.xml → test results): never panics, whatever the text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orbtest::tiers::nextest::read_junit_str;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = read_junit_str(text);
});
