//! `loom::sync`: lockhound's synchronization primitives, and loom's own `Notify`.

mod notify;

pub use lockhound::sync::*;
pub use notify::Notify;
