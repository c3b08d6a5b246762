//! `canopy`: see `canopy_client::cli`.

fn main() {
    std::process::exit(canopy_client::cli::main());
}
