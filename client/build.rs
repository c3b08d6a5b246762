//! Gives the shared library a SONAME from the crate version, so that
//! programs linked against it name the ABI they were built for: before 1.0
//! the minor version is the ABI (`libcanopy_client.so.0.1`), from 1.0 the
//! major (`libcanopy_client.so.1`). See CHANGELOG.md, "Versioning policy".

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_default();
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap_or_default();
    let abi = if major == "0" {
        format!("0.{minor}")
    } else {
        major
    };
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libcanopy_client.so.{abi}");
    }
    println!("cargo:rustc-env=CANOPY_SONAME=libcanopy_client.so.{abi}");
    println!("cargo:rerun-if-changed=build.rs");
}
