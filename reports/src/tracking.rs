//! Renderers for a lock-tracking session ([`TrackReport`]): wait and hold flame graphs
//! (SVG, by inferno), the folded stacks they are drawn from, the lock-order graph as DOT,
//! a top-N table of lock classes and a human report of potential deadlocks and watchdog
//! episodes. Render only: every function returns the document.

use lockhound::tracker::{Frame, TrackReport, Verdict, WatchdogReport};
use std::fmt::Write as _;

/// The wait-time flame graph: `waiting` holds the waiters' stacks, `holding` the acquisition
/// stacks of the threads they waited for, each topped by a `lock:NAME (mode)` frame.
pub fn wait_svg(report: &TrackReport) -> Vec<u8> {
    flamegraph(
        &report.wait_folded,
        "Lock wait time",
        "waiting: where threads waited; holding: where the locks they waited for were taken",
    )
}

/// The hold-time flame graph (measured holds: one acquisition in `hold_sample_period`).
pub fn hold_svg(report: &TrackReport) -> Vec<u8> {
    let subtitle = format!(
        "where locks were taken, by time held (one acquisition in {} measured)",
        report.hold_sample_period
    );
    flamegraph(&report.hold_folded, "Lock hold time", &subtitle)
}

/// Folded stacks of wait time (`frame;...;lock:NAME (mode) NANOSECONDS` per line).
pub fn wait_folded(report: &TrackReport) -> String {
    report.wait_folded.clone()
}

/// Folded stacks of hold time.
pub fn hold_folded(report: &TrackReport) -> String {
    report.hold_folded.clone()
}

fn flamegraph(folded: &str, title: &str, subtitle: &str) -> Vec<u8> {
    let mut options = inferno::flamegraph::Options::default();
    options.title = title.to_owned();
    options.subtitle = Some(subtitle.to_owned());
    options.count_name = "ns".to_owned();
    options.name_type = "Frame:".to_owned();
    options.deterministic = true;
    options.hash = true;
    let mut svg = Vec::new();
    let lines = folded.lines().filter(|l| !l.trim().is_empty());
    if folded.trim().is_empty() || inferno::flamegraph::from_lines(&mut options, lines, &mut svg).is_err() {
        return empty_svg(title);
    }
    svg
}

/// An SVG saying there is nothing to draw (inferno refuses empty input).
fn empty_svg(title: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" standalone=\"no\"?>\n<svg version=\"1.1\" width=\"600\" height=\"60\" \
         xmlns=\"http://www.w3.org/2000/svg\"><text x=\"10\" y=\"35\" font-family=\"monospace\" \
         font-size=\"14\">{}: no samples</text></svg>\n",
        escape_xml(title)
    )
    .into_bytes()
}

fn escape_xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn escape_dot(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The lock-order graph in Graphviz DOT: one node per lock class, one edge per "held A
/// while taking B", labelled with the site of the second acquisition; edges of potential
/// deadlocks in red.
pub fn order_dot(report: &TrackReport) -> String {
    let mut out =
        String::from("digraph lock_order {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n");
    for node in &report.order.nodes {
        let _ = writeln!(out, "  \"{}\";", escape_dot(node));
    }
    for e in &report.order.edges {
        let style = if e.in_cycle { ", color=red, fontcolor=red, penwidth=2" } else { "" };
        let _ = writeln!(
            out,
            "  \"{}\" -> \"{}\" [label=\"{}\"{style}];",
            escape_dot(&e.from),
            escape_dot(&e.to),
            escape_dot(&e.to_site.to_string())
        );
    }
    out.push_str("}\n");
    out
}

fn ns(v: u64) -> String {
    match v {
        0..=9_999 => format!("{v}ns"),
        10_000..=9_999_999 => format!("{:.1}us", v as f64 / 1e3),
        10_000_000..=9_999_999_999 => format!("{:.1}ms", v as f64 / 1e6),
        _ => format!("{:.2}s", v as f64 / 1e9),
    }
}

/// The `n` lock classes with the most total wait time: total, max and p99 wait, and hold.
pub fn top_table(report: &TrackReport, n: usize) -> String {
    let mut classes: Vec<_> = report.classes.iter().collect();
    classes.sort_by(|a, b| b.wait.total_ns.cmp(&a.wait.total_ns).then(b.wait.max_ns.cmp(&a.wait.max_ns)));
    let rows: Vec<[String; 8]> = classes
        .iter()
        .take(n)
        .map(|c| {
            [
                c.name.clone(),
                c.wait.count.to_string(),
                ns(c.wait.total_ns),
                ns(c.wait.max_ns),
                ns(c.wait.p99_ns),
                ns(c.hold.total_ns),
                ns(c.hold.max_ns),
                ns(c.hold.p99_ns),
            ]
        })
        .collect();
    let header = [
        "lock class",
        "acquired",
        "wait total",
        "wait max",
        "wait p99",
        "hold total*",
        "hold max*",
        "hold p99*",
    ];
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: &[String], out: &mut String| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == 0 {
                let _ = write!(s, "{cell:<w$}");
            } else {
                let _ = write!(s, "  {cell:>w$}");
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&header.map(str::to_owned), &mut out);
    for row in &rows {
        line(row, &mut out);
    }
    let _ = writeln!(out, "* hold times measured on one acquisition in {}", report.hold_sample_period);
    out
}

fn frames(out: &mut String, stack: &[Frame], indent: &str) {
    for f in stack.iter().take(12) {
        match (&f.file, f.line) {
            (Some(file), Some(line)) => {
                let _ = writeln!(out, "{indent}{} ({file}:{line})", f.function);
            }
            _ => {
                let _ = writeln!(out, "{indent}{}", f.function);
            }
        }
    }
    if stack.len() > 12 {
        let _ = writeln!(out, "{indent}... {} more frames", stack.len() - 12);
    }
}

/// One watchdog episode in words.
pub fn watchdog_text(ep: &WatchdogReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "stuck episode seen at {} ms:", ep.at_ms);
    for v in &ep.verdicts {
        let tag = match v {
            Verdict::DeadlockCycle { .. } => "DEADLOCK",
            Verdict::SelfReentry { .. } => "SELF RE-ENTRY",
            Verdict::LongHolder { .. } => "LONG HOLDER",
            Verdict::OrphanedLock { .. } => "ORPHANED LOCK",
            Verdict::NoHolderCondvarWait { .. } => "NO HOLDER",
        };
        let _ = writeln!(out, "  [{tag}] {}", v.description());
    }
    if ep.verdicts.is_empty() {
        let _ = writeln!(out, "  [LONG WAIT] no verdict: the waits are long but nothing explains them yet");
    }
    for w in &ep.waiters {
        let _ = writeln!(
            out,
            "  waiter {}: {} {} ({:?}) at {}, waiting {} ms",
            w.thread,
            w.mode.name(),
            w.lock,
            w.kind,
            w.site,
            w.waited_ms
        );
        frames(&mut out, &w.stack, "      ");
    }
    for h in &ep.holders {
        let _ = writeln!(
            out,
            "  holder {}: {} {} taken at {}, held {} ms",
            h.thread,
            h.mode.name(),
            h.lock,
            h.site,
            h.held_ms
        );
        frames(&mut out, &h.stack, "      ");
    }
    if ep.holders.is_empty() {
        let _ = writeln!(out, "  holders: none");
    }
    out
}

/// The human report: summary, potential deadlocks, watchdog episodes and the top table.
pub fn text_report(report: &TrackReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "lock tracking: {} iteration(s) in {} ms{}{}",
        report.iterations,
        report.elapsed_ms,
        if report.hung { ", the last one hung (its threads were abandoned)" } else { "" },
        report.panic.as_ref().map(|p| format!(", body panicked: {p}")).unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "{} potential deadlock(s), {} watchdog report(s) (threshold {} ms)\n",
        report.potential_deadlocks.len(),
        report.watchdog.len(),
        report.watchdog_threshold_ms
    );
    for (i, d) in report.potential_deadlocks.iter().enumerate() {
        let _ = writeln!(out, "potential deadlock #{}: lock order cycle {}", i + 1, cycle_names(&d.classes));
        for line in &d.scenario {
            let _ = writeln!(out, "  {line}");
        }
        for e in &d.edges {
            let _ = writeln!(
                out,
                "  edge {} -> {} (first seen on {}):\n    {} taken at {}; first stack there:",
                e.from, e.to, e.thread, e.from, e.from_site
            );
            frames(&mut out, &e.from_stack, "      ");
            let _ = writeln!(out, "    {} taken at {} while {} was held:", e.to, e.to_site, e.from);
            frames(&mut out, &e.to_stack, "      ");
        }
        out.push('\n');
    }
    for ep in &report.watchdog {
        out.push_str(&watchdog_text(ep));
        out.push('\n');
    }
    if !report.classes.is_empty() {
        out.push_str(&top_table(report, 10));
    }
    out
}

fn cycle_names(classes: &[String]) -> String {
    let mut names = classes.to_vec();
    if let Some(first) = classes.first() {
        names.push(first.clone());
    }
    names.join(" -> ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockhound::sync::{Arc, Mutex};
    use lockhound::tracker::{track, TrackOptions};
    use std::time::Duration;

    fn report() -> TrackReport {
        let body: lockhound::Body = std::sync::Arc::new(|| {
            let a = lockhound::tracker::Mutex::named("conn-table", 0);
            let b = lockhound::tracker::RwLock::named("routes", 0);
            for _ in 0..20 {
                let _ga = a.lock();
                let _gb = b.write();
            }
            let _gb = b.read();
            let _ga = a.lock();
        });
        // The default hold sampling: 2,100 acquisitions of each class, about 33 timed.
        track(&body, TrackOptions { iterations: 100, ..Default::default() })
    }

    #[test]
    fn renders_every_document() {
        let r = report();
        let dot = order_dot(&r);
        assert!(dot.contains("\"conn-table\" -> \"routes\""), "{dot}");
        assert!(dot.contains("color=red"), "{dot}");
        let text = text_report(&r);
        assert!(text.contains("potential deadlock #1: lock order cycle"), "{text}");
        assert!(text.contains("thread 1 holds"), "{text}");
        let table = top_table(&r, 5);
        assert_eq!(table.lines().count(), 4, "{table}");
        assert!(table.contains("conn-table") && table.contains("routes"), "{table}");
        let hold = String::from_utf8(hold_svg(&r)).unwrap();
        assert!(hold.contains("<svg") && hold.contains("lock:conn-table (write)"), "{hold}");
        let wait = String::from_utf8(wait_svg(&r)).unwrap();
        assert!(wait.contains("<svg"), "{wait}");
    }

    #[inline(never)]
    fn hold_then_take(first: &Mutex<u64>, second: &Mutex<u64>, both_hold: &std::sync::Barrier) {
        let _first = first.lock().unwrap();
        both_hold.wait();
        let _second = second.lock().unwrap();
    }

    /// Two threads of the facade that deadlock for good on two named mutexes.
    fn hung_report() -> TrackReport {
        let body: lockhound::Body = std::sync::Arc::new(|| {
            let locks = Arc::new((Mutex::named("from-account", 0), Mutex::named("to-account", 0)));
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
            let (l, b) = (locks.clone(), barrier.clone());
            let t = lockhound::thread::spawn(move || hold_then_take(&l.1, &l.0, &b));
            hold_then_take(&locks.0, &locks.1, &barrier);
            t.join().unwrap();
        });
        let options = TrackOptions {
            iterations: 1,
            watchdog_threshold: Duration::from_millis(100),
            hang_timeout: Duration::from_millis(300),
            ..Default::default()
        };
        let report = track(&body, options);
        assert!(report.hung, "{report:#?}");
        report
    }

    #[test]
    fn a_hung_deadlock_is_in_every_document_under_the_facades_names() {
        let r = hung_report();
        let wait = String::from_utf8(wait_svg(&r)).unwrap();
        assert!(!wait.contains("no samples"), "{wait}");
        // Each frame is a `<title>` of the SVG; these names need no XML escaping.
        for frame in
            ["waiting", "holding", "hold_then_take", "lock:from-account (write)", "lock:to-account (write)"]
        {
            assert!(wait.contains(frame), "{frame} missing from wait.svg");
        }
        let dot = order_dot(&r);
        assert!(
            dot.contains("\"from-account\" -> \"to-account\"")
                && dot.contains("\"to-account\" -> \"from-account\""),
            "{dot}"
        );
        let text = text_report(&r);
        assert!(text.contains("[DEADLOCK]") && text.contains("waits for from-account"), "{text}");
        let table = top_table(&r, 5);
        let row = table.lines().find(|l| l.starts_with("from-account")).unwrap_or_else(|| panic!("{table}"));
        // The hung wait, in the table's wait total (at least 250 ms: shown in ms).
        assert!(row.contains("ms"), "{table}");
    }
}
