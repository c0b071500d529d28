//! The orbctl argv parser: never panics, and whatever it accepts means the same operation when
//! rebuilt as canonical argv and parsed again (the builder and the parser agree).
#![no_main]

use libfuzzer_sys::fuzz_target;
use orbctl::argv::parse;
use orbctl::{Flavor, Op};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let flavor = if first & 1 == 0 { Flavor::Orbctl } else { Flavor::Orb };
    // NUL separates arguments (argv can never contain one).
    let args: Vec<String> = rest
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if let Ok(op) = parse(flavor, &args)
        && !matches!(op, Op::Help { .. } | Op::Other { .. })
    {
        let argv = op.to_argv();
        assert_eq!(parse(Flavor::Orbctl, &argv), Ok(op.clone()), "from {args:?} via {argv:?}");
    }
});
