//! `--tiers`: events through a chain of 1, 2 and 3 brokers (publisher on the
//! root, subscribers on the last), each as a ratio of the single broker in
//! the same run; latency through each; and a new replica's snapshot served
//! by a child broker's mirror versus by the root.

use crate::forwarding::{self, Spec};
use crate::latency;
use crate::state;
use crate::target::Kind;

/// Rows of the tiers table: (subscribers, payload).
const SHAPES: [(usize, usize); 3] = [(1, 64), (4, 64), (1, 1024)];

/// Runs and prints the tiers benchmark.
pub fn run(
    messages: u64,
    repeat: usize,
    latency_rate: u64,
    latency_seconds: f64,
    snapshot_keys: u64,
) -> anyhow::Result<()> {
    println!(
        "{:>5} {:>4} {:>7} | {:>12} {:>7} {:>6}",
        "tiers", "subs", "payload", "msg/s", "lost", "ratio"
    );
    for (subscribers, payload) in SHAPES {
        let spec = Spec {
            subscribers,
            payload,
            messages,
        };
        let mut single = None;
        for tiers in 1..=3u8 {
            let o = forwarding::best_of(Kind::Tiers(tiers), &spec, repeat)?;
            let base = *single.get_or_insert(o.msgs_per_s);
            println!(
                "{:>5} {:>4} {:>7} | {:>12.0} {:>7} {:>5.2}x",
                tiers,
                subscribers,
                payload,
                o.msgs_per_s,
                o.lost,
                o.msgs_per_s / base
            );
        }
    }
    println!("\nlatency at {latency_rate} msg/s:");
    for tiers in 1..=3u8 {
        let l = latency::measure(Kind::Tiers(tiers), latency_rate, latency_seconds)?;
        println!(
            "{tiers} tier(s): p50 {:.0} us p99 {:.0} us ({} samples)",
            l.p50_us, l.p99_us, l.samples
        );
    }
    let (root, leaf) = state::leaf_snapshot(snapshot_keys)?;
    println!(
        "\nsnapshot of {snapshot_keys} keys to a new replica: from the root {root:.2} s, \
         from a child's mirror {leaf:.2} s"
    );
    Ok(())
}
