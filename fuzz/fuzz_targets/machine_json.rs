//! `orbctl list -f json` and `orbctl info -f json` output parsers: never panic, whatever the
//! bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orbctl::{parse_info, parse_list};

fuzz_target!(|data: &[u8]| {
    let _ = parse_list(data);
    let _ = parse_info(data);
});
