//! The command line's integration tests, as one test binary: each binary links the harness
//! with loom and shuttle again, and cargo runs binaries one after another where libtest runs
//! one binary's tests side by side. Beside this folder: `miri` (the gate's pure code, which
//! scripts/miri.sh runs by name under miri) and `spinning_body` (a user's `harness = false`
//! target, run through its own command line).
//!
//! `cargo test -p lockhound-cli --test shared_process replay_strategy::` runs one file's tests.

mod check;
mod cli;
mod fuzz_parsers;
mod guard_pages;
mod replay_strategy;
mod track;
