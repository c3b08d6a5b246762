//! `canopy-broker`: see `canopy_broker::cli`.

/// mimalloc: no per-allocation header, so the master's millions of small key
/// and value allocations cost less memory than with the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    canopy_broker::cli::main()
}
