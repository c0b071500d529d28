//! The project's own GitHub Actions workflow (the setup docs/ci.md describes) must be valid: the
//! GitHub workflow schema (check-jsonschema's copy of SchemaStore's) and zizmor's audits, both
//! from PyPI; every `cargo orbtest` command in it parses.
