//! lockhound for this crate's scenarios. `cargo test` runs them as the gate (lockhound.toml);
//! `cargo test --test lockhound -- run handoff --variant one-condvar` (or `cargo lockhound run
//! ...`) explores one and prints its trace and replay command.

mod scenarios;

lockhound_cli::main!(scenarios::handoff::scenario(), scenarios::capacity::scenario(), scenarios::oneshot::scenario());
