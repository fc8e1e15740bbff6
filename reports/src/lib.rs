//! Renderers for lockhound: they turn the harness's values into text and JSON documents, and
//! do nothing else (no printing, no files).

pub mod catalog;
pub mod gate;
pub mod guard;
pub mod run;
pub mod trace;
pub mod tracking;

pub use run::{ReplayView, RunView};

/// A duration as people read it: `0.6 ms`, `24 ms`, `12.3 s`.
pub(crate) fn millis(d: std::time::Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 10_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// Quotes `text` for a POSIX shell when it needs it, so printed commands can be pasted.
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@,=+".contains(c)) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}
