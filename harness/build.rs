//! Tells the harness whether loom's `generator` is the patched one that can recycle coroutine
//! stacks (scripts/patched-generator.sh). The patch gives the crate `links` metadata, which
//! cargo passes only to crates that depend on it directly, as an environment variable.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(lockhound_recycled_stacks)");
    println!("cargo::rerun-if-env-changed=DEP_LOCKHOUND_GENERATOR_RECYCLE_STACKS");
    if std::env::var_os("DEP_LOCKHOUND_GENERATOR_RECYCLE_STACKS").is_some() {
        println!("cargo::rustc-cfg=lockhound_recycled_stacks");
    }
}
