//! `client/include/canopy.h` must be exactly what cbindgen generates from
//! `src/ffi`: a stale checked-in header fails CI. Regenerate with
//! `CANOPY_UPDATE_HEADER=1 cargo test -p canopy-client --test header`.

use std::path::Path;

#[test]
fn checked_in_header_matches_a_fresh_generation() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let path = crate_dir.join("include/canopy.h");
    if std::env::var_os("CANOPY_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &fresh).expect("write header");
    }
    let checked_in = std::fs::read(&path).unwrap_or_default();
    assert!(
        checked_in == fresh,
        "client/include/canopy.h is stale: run CANOPY_UPDATE_HEADER=1 cargo test -p canopy-client --test header"
    );
}
