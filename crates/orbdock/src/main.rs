fn main() {
    std::process::exit(orbdock::main_with_args(std::env::args_os().collect()));
}
