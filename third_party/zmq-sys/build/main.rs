//! canopy patch: builds the vendored libzmq 4.3.5 (with canopy's XPUB
//! patches) and turns CURVE on by handing zeromq-src the libsodium that
//! `libsodium-sys-stable` built. There is no system-libzmq path.
use std::env;

fn main() {
    // cargo fingerprints a path dependency by its .rs files only: watch the
    // C++ sources too, so a patched file rebuilds libzmq.
    println!("cargo:rerun-if-changed=build/main.rs");
    println!("cargo:rerun-if-changed=../zeromq-src/vendor/src");
    println!("cargo:rerun-if-changed=../zeromq-src/vendor/include");
    let lib = env::var("DEP_SODIUM_LIB").expect("libsodium-sys-stable sets DEP_SODIUM_LIB");
    let include =
        env::var("DEP_SODIUM_INCLUDE").expect("libsodium-sys-stable sets DEP_SODIUM_INCLUDE");
    zeromq_src::Build::new()
        .with_libsodium(Some(zeromq_src::LibLocation::new(lib, include)))
        .build();
}
