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
