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

/// A count of executions as people read it: `1 execution`, `62 executions`.
pub(crate) fn executions(n: u64) -> String {
    format!("{n} execution{}", if n == 1 { "" } else { "s" })
}

/// Quotes `text` for a POSIX shell when it needs it, so printed commands can be pasted.
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@,=+".contains(c)) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_execution_is_singular() {
        assert_eq!(super::executions(1), "1 execution");
        assert_eq!(super::executions(0), "0 executions");
        assert_eq!(super::executions(62), "62 executions");
    }
}
