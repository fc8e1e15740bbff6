//! Findings come with a readable trace of the failing execution: the real bug's steps with
//! their values and source lines, short enough to read.

use lockhound::trace::{Event, Trace};
use lockhound::{Backend, Check};
use lockhound_scenarios::find;

/// An event's object as a reader sees it: its label, as the reports crate renders it.
fn object(e: &Event) -> String {
    e.object.as_ref().map(lockhound_reports::trace::label).unwrap_or_default()
}

/// An event's values as a reader sees them (`0x0B`, `0x0B -> 0x00`), as the reports crate
/// renders them.
fn value(e: &Event) -> String {
    e.value.as_ref().map(lockhound_reports::trace::value).unwrap_or_default()
}

fn trace_of(name: &str, backend: Backend) -> Trace {
    let scenario = find(name).unwrap();
    let report = Check::new().backend(backend).explore(scenario.variant("buggy").unwrap().as_fn());
    report.finding.expect("the buggy variant fails").trace.expect("findings carry a trace")
}

#[test]
fn the_rwlock_trace_shows_the_double_clear_step_by_step() {
    for backend in [Backend::Auto, Backend::ShuttleRandom, Backend::Loom] {
        let trace = trace_of("rwlock-timeout", backend);
        let values: Vec<(&str, String)> =
            trace.events.iter().filter(|e| e.value.is_some()).map(|e| (e.op.as_str(), value(e))).collect();
        let position = |op: &str, ends: &[&str]| {
            values.iter().position(|(o, v)| *o == op && ends.iter().any(|end| v.ends_with(end)))
        };
        // The last reader leaves (0x1B -> 0x0B, or 0x1A -> 0x0A without a parked waiter), its
        // unpark_one callback clears WRITER_PARKED_BIT on an empty queue (-> 0x09 / 0x08),
        // then the timed-out writer subtracts both bits and the word wraps.
        let leave = position("fetch_sub", &["-> 0x0B", "-> 0x0A"]).expect("reader leaves");
        let clear = position("fetch_and", &["-> 0x09", "-> 0x08"]).expect("callback clears the bit");
        let wrap = position("fetch_add", &["-> 0xFFFF_FFFF_FFFF_FFFF", "-> 0xFFFF_FFFF_FFFF_FFFE"])
            .expect("word wraps");
        assert!(leave < clear && clear < wrap, "{backend}: {values:?}");
        let failure = trace.failure.as_ref().expect("the failure ends the trace");
        assert!(failure.message.contains("state word corrupted"));
        let text = lockhound_reports::trace::text(&trace);
        assert!(text.lines().count() <= 40, "{backend}: {} lines\n{text}", text.lines().count());
        assert!(text.contains("0x0") && text.contains("FAIL"), "{text}");
    }
}

#[test]
fn the_routing_table_trace_ends_at_the_racing_access_with_both_accesses_and_their_lines() {
    // loom and lockhound's check under shuttle stop at the racing access itself, whichever came
    // second: both are in the trace, on different threads, with their source lines, and the
    // race ends it.
    for (backend, words) in [
        (Backend::Loom, "Causality violation"),
        (Backend::ShuttleRandom, "data race on r.this"),
        (Backend::Auto, "data race on r.this"),
    ] {
        let trace = trace_of("routing-table-init", backend);
        let accesses: Vec<_> = trace.events.iter().filter(|e| object(e) == "r.this").collect();
        assert_eq!(accesses.len(), 2, "{backend}: {accesses:?}");
        assert_ne!(accesses[0].thread, accesses[1].thread, "{backend}");
        let ops: Vec<&str> = accesses.iter().map(|e| e.op.as_str()).collect();
        assert!(ops.contains(&"read") && ops.contains(&"write"), "{backend}: {ops:?}");
        for access in &accesses {
            let at = access.location.as_ref().expect("an access has a source line");
            assert!(at.file.ends_with("routing_table_init.rs"), "{at:?}");
        }
        let failure = trace.failure.unwrap_or_else(|| panic!("{backend}: the race ends the trace"));
        assert!(failure.message.contains(words), "{backend}: {}", failure.message);
    }
}

#[test]
fn switches_are_marked_where_the_thread_changes() {
    let trace = trace_of("rwlock-timeout", Backend::ShuttlePct);
    for pair in trace.events.windows(2) {
        assert_eq!(pair[1].switched, pair[0].thread != pair[1].thread);
    }
}
