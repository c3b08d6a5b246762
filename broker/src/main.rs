//! `canopy-broker`: see `canopy_broker::cli`.

/// mimalloc: no per-allocation header, so the master's millions of small key
/// and value allocations cost less memory than with the system allocator.
/// Built as v2 (the `v2` feature in the workspace manifest): v3 moves aligned
/// allocations of most sizes up a size class (see the test below). Built with
/// `override` too, so C's `malloc` is mimalloc's as well and libzmq's message
/// parts come from it: in glibc's main heap the parts of a large sync stayed
/// pinned among long-lived allocations, and memory at rest after 2,000 nodes
/// synced ranged from 0.7 to 2.8 GiB between runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    canopy_broker::cli::main()
}

#[cfg(test)]
mod tests {
    use std::alloc::{alloc, dealloc, Layout};
    use std::collections::HashMap;

    /// The distance that occurs most often between consecutive allocations of
    /// `size` bytes aligned to 8, as Rust asks for every struct: the block
    /// size the allocator really spends on them.
    fn block_size(size: usize) -> usize {
        let layout = Layout::from_size_align(size, 8).unwrap_or_else(|e| panic!("{e}"));
        // SAFETY: the layout is non-zero; every block is freed below.
        let blocks: Vec<*mut u8> = (0..2_000).map(|_| unsafe { alloc(layout) }).collect();
        let mut gaps: HashMap<usize, usize> = HashMap::new();
        for pair in blocks.windows(2) {
            *gaps
                .entry((pair[1] as usize).abs_diff(pair[0] as usize))
                .or_default() += 1;
        }
        for block in blocks {
            assert!(!block.is_null());
            // SAFETY: allocated above with this layout.
            unsafe { dealloc(block, layout) };
        }
        gaps.into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(gap, _)| gap)
            .unwrap_or(0)
    }

    /// mimalloc v3 (the crate's default) serves an aligned request whose size
    /// is not a power of two from the next size class up unless a page of the
    /// right class happens to exist: a key slot of 160 bytes cost 192, and the
    /// 1M-key state benchmark measured 225-242 bytes a key instead of 200.
    /// The broker builds mimalloc v2, which serves them from their own class.
    #[test]
    fn aligned_allocations_cost_their_own_size_class() {
        for size in [48, 80, 96, 112, 160] {
            assert_eq!(block_size(size), size, "a {size}-byte allocation");
        }
    }

    extern "C" {
        /// mimalloc's own: whether `p` lies in memory it manages.
        fn mi_is_in_heap_region(p: *const std::ffi::c_void) -> bool;
    }

    /// libzmq allocates the content of every message part over 33 bytes with
    /// C's `malloc`; with mimalloc's `override` those blocks are mimalloc's.
    #[test]
    fn libzmq_allocates_from_mimalloc() {
        let part = zmq::Message::with_size(1000);
        // SAFETY: only the address is read; the part outlives the call.
        let ours = unsafe { mi_is_in_heap_region(part.as_ptr().cast()) };
        assert!(ours, "libzmq's message part is not in mimalloc's heap");
    }
}
