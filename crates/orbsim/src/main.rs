//! orbsim: OrbStack's orbctl/orb, simulated. See `docs/orbsim.md`.

fn main() {
    std::process::exit(orbsim::main());
}
