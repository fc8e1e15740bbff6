//! `lockhound run --guard-pages`: what the guard-page allocator caught in the child, as text
//! and JSON.

use lockhound::guard::{Frame, GuardOutcome, GuardReport, GuardRun};
use serde_json::{json, Value};

/// A guarded run of one variant.
pub struct GuardView<'a> {
    pub scenario: &'a str,
    pub variant: &'a str,
    pub run: &'a GuardRun,
    pub out_dir: Option<String>,
}

/// Frames worth showing: named, with a source line, at most `limit`.
fn sites(frames: &[Frame], limit: usize) -> Vec<String> {
    frames
        .iter()
        .filter_map(|f| {
            let symbol = f.symbol.as_deref()?;
            let place = match (&f.file, f.line) {
                (Some(file), Some(line)) => format!("{}:{line}", lockhound::source_path::shorten(file)),
                _ => return None,
            };
            Some(format!("{symbol} at {place}"))
        })
        .take(limit)
        .collect()
}

fn push_sites(out: &mut String, title: &str, thread: Option<u32>, frames: &[Frame]) {
    let lines = sites(frames, 4);
    if lines.is_empty() {
        return;
    }
    let thread = thread.map(|t| format!(" (thread {t})")).unwrap_or_default();
    out.push_str(&format!("  {title}{thread}:\n"));
    for l in lines {
        out.push_str(&format!("    {l}\n"));
    }
}

fn fault_text(r: &GuardReport) -> String {
    let thread = match &r.thread.name {
        Some(name) => format!("thread {} '{}'", r.thread.tid, printable(name, 32)),
        None => format!("thread {}", r.thread.tid),
    };
    let mut out = format!(
        "  {} {} at {:#x}, offset {} of a {}-byte block, by {thread}\n",
        r.kind.as_str(),
        r.access.as_str(),
        r.address,
        r.offset,
        r.size
    );
    push_sites(&mut out, "access", None, &r.access_site);
    push_sites(&mut out, "freed", r.free_thread, &r.free_site);
    push_sites(&mut out, "allocated", r.alloc_thread, &r.alloc_site);
    out
}

/// The last non-empty line of the child's stderr: its panic or error, when it had one.
fn last_line(text: &str) -> Option<&str> {
    text.lines().rev().map(str::trim).find(|l| !l.is_empty())
}

/// Text the child wrote, fit for one line of a terminal: control characters (escape
/// sequences, carriage returns) escaped, and cut after `max` characters, saying how much
/// was left out.
fn printable(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max {
            let rest = text.chars().count() - max;
            out.push_str(&format!("... ({rest} more characters)"));
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The human report.
pub fn text(view: &GuardView<'_>) -> String {
    let head = format!("{} ({}) under guard pages", view.scenario, view.variant);
    let mut out = match &view.run.outcome {
        GuardOutcome::Passed => format!("{head}: pass — no memory error in {} ms\n", view.run.elapsed_ms),
        GuardOutcome::Fault(report) => {
            format!(
                "{head}: FAIL — {} caught at the faulting access\n{}",
                report.kind.as_str(),
                fault_text(report)
            )
        }
        GuardOutcome::Crashed { signal, exit_code } => {
            let how = match (signal, exit_code) {
                (Some(s), _) => format!("killed by signal {s}"),
                (None, Some(code)) => format!("exited with status {code}"),
                (None, None) => "ended abnormally".to_string(),
            };
            let mut t = format!("{head}: FAIL — the child {how}, not through the guard allocator\n");
            if let Some(line) = last_line(&view.run.stderr) {
                t.push_str(&format!("  {}\n", printable(line, 300)));
            }
            t
        }
        GuardOutcome::TimedOut { after_ms } => {
            format!("{head}: FAIL — no end after {after_ms} ms; the child was killed (a hang)\n")
        }
    };
    if let Some(dir) = &view.out_dir {
        out.push_str(&format!("  report written to {dir}/\n"));
    }
    out
}

/// The JSON document: scenario, variant, backend "stress+guard-pages", outcome, and the
/// guard run (kind, access, address, offset, size, thread and the three sites).
pub fn json(view: &GuardView<'_>) -> Value {
    json!({
        "scenario": view.scenario,
        "variant": view.variant,
        "backend": "stress+guard-pages",
        "outcome": if matches!(view.run.outcome, GuardOutcome::Passed) { "pass" } else { "fail" },
        "guard": view.run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockhound::guard::GuardOutcome;

    /// A child's last words reach the terminal as one line of plain text, whatever they held.
    #[test]
    fn the_childs_last_line_is_escaped_and_cut() {
        let hostile = format!("panicked: \u{1b}[2J\u{1b}]0;owned\u{7}\rcleared {}\n", "x".repeat(100_000));
        let run = GuardRun {
            outcome: GuardOutcome::Crashed { signal: None, exit_code: Some(101) },
            elapsed_ms: 1,
            stdout: String::new(),
            stderr: format!("earlier noise\n{hostile}"),
        };
        let view = GuardView { scenario: "s", variant: "v", run: &run, out_dir: None };
        let text = text(&view);
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains("panicked: \\u{1b}[2J"), "{text}");
        assert!(text.len() < 1000 && text.contains("more characters)"), "{} bytes", text.len());
    }
}
