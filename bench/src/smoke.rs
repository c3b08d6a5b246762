//! The benchmark smoke run CI does (issue 17): one short lossless search,
//! canopy against the bare proxy in the same run, its ratios compared with
//! a committed baseline. The machine is noisy and shared, so only ratios
//! measured in one run are compared, never absolute rates, and only a large
//! regression fails: a ratio below `min_fraction` of the baseline's.

use crate::lossless::{self, Search};
use crate::workload::WORKLOADS;
use anyhow::Context;
use serde::Deserialize;
use std::path::Path;

/// The baseline for one build profile.
#[derive(Debug, Deserialize)]
struct Reference {
    /// canopy (defaults) / proxy lossless rate when the baseline was taken.
    ratio_default: f64,
    /// canopy (HWM 100k) / proxy.
    ratio_equal_hwm: f64,
}

/// `bench/baseline.json`: references per profile and the tolerance.
#[derive(Debug, Deserialize)]
struct Baseline {
    /// A ratio below this fraction of the reference fails.
    min_fraction: f64,
    /// Measured with a debug build (what `cargo test` runs).
    debug: Reference,
    /// Measured with a release build.
    release: Reference,
}

/// The smoke search: one workload, short trials.
pub fn search() -> Search {
    Search {
        seconds: 0.5,
        repeats: 3,
        need: 2,
        start: 15_625.0,
        max: 2_000_000.0,
        steps: 2,
        nats: None,
    }
}

/// Runs the smoke search and compares; an error names what regressed.
pub fn run(baseline: &Path, json: bool) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(baseline)
        .with_context(|| format!("reading the baseline {}", baseline.display()))?;
    let b: Baseline = serde_json::from_str(&text)
        .with_context(|| format!("parsing the baseline {}", baseline.display()))?;
    let (profile, reference) = if cfg!(debug_assertions) {
        ("debug", &b.debug)
    } else {
        ("release", &b.release)
    };
    let row = lossless::row(&WORKLOADS[0], &search())?;
    let verdict = |name: &str, got: f64, want: f64| {
        let floor = want * b.min_fraction;
        println!(
            "{name}: {got:.2}x the proxy (baseline {want:.2}x, fails below {floor:.2}x; {profile} build)"
        );
        (got >= floor).then_some(()).ok_or_else(|| {
            anyhow::anyhow!(
                "lossless rate regressed: {name} is {got:.2}x the proxy, below {floor:.2}x ({} of the {profile} baseline {want:.2}x)",
                b.min_fraction
            )
        })
    };
    if json {
        println!("{}", serde_json::to_string(&row)?);
    }
    verdict("canopy default", row.ratio_default, reference.ratio_default)?;
    verdict(
        "canopy hwm 100k",
        row.ratio_equal_hwm,
        reference.ratio_equal_hwm,
    )?;
    Ok(())
}
