//! The broker binary, built inside the test package so that end-to-end tests
//! always run the current code (`CARGO_BIN_EXE_e2e-canopy-broker`).

fn main() -> anyhow::Result<()> {
    canopy_broker::cli::main()
}
