//! `shuttle::sync`: lockhound's synchronization primitives, which have std's API (as
//! shuttle's do) on every engine.

pub use lockhound::sync::*;
