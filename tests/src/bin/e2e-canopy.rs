//! The CLI binary, built inside the test package so that end-to-end tests
//! always run the current code (`CARGO_BIN_EXE_e2e-canopy`).

fn main() {
    std::process::exit(canopy_cli::main());
}
