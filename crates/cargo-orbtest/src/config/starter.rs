//! The starter config written by `cargo orbtest init` and shown when no config exists.

use std::path::Path;

/// A commented starter `orchestrator.toml`. Valid as written.
pub const STARTER: &str = r#"# orchestrator.toml — tiers for `cargo orbtest`.
# Tiers run in file order; each is one `cargo nextest run` (or a command) with its own settings.
# Every key is optional; the values shown are examples, defaults are in comments.

[tiers.fast]
# nextest filterset (https://nexte.st/docs/filtersets/). Default: "all()".
filter = "kind(lib) | kind(bin)"
# Test threads: a number or "num-cpus" (default).
threads = "num-cpus"
# Per-test timeout. Default: 60s (integration: 300s, e2e: 900s).
timeout = "60s"

[tiers.integration]
filter = "kind(test) & !binary(/e2e/)"
timeout = "300s"
# Retry every test of the tier: a count, or { count, delay, backoff = "fixed" | "exponential" }.
retries = { count = 1, delay = "5s" }
# Known-flaky tests (filtersets) get `flaky_retries` (default 2) extra retries.
flaky = []
# Run only if these tiers passed earlier in the same invocation.
needs = ["fast"]
# Tests in this tier create OrbStack machines: preflight, the orbctl shim and postflight apply.
machines = false

[tiers.e2e]
filter = "binary(/e2e/)"
threads = 2
needs = ["integration"]

# A tier can run any test runner's command instead of nextest (pytest, go test, jest, ...):
# [tiers.python]
# command = ["pytest", "-q", "--junitxml={junit}", "-n", "{threads}"]  # placeholders: {junit} {threads} {tier} {run_dir}
# rerun = ["pytest", "-q", "--lf", "--junitxml={junit}"]                # what `retries` run (default: command)
# retries = 1
# timeout = "30m"                  # bounds the whole tier (default 30m for command tiers)
# workdir = "python"               # relative to this file (default: its directory)
# env = { PYTHONUNBUFFERED = "1" }

# [machines]
# provider = "orbstack"            # or "sim" for the bundled orbsim simulator
# prefixes = ["test-"]             # machines cleanup may delete (at least 3 characters)
# protect = ["dev", "work-*"]      # never deleted
# max_concurrent_creates = 4      # default: as many as the host has memory headroom for
# images = ["ubuntu:22.04"]        # warmed in preflight
#
# [[machines.baseline]]            # a provisioned machine that tests' creates are cloned from
# name = "orbtest-base-jammy"
# image = "ubuntu:22.04"
# provision = ["apt-get update", "apt-get install -y python3"]
#
# [machines.workers]               # warm machines, one per running test ($ORBTEST_WORKER)
# baseline = "orbtest-base-jammy"  # or image = "ubuntu:22.04"
# count = "threads"                # or a number

# [pressure]
# swap_limit_percent = 80
# on_pressure = "wait"             # wait | skip | fail | ignore

# [gate]                           # checked with `cargo orbtest --gate`
# max_failed = 0
# max_flaky = 2
# max_duration = "15m"
"#;

/// What to say when the config file does not exist.
pub fn missing_config_message(path: &Path) -> String {
    let starter: String = STARTER
        .lines()
        .skip_while(|l| !l.starts_with("[tiers.fast]"))
        .take_while(|l| !l.starts_with("[tiers.e2e]"))
        .map(|l| format!("    {l}\n"))
        .collect();
    format!(
        "no config file at {}\n\n\
         cargo orbtest reads its tiers from orchestrator.toml at the workspace root.\n\
         Run `cargo orbtest init` to write a commented starter, or pass --config PATH.\n\
         A minimal one looks like this:\n\n{}",
        path.display(),
        starter.trim_end()
    )
}
