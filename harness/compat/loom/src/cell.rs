//! `loom::cell`: lockhound's cells, which have loom's API and its data-race checks under
//! both model checkers.

pub use lockhound::cell::*;
