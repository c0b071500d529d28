//! orchestrator.toml: any text is either rejected with a located diagnostic or accepted, and an
//! accepted config round-trips through its explicit form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orbtest::config::{Source, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse(Source::new("orchestrator.toml", text)) {
        Ok(config) => {
            let explicit = config.to_explicit_toml();
            let again = parse(Source::new("explicit.toml", explicit.clone()))
                .unwrap_or_else(|e| panic!("explicit form rejected:\n{e}\n--- explicit ---\n{explicit}"));
            assert_eq!(again.to_explicit_toml(), explicit);
        }
        Err(e) => assert!(!e.diagnostics.is_empty(), "a rejection without a diagnostic"),
    }
});
