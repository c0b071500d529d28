//! orbctl's grammar as properties: every operation survives argv → `Op` → argv, and parsing
//! never panics on arbitrary input.

mod argv;
