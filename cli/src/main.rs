//! `canopy`: see the `canopy_cli` library.

fn main() {
    std::process::exit(canopy_cli::main());
}
