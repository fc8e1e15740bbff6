//! A failing execution as a person reads it: one column per thread, numbered steps, the
//! values each operation read and wrote, `>` where the scheduler switched threads, the
//! failure last. Long runs of lock bookkeeping on one thread fold.

use lockhound::trace::{Event, Trace};

/// Widest a thread's column gets; longer cells are cut with `…`.
const MAX_CELL: usize = 64;
/// A run of value-less steps on one thread longer than this folds to its ends.
const FOLD_AFTER: usize = 4;

/// `file.rs:line` of a `path/to/file.rs:line` location.
fn short(location: &str) -> &str {
    location.rsplit('/').next().unwrap_or(location)
}

/// The cell of one event: operation, object and values.
fn cell(e: &Event) -> String {
    let object = match e.object.split_once(' ') {
        // "Mutex rwlock_timeout.rs:240 #2" -> "Mutex:240#2": the file is in the `at` column.
        Some((kind, rest)) if rest.contains(".rs:") => {
            let line = rest.split(':').nth(1).unwrap_or("");
            format!(" {kind}:{}", line.replace(' ', ""))
        }
        // A name its author gave it.
        _ if !e.object.is_empty() => format!(" {}", e.object),
        _ => String::new(),
    };
    let value = if e.value.is_empty() { String::new() } else { format!(" {}", e.value) };
    let text = format!("{}{object}{value}", e.op);
    if text.chars().count() > MAX_CELL {
        let cut: String = text.chars().take(MAX_CELL - 1).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// One printed row: a step, or a fold of several.
enum Row<'a> {
    Step(&'a Event),
    Fold { thread: usize, steps: usize, first: usize, last: usize },
}

/// Lock bookkeeping: what a long run may fold. Reads and writes of data never fold.
fn foldable(e: &Event) -> bool {
    e.value.is_empty()
        && matches!(
            e.op.as_str(),
            "lock"
                | "unlock"
                | "try_lock"
                | "read-lock"
                | "write-lock"
                | "try_read"
                | "try_write"
                | "notify_one"
                | "notify_all"
        )
}

/// Folds runs of lock bookkeeping on one thread, keeping the first and the last of each.
fn rows(events: &[Event]) -> Vec<Row<'_>> {
    let mut rows = Vec::new();
    let mut i = 0;
    while i < events.len() {
        let start = i;
        while i < events.len()
            && foldable(&events[i])
            && events[i].thread == events[start].thread
            && (i == start || !events[i].switched)
        {
            i += 1;
        }
        let run = &events[start..i];
        if run.len() > FOLD_AFTER {
            rows.push(Row::Step(&run[0]));
            rows.push(Row::Fold {
                thread: run[0].thread,
                steps: run.len() - 2,
                first: run[1].step,
                last: run[run.len() - 2].step,
            });
            rows.push(Row::Step(&run[run.len() - 1]));
        } else {
            rows.extend(run.iter().map(Row::Step));
        }
        if i == start {
            rows.push(Row::Step(&events[i]));
            i += 1;
        }
    }
    rows
}

/// The trace as text.
pub fn text(trace: &Trace) -> String {
    let threads = trace.threads.max(1);
    let mut widths = vec![0usize; threads];
    for (t, w) in widths.iter_mut().enumerate() {
        *w = format!("t{t}").len();
    }
    for e in &trace.events {
        if e.thread < threads {
            widths[e.thread] = widths[e.thread].max(cell(e).chars().count());
        }
    }
    let pad = |text: &str, width: usize| {
        format!("{text}{}", " ".repeat(width.saturating_sub(text.chars().count())))
    };
    let mut out = String::new();
    let header: Vec<String> = (0..threads).map(|t| pad(&format!("t{t}"), widths[t])).collect();
    out.push_str(&format!("   step | {} | at\n", header.join(" | ")));
    for row in rows(&trace.events) {
        match row {
            Row::Step(e) => {
                let cells: Vec<String> = (0..threads)
                    .map(|t| if t == e.thread { pad(&cell(e), widths[t]) } else { " ".repeat(widths[t]) })
                    .collect();
                let mark = if e.switched { '>' } else { ' ' };
                out.push_str(&format!(
                    "{mark}{:>6} | {} | {}\n",
                    e.step,
                    cells.join(" | "),
                    short(&e.location)
                ));
            }
            Row::Fold { thread, steps, first, last } => {
                let text = format!("… {steps} steps ({first}-{last})");
                let cells: Vec<String> = (0..threads)
                    .map(|t| if t == thread { pad(&text, widths[t]) } else { " ".repeat(widths[t]) })
                    .collect();
                out.push_str(&format!("{:>7} | {} |\n", "", cells.join(" | ")));
            }
        }
    }
    if let Some(f) = &trace.failure {
        let at = f.location.as_deref().map(short).unwrap_or("");
        let first_line = f.message.lines().next().unwrap_or_default();
        out.push_str(&format!("   FAIL   t{}: {first_line} {at}\n", f.thread));
    }
    out
}

/// The trace as JSON.
pub fn json(trace: &Trace) -> serde_json::Value {
    serde_json::to_value(trace).expect("traces always serialize")
}
