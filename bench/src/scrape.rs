//! What monitoring costs the hot path: forwarding through canopy with
//! `/metrics` scraped every 100 ms against the same broker with HTTP off,
//! in pairs run back to back (off then on, on then off, ...) so that both
//! see the same machine, and the median of the pairs' ratios (single runs differ by
//! about 20% on a busy 2-core machine).

use crate::forwarding::{self, Spec};
use crate::target::Kind;
use serde::Serialize;

/// One row: a workload's paired runs.
#[derive(Debug, Serialize)]
pub struct ScrapeRow {
    kind: &'static str,
    subscribers: usize,
    payload_bytes: usize,
    pairs: usize,
    /// Median delivered rate with HTTP off.
    pub off_median_msgs_per_s: f64,
    /// Median delivered rate while scraped.
    pub scraped_median_msgs_per_s: f64,
    /// Median of (scraped / off) over the pairs.
    median_ratio: f64,
    min_ratio: f64,
    max_ratio: f64,
    /// Scrapes answered per scraped run, on average.
    scrapes_per_run: f64,
}

impl ScrapeRow {
    /// The workload, as the chart names it.
    pub fn label(&self) -> String {
        format!("{}B 1->{}", self.payload_bytes, self.subscribers)
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Runs `pairs` pairs per workload and prints one row each.
pub fn run(specs: &[Spec], pairs: usize, json: bool) -> anyhow::Result<Vec<ScrapeRow>> {
    if !json {
        println!(
            "{:>4} {:>7} {:>5} | {:>14} {:>16} | {:>7} {:>7} {:>7} | {:>8}",
            "subs",
            "payload",
            "pairs",
            "off msg/s",
            "scraped msg/s",
            "median",
            "min",
            "max",
            "scrapes"
        );
    }
    let mut rows = Vec::new();
    for spec in specs {
        let (mut off, mut on, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        let mut scrapes = 0u64;
        for pair in 0..pairs.max(1) {
            // Alternate which runs first, so neither gains from going second
            // (warm caches, a quieter moment).
            let (a, b) = if pair % 2 == 0 {
                let a = forwarding::run(Kind::Canopy, spec)?;
                (a, forwarding::run(Kind::CanopyScraped, spec)?)
            } else {
                let b = forwarding::run(Kind::CanopyScraped, spec)?;
                (forwarding::run(Kind::Canopy, spec)?, b)
            };
            ratios.push(b.msgs_per_s / a.msgs_per_s.max(1.0));
            off.push(a.msgs_per_s);
            on.push(b.msgs_per_s);
            scrapes += b.scrapes;
        }
        let row = ScrapeRow {
            kind: "scrape_overhead",
            subscribers: spec.subscribers,
            payload_bytes: spec.payload,
            pairs: ratios.len(),
            off_median_msgs_per_s: median(&mut off),
            scraped_median_msgs_per_s: median(&mut on),
            min_ratio: ratios.iter().copied().fold(f64::INFINITY, f64::min),
            max_ratio: ratios.iter().copied().fold(0.0, f64::max),
            median_ratio: median(&mut ratios),
            scrapes_per_run: scrapes as f64 / pairs.max(1) as f64,
        };
        if json {
            println!("{}", serde_json::to_string(&row)?);
        } else {
            println!(
                "{:>4} {:>7} {:>5} | {:>14.0} {:>16.0} | {:>6.3}x {:>6.3}x {:>6.3}x | {:>8.1}",
                row.subscribers,
                row.payload_bytes,
                row.pairs,
                row.off_median_msgs_per_s,
                row.scraped_median_msgs_per_s,
                row.median_ratio,
                row.min_ratio,
                row.max_ratio,
                row.scrapes_per_run
            );
        }
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(super::median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(super::median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(super::median(&mut []), 0.0);
    }
}
