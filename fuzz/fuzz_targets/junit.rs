//! The JUnit reader (any runner's JUnit → test results): never panics, whatever the text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orbtest::junit::parse;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = parse(text);
});
