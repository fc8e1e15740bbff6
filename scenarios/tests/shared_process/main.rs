//! The scenario catalog's integration tests, as one test binary: each binary links the harness
//! with loom and shuttle again, and cargo runs binaries one after another where libtest runs
//! one binary's tests side by side. Beside this folder: `regression` (a binary scripts/miri.sh
//! runs by name) and `suite` (one test per program of the bug-finding suite, listed at run
//! time).
//!
//! `cargo test -p lockhound-scenarios --test shared_process catalog::` runs one file's tests.

mod async_starvation;
mod bounded_cache;
mod catalog;
mod idr_aba;
mod minimize;
mod trace;
