//! Renderers for lockhound: they turn the harness's values into text and JSON documents, and
//! do nothing else (no printing, no files).

pub mod catalog;
pub mod gate;
pub mod guard;
pub mod run;
pub mod trace;
pub mod tracking;

pub use run::{ReplayView, RunView};
