//! orbsim against the orbctl spec: error catalogue, JSON shapes, lifecycle, concurrency,
//! scenario effects. One test binary (each links the whole library).

mod concurrency;
mod errors;
mod json;
mod lifecycle;
mod scenario;
mod support;
