//! `canopy-broker`: see `canopy_broker::cli`.

fn main() -> anyhow::Result<()> {
    canopy_broker::cli::main()
}
