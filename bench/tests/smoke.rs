//! The benchmark smoke run in CI (issue 17): `canopy-bench --lossless
//! --smoke` against the committed `bench/baseline.json`. It compares
//! ratios to the bare proxy measured in the same run, and fails only on a
//! large regression.

use std::path::Path;
use std::process::Command;

#[test]
fn lossless_ratios_hold_against_the_baseline() {
    let baseline = Path::new(env!("CARGO_MANIFEST_DIR")).join("baseline.json");
    let out = Command::new(env!("CARGO_BIN_EXE_canopy-bench"))
        .args(["--lossless", "--smoke", "--baseline"])
        .arg(&baseline)
        .output()
        .expect("run canopy-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}{stderr}");
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("canopy default:"), "{stdout}");
}

/// `--scale` end to end at a size CI can afford: simulated nodes join,
/// take their group's snapshot whole, rest, subscribe more and ride out a
/// broker restart (the run fails if any replica comes back short).
#[test]
fn a_small_scale_sweep_runs_to_the_end() {
    let out = Command::new(env!("CARGO_BIN_EXE_canopy-bench"))
        .args([
            "--scale", "--nodes", "20,60", "--keys", "600", "--groups", "4",
        ])
        .args(["--steady-seconds", "0.5", "--json"])
        .output()
        .expect("run canopy-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    let rows: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let scale: Vec<&serde_json::Value> = rows.iter().filter(|r| r["kind"] == "scale").collect();
    assert_eq!(scale.len(), 2, "{stdout}");
    for (row, nodes) in scale.iter().zip([20, 60]) {
        assert_eq!(row["nodes"], nodes);
        assert_eq!(row["connections_open"], nodes * 3 + 1, "{row}");
        assert!(row["storm_s"].as_f64().is_some_and(|s| s > 0.0), "{row}");
        // A clean restart: every node kept its level, no key was sent.
        assert_eq!(row["storm_snapshots_unchanged"], nodes, "{row}");
        assert_eq!(row["storm_keys_sent"], 0, "{row}");
    }
    assert!(rows.iter().any(|r| r["kind"] == "scale-fit"), "{stdout}");
}

/// The storm after a crash: nothing was published past the last commit, so
/// the new history takes every node's level over (PROTOCOL.md 12.1) and no
/// key is sent again; each node still checks it holds its whole level.
#[test]
fn a_scale_storm_after_a_crash_takes_the_committed_levels_over() {
    let out = Command::new(env!("CARGO_BIN_EXE_canopy-bench"))
        .args(["--scale", "--nodes", "20", "--keys", "600", "--groups", "4"])
        .args(["--steady-seconds", "0.5", "--storm-crash", "--json"])
        .output()
        .expect("run canopy-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    let row: serde_json::Value = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
        .find(|r| r["kind"] == "scale")
        .expect("a scale row");
    assert_eq!(row["storm_after"], "kill", "{row}");
    assert_eq!(row["storm_snapshots_unchanged"], 20, "{row}");
    assert_eq!(row["storm_snapshots_taken_over"], 20, "{row}");
    assert_eq!(row["storm_keys_sent"], 0, "{row}");
}
