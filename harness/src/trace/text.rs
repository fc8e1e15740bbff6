//! A failing execution as a person reads it: one column per thread, numbered steps, the
//! values each operation read and wrote, `>` where the scheduler preempted a thread that could
//! have gone on and `~` where it switched because the thread blocked, yielded or ended, the
//! operations a thread was blocked in for good marked `(blocked)`, the failure last. A stretch
//! that repeats (a spin loop) is condensed to its first round and a count; long runs of lock
//! bookkeeping on one thread fold. (The JSON, which the reports crate writes, keeps every event.)
//!
//! Everything shown is rendered here from the trace's typed data: the facade records objects,
//! values and source lines, never text. This one renderer lives beside the data, in the
//! harness, because `lockhound::check` must show the trace in a user's failing test, and a
//! user's crate depends on `lockhound` alone; the reports crate and the command line show the
//! same text through it.

use super::{Event, Object, Scalar, SourceLine, Trace, Value};

/// Widest a thread's column gets; longer cells are cut with `…`.
const MAX_CELL: usize = 64;
/// A run of value-less steps on one thread longer than this folds to its ends.
const FOLD_AFTER: usize = 4;
/// The longest stretch of operations looked for as the body of a repetition.
const MAX_PERIOD: usize = 8;
/// A stretch condenses when it repeats at least this often in a row...
const MIN_REPEATS: usize = 3;
/// ...and its repetitions cover at least this many steps.
const MIN_CONDENSED_STEPS: usize = 8;

/// `file.rs` of a `path/to/file.rs`.
fn file_name(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

/// `file.rs:line` of a source line.
fn short(at: &SourceLine) -> String {
    format!("{}:{}", file_name(&at.file), at.line)
}

/// An object's label: the name its author gave it, or its kind and creation line; `#n` for
/// the n-th object created on that line (`Mutex bank.rs:49 #2`).
pub fn label(object: &Object) -> String {
    let instance = if object.instance > 1 { format!(" #{}", object.instance) } else { String::new() };
    match &object.name {
        Some(name) => format!("{name}{instance}"),
        None => format!("{} {}{instance}", object.kind, short(&object.created)),
    }
}

/// The label in a thread's column, where the file is in the `at` column already:
/// `Mutex:49#2`, or the author's name.
fn short_label(object: &Object) -> String {
    let instance = if object.instance > 1 { format!("#{}", object.instance) } else { String::new() };
    match &object.name {
        Some(name) => format!("{name}{instance}"),
        None => format!("{}:{}{instance}", object.kind, object.created.line),
    }
}

/// How a trace shows an unsigned number: in hex, grouped by four digits past four
/// (`0x0B`, `0xFFFF_FFFF_FFFF_FFFF`), the way lock words and pointers are read.
pub fn hex(v: u64) -> String {
    let hex = format!("{v:02X}");
    let hex = if hex.len() % 4 != 0 && hex.len() > 4 {
        format!("{hex:0>width$}", width = hex.len().div_ceil(4) * 4)
    } else {
        hex
    };
    let groups: Vec<&str> = (0..hex.len()).step_by(4).map(|i| &hex[i..(i + 4).min(hex.len())]).collect();
    format!("0x{}", groups.join("_"))
}

fn scalar(s: Scalar) -> String {
    match s {
        Scalar::Unsigned(v) => hex(v),
        Scalar::Signed(v) => v.to_string(),
        Scalar::Bool(v) => v.to_string(),
        Scalar::Address(0) => "null".to_string(),
        Scalar::Address(v) => hex(v),
    }
}

/// An operation's values in words: `0x1B`, `0x1B -> 0x0B`, `failed: saw 0x01, expected 0x00`.
pub fn value(v: &Value) -> String {
    match v {
        Value::Read(s) | Value::Written(s) => scalar(*s),
        Value::Replaced { old, new } => format!("{} -> {}", scalar(*old), scalar(*new)),
        Value::ExchangeFailed { seen, expected } => {
            format!("failed: saw {}, expected {}", scalar(*seen), scalar(*expected))
        }
        Value::Note(text) => text.clone(),
    }
}

/// A count as people read it, in thousands: `12,345` (the reports crate's counts too).
pub fn grouped(n: impl Into<u64>) -> String {
    let n: u64 = n.into();
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The cell of one event: operation, object and values.
fn cell(e: &Event) -> String {
    let object = e.object.as_ref().map(|o| format!(" {}", short_label(o))).unwrap_or_default();
    let value = e.value.as_ref().map(|v| format!(" {}", value(v))).unwrap_or_default();
    let blocked = if e.blocked { " (blocked)" } else { "" };
    let text = format!("{}{object}{value}{blocked}", e.op);
    if text.chars().count() > MAX_CELL {
        let cut: String = text.chars().take(MAX_CELL - 1).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// One printed row: a step, a fold of several, or the repetitions of a stretch.
enum Row<'a> {
    Step(&'a Event),
    Fold { thread: usize, steps: usize, first: usize, last: usize },
    Repeated { first: usize, last: usize, period: usize, times: usize },
}

/// Lock bookkeeping: what a long run may fold. Reads and writes of data never fold.
fn foldable(e: &Event) -> bool {
    e.value.is_none()
        && !e.blocked
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

/// Whether two events are the same operation, as far as a reader can tell: thread, operation,
/// object, values, line and whether the step switched threads; not the step number.
fn same(a: &Event, b: &Event) -> bool {
    a.thread == b.thread
        && a.op == b.op
        && a.object == b.object
        && a.value == b.value
        && a.location == b.location
        && a.switched == b.switched
        && a.preempted == b.preempted
        && !a.blocked
        && !b.blocked
}

/// The stretch that repeats from `events[0]` on, covering the most steps: its length and how
/// many times it occurs in a row (1 if nothing repeats enough to condense).
fn repetition(events: &[Event]) -> (usize, usize) {
    let mut best = (1, 1);
    for period in 1..=MAX_PERIOD.min(events.len() / MIN_REPEATS) {
        let mut times = 1;
        while (times + 1) * period <= events.len()
            && (0..period).all(|k| same(&events[k], &events[times * period + k]))
        {
            times += 1;
        }
        if times >= MIN_REPEATS && times * period >= MIN_CONDENSED_STEPS && times * period > best.0 * best.1 {
            best = (period, times);
        }
    }
    best
}

/// Condenses repeating stretches to their first round and a count, and folds runs of lock
/// bookkeeping on one thread and one line of source, keeping the first and the last of each.
fn rows(events: &[Event]) -> Vec<Row<'_>> {
    let mut rows = Vec::new();
    let mut i = 0;
    while i < events.len() {
        let (period, times) = repetition(&events[i..]);
        if times > 1 {
            rows.extend(events[i..i + period].iter().map(Row::Step));
            let end = i + period * times;
            rows.push(Row::Repeated {
                first: events[i + period].step,
                last: events[end - 1].step,
                period,
                times: times - 1,
            });
            i = end;
            continue;
        }
        let start = i;
        // A run folds only while it stays on one line of source (a guard's drop has none):
        // where the code moves on, say from a critical section that reads to the one that
        // writes, the reader needs to see it.
        let mut line = None;
        while i < events.len()
            && foldable(&events[i])
            && events[i].thread == events[start].thread
            && (i == start || !events[i].switched)
            && events[i].location.as_ref().is_none_or(|at| *line.get_or_insert(at) == at)
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

/// What a fold shows in its thread's column.
fn fold_text(row: &Row<'_>) -> String {
    match row {
        Row::Fold { steps, first, last, .. } => format!("… {steps} steps ({first}-{last})"),
        _ => String::new(),
    }
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
    let rows = rows(&trace.events);
    // A fold's note is in its thread's column too.
    for row in &rows {
        if let Row::Fold { thread, .. } = row {
            if *thread < threads {
                widths[*thread] = widths[*thread].max(fold_text(row).chars().count());
            }
        }
    }
    let pad = |text: &str, width: usize| {
        format!("{text}{}", " ".repeat(width.saturating_sub(text.chars().count())))
    };
    let mut out = String::new();
    let header: Vec<String> = (0..threads).map(|t| pad(&format!("t{t}"), widths[t])).collect();
    out.push_str(&format!("   step | {} | at\n", header.join(" | ")));
    for row in rows {
        match row {
            Row::Step(e) => {
                let cells: Vec<String> = (0..threads)
                    .map(|t| if t == e.thread { pad(&cell(e), widths[t]) } else { " ".repeat(widths[t]) })
                    .collect();
                let mark = match (e.switched, e.preempted) {
                    (_, true) => '>',
                    (true, false) => '~',
                    (false, false) => ' ',
                };
                let at = e.location.as_ref().map(short).unwrap_or_default();
                let line = format!("{mark}{:>6} | {} | {at}", e.step, cells.join(" | "));
                // No trailing blanks where a step has no line (a guard's drop).
                out.push_str(line.trim_end());
                out.push('\n');
            }
            Row::Fold { thread, .. } => {
                let text = fold_text(&row);
                let cells: Vec<String> = (0..threads)
                    .map(|t| if t == thread { pad(&text, widths[t]) } else { " ".repeat(widths[t]) })
                    .collect();
                out.push_str(&format!("{:>7} | {} |\n", "", cells.join(" | ")));
            }
            Row::Repeated { first, last, period, times } => {
                let operations =
                    if period == 1 { "operation".to_string() } else { format!("{period} operations") };
                let rounds = if times == 1 {
                    "once more".to_string()
                } else {
                    format!("{} times", grouped(times as u64))
                };
                out.push_str(&format!(
                    "{:>7}   … steps {} to {}: the same {operations} repeated {rounds}\n",
                    "",
                    grouped(first as u64),
                    grouped(last as u64)
                ));
            }
        }
    }
    if let Some(f) = &trace.failure {
        let at = f.location.as_deref().map(|l| l.rsplit('/').next().unwrap_or(l)).unwrap_or("");
        let first_line = f.message.lines().next().unwrap_or_default();
        let who = if f.blocked.is_empty() {
            format!("t{}", f.thread)
        } else {
            let threads: Vec<String> = f.blocked.iter().map(|t| format!("t{t}")).collect();
            format!("{} blocked", threads.join(", "))
        };
        out.push_str(&format!("   FAIL   {who}: {first_line} {at}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: u32) -> Option<SourceLine> {
        Some(SourceLine { file: "src/spin.rs".to_string(), line })
    }

    fn flag(instance: u32) -> Object {
        Object {
            kind: "AtomicBool".to_string(),
            name: None,
            created: SourceLine { file: "src/spin.rs".to_string(), line: 3 },
            instance,
        }
    }

    fn event(step: usize, thread: usize, op: &str, value: Option<Value>, line: u32, switched: bool) -> Event {
        Event {
            step,
            thread,
            object: Some(flag(1)),
            op: op.to_string(),
            value,
            location: at(line),
            switched,
            preempted: switched,
            blocked: false,
        }
    }

    #[test]
    fn numbers_read_like_lock_words() {
        assert_eq!(hex(7), "0x07");
        assert_eq!(hex(0x1B), "0x1B");
        assert_eq!(hex(u64::MAX), "0xFFFF_FFFF_FFFF_FFFF");
        assert_eq!(hex(0x12345), "0x0001_2345");
        assert_eq!(grouped(3320u32), "3,320");
        assert_eq!(grouped(1_654_000u32), "1,654,000");
        assert_eq!(grouped(12u32), "12");
    }

    #[test]
    fn objects_created_on_one_line_have_labels_of_their_own() {
        assert_eq!(label(&flag(1)), "AtomicBool spin.rs:3");
        assert_eq!(label(&flag(2)), "AtomicBool spin.rs:3 #2");
        let named = Object { name: Some("ready".to_string()), ..flag(2) };
        assert_eq!(label(&named), "ready #2");
        assert_ne!(short_label(&flag(1)), short_label(&flag(2)));
    }

    #[test]
    fn a_fold_keeps_the_columns_in_line() {
        // Eight steps of lock bookkeeping on short lines: the fold's note is wider than any of
        // its thread's cells.
        let mut events = vec![event(1, 0, "spawn", None, 5, false)];
        for step in 2..=9 {
            let op = if step % 2 == 0 { "lock" } else { "unlock" };
            let mut e = event(step, 1, op, None, 20, step == 2);
            // A guard's drop has no line; its lock's does.
            if op == "unlock" {
                e.location = None;
            }
            e.object = None;
            events.push(e);
        }
        events.push(event(10, 0, "load", Some(Value::Read(Scalar::Bool(true))), 6, true));
        // A guard's drop has no source line: its row ends at the bar.
        let mut unlock = event(11, 0, "unlock", None, 0, false);
        unlock.location = None;
        events.push(unlock);
        let text = text(&Trace { threads: 2, events, failure: None });
        assert!(text.lines().all(|line| line == line.trim_end()), "{text:?}");
        assert!(text.contains("… 6 steps (3-8)"), "{text}");
        // Where each line's bars are, counted in characters (the fold's `…` is one).
        let bars = |line: &str| -> Vec<usize> {
            line.chars().enumerate().filter(|&(_, c)| c == '|').map(|(i, _)| i).take(3).collect()
        };
        let columns: Vec<Vec<usize>> = text.lines().map(bars).collect();
        assert_eq!(columns[0].len(), 3, "{text}");
        assert!(columns.iter().all(|c| *c == columns[0]), "{text}");
    }

    #[test]
    fn a_fold_stops_where_the_code_moves_to_another_line() {
        // A read in one critical section and a write in the next (line 8 twice), then a loop
        // of increments (line 9): the two on line 8 are the story and stay in view.
        let mut events = vec![event(1, 0, "spawn", None, 5, false)];
        for (k, line) in [8, 8, 9, 9, 9, 9, 9].into_iter().enumerate() {
            let mut lock = event(2 + 2 * k, 1, "lock", None, line, k == 0);
            let mut unlock = event(3 + 2 * k, 1, "unlock", None, 0, false);
            unlock.location = None;
            lock.object = None;
            unlock.object = None;
            events.extend([lock, unlock]);
        }
        let text = text(&Trace { threads: 2, events, failure: None });
        assert_eq!(text.matches("spin.rs:8").count(), 2, "{text}");
        assert!(text.contains("the same 2 operations repeated 4 times"), "the line 9 loop: {text}");
    }

    #[test]
    fn a_spin_loop_is_condensed_to_its_first_round_and_a_count() {
        let mut events = vec![event(1, 0, "store", Some(Value::Written(Scalar::Bool(true))), 5, false)];
        // A spin loop of 2 operations, 1,000 rounds, then the way out.
        for round in 0..1000 {
            let step = 2 + 2 * round;
            events.push(event(step, 1, "load", Some(Value::Read(Scalar::Bool(true))), 8, round == 0));
            events.push(event(step + 1, 1, "yield_now", None, 9, false));
        }
        events.push(event(2002, 0, "store", Some(Value::Written(Scalar::Bool(false))), 6, true));
        let trace = Trace { threads: 2, events, failure: None };
        let text = text(&trace);
        // The first step switched threads, so the rounds that repeat exactly begin at step 3.
        assert!(text.contains("steps 5 to 2,000: the same 2 operations repeated 998 times"), "{text}");
        // The first round is shown whole, the way out too; nothing else of the loop.
        assert_eq!(text.matches("load AtomicBool:3 true").count(), 2, "{text}");
        assert!(text.contains("store AtomicBool:3 false"), "{text}");
        assert!(text.lines().count() < 10, "{text}");
    }

    #[test]
    fn different_values_are_not_a_repetition() {
        let events: Vec<Event> = (0..20)
            .map(|i| {
                event(
                    i + 1,
                    0,
                    "fetch_add",
                    Some(Value::Replaced {
                        old: Scalar::Unsigned(i as u64),
                        new: Scalar::Unsigned(i as u64 + 1),
                    }),
                    4,
                    false,
                )
            })
            .collect();
        let text = text(&Trace { threads: 1, events, failure: None });
        assert!(!text.contains("repeated"), "{text}");
        assert_eq!(text.matches("fetch_add").count(), 20, "{text}");
    }

    #[test]
    fn a_deadlock_names_its_blocked_threads_and_their_attempts() {
        let mut attempt = event(7, 1, "lock", None, 12, true);
        attempt.blocked = true;
        let trace = Trace {
            threads: 2,
            events: vec![event(6, 0, "lock", None, 10, false), attempt],
            failure: Some(crate::trace::TraceFailure {
                thread: 0,
                message: "deadlock: ...".to_string(),
                location: None,
                blocked: vec![0, 1],
            }),
        };
        let text = text(&trace);
        assert!(text.contains("lock AtomicBool:3 (blocked)"), "{text}");
        assert!(text.contains("FAIL   t0, t1 blocked: deadlock"), "{text}");
    }

    #[test]
    fn a_preemption_is_marked_apart_from_a_forced_switch() {
        let mut forced = event(3, 0, "load", Some(Value::Read(Scalar::Bool(true))), 11, true);
        forced.preempted = false;
        let trace = Trace {
            threads: 2,
            events: vec![event(1, 0, "load", None, 10, false), event(2, 1, "store", None, 20, true), forced],
            failure: None,
        };
        let text = text(&trace);
        let marks: Vec<char> = text.lines().skip(1).filter_map(|l| l.chars().next()).collect();
        assert_eq!(marks, vec![' ', '>', '~'], "{text}");
    }
}
