//! The crate's concurrency scenarios, one module each.

pub mod capacity;
pub mod handoff;
pub mod oneshot;
