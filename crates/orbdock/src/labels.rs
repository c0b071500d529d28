//! The labels orbdock puts on what it makes. A container is a machine only when it carries
//! [`MACHINE`] and its [`PROJECT`] is orbdock's project: anything else on the engine is
//! invisible to every command, so orbdock can never stop or delete a container it did not make.

/// The machine's name when it was created. `rename` renames the container, whose name
/// (`orbtest_<project>_<name>`) is the current one; this label keeps the first.
pub const MACHINE: &str = "dev.orbtest.machine";
/// The machine id: a ULID minted at create (it carries the creation time, as OrbStack's do).
pub const ID: &str = "dev.orbtest.id";
/// The project (see [`crate::env::PROJECT`]).
pub const PROJECT: &str = "dev.orbtest.project";
/// The run that made the machine (see [`crate::env::RUN`]).
pub const RUN: &str = "dev.orbtest.run";
/// What kind of object this is: [`KIND_MACHINE_IMAGE`], [`KIND_CLONE`], [`KIND_DEFAULT`].
pub const KIND: &str = "dev.orbtest.kind";
/// On machine images: the image name it serves (`ubuntu:22.04`).
pub const IMAGE: &str = "dev.orbtest.image";
/// On machine images: the recipe hash it was built from.
pub const RECIPE: &str = "dev.orbtest.recipe";
/// The machine record as orbctl shows it: distro, version, arch, default user.
pub const DISTRO: &str = "dev.orbtest.distro";
pub const VERSION: &str = "dev.orbtest.version";
pub const ARCH: &str = "dev.orbtest.arch";
pub const USER: &str = "dev.orbtest.user";
/// `systemd` or `minimal`: the init the machine boots.
pub const INIT: &str = "dev.orbtest.init";

/// A machine image built from a recipe.
pub const KIND_MACHINE_IMAGE: &str = "machine-image";
/// An image made by `clone` or `import` for one machine (removed with it).
pub const KIND_CLONE: &str = "machine-snapshot";
/// The volume that records a project's default machine.
pub const KIND_DEFAULT: &str = "default-machine";
/// The volume that records whether systemd runs as PID 1 on this engine.
pub const KIND_PROBE: &str = "systemd-probe";
