//! The environment variables orbdock reads. cargo-orbtest sets them for the processes that call
//! orbdock as their `orbctl`; a user may set them by hand.

/// The engine to talk to (`unix:///path`, `tcp://host:port`), as the docker CLI reads it.
pub const DOCKER_HOST: &str = "DOCKER_HOST";
/// Path to a JSON object `{"<image name>": "<docker image id>"}` that says which Docker image
/// each machine image name (`ubuntu:22.04`) uses. cargo-orbtest's preflight writes it after
/// building the images; without it (or for a name it lacks) `create` takes the newest local
/// image labelled with that image name.
pub const DOCKER_IMAGES: &str = "ORBTEST_DOCKER_IMAGES";
/// The project a machine belongs to (label `dev.orbtest.project`). orbdock sees only the
/// machines of its project, so projects sharing one engine never see or touch each other's
/// machines; each behaves as its own OrbStack. Default: `default`.
pub const PROJECT: &str = "ORBDOCK_PROJECT";
/// The run that made a machine (label `dev.orbtest.run`), for the orchestrator's reaping.
/// Default: empty (made outside a run).
pub const RUN: &str = "ORBDOCK_RUN";
/// `systemd`, `minimal` or `auto` (default): which init machines boot. `auto` uses systemd where
/// the engine can run it as PID 1 and falls back to a minimal init elsewhere.
pub const INIT: &str = "ORBDOCK_INIT";

/// The project from the environment (`default` when unset or empty).
pub fn project() -> String {
    std::env::var(PROJECT)
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "default".to_string())
}

/// The run from the environment (empty when unset).
pub fn run() -> String {
    std::env::var(RUN).unwrap_or_default()
}
