//! Compiles the crate's sources over the loom model backend.
fn main() {
    println!("cargo:rustc-check-cfg=cfg(loom)");
    println!("cargo:rustc-cfg=loom");
}
