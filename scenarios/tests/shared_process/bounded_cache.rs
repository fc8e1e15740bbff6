//! `bounded-cache`: each buggy variant fails for its own reason under every model checker,
//! its schedule replays to the same failure and its trace shows the other thread's critical
//! section landing between the two of the failing thread; the fixed variant passes loom's
//! full space and 10,000 executions of each shuttle strategy.

use lockhound::trace::{Event, Trace};
use lockhound::{explore, Backend, Check, FindingKind, ReplayOutcome, RunReport};
use lockhound_scenarios::find;
use std::time::Duration;

/// An event's object as a reader sees it: its label, as the reports crate renders it.
fn object(e: &Event) -> String {
    e.object.as_ref().map(lockhound_reports::trace::label).unwrap_or_default()
}

/// An event's values as a reader sees them (`0x0B`, `0x0B -> 0x00`), as the reports crate
/// renders them.
fn value(e: &Event) -> String {
    e.value.as_ref().map(lockhound_reports::trace::value).unwrap_or_default()
}

const OVER_BOUND: &str = "cache holds 3 entries, bound 2";
const LEAKED: &str =
    "entry GET k counted in size but not reachable from the map: lru.store has no store for k";

fn explore(variant: &str, check: &Check) -> RunReport {
    check.explore(find("bounded-cache").unwrap().variant(variant).unwrap().as_fn())
}

fn model_checkers() -> [Backend; 4] {
    [Backend::Loom, Backend::ShuttleRandom, Backend::ShuttlePct, Backend::Auto]
}

/// Finds `variant`'s bug under `backend`, checks its reason and that its schedule replays to
/// the same message; returns the trace.
fn found(variant: &str, backend: Backend, message: &str) -> Trace {
    let check = Check::new().backend(backend).iterations(100_000).time_limit(Duration::from_secs(120));
    let report = explore(variant, &check);
    let finding = report.finding.unwrap_or_else(|| panic!("{variant}: {backend} did not find the bug"));
    assert_eq!(finding.kind, FindingKind::Panic, "{variant} {backend}: {}", finding.message);
    assert_eq!(finding.message, message, "{variant} {backend}");
    let schedule = finding.schedule.expect("model checkers give a schedule");
    let body = find("bounded-cache").unwrap().variant(variant).unwrap().body();
    match explore::replay(&body, &schedule, &check.config) {
        ReplayOutcome::Failed(again) => assert_eq!(again.message, message, "{variant} {backend}: replay"),
        other => panic!("{variant} {backend}: replay of {schedule} gave {other:?}"),
    }
    finding.trace.expect("findings carry a trace")
}

/// The failing thread's two critical sections on `lru.mu` (its last read-lock before its last
/// write-lock, and that write-lock) and what the other threads did in between.
fn window(trace: &Trace) -> (usize, usize, Vec<&Event>) {
    let me = trace.failure.as_ref().expect("the failure ends the trace").thread;
    let on_mu = |e: &&Event, op: &str| e.thread == me && object(e) == "lru.mu" && e.op == op;
    let write = trace.events.iter().rposition(|e| on_mu(&e, "write-lock")).expect("a write section");
    let read = trace.events[..write].iter().rposition(|e| on_mu(&e, "read-lock")).expect("a read section");
    let others = trace.events[read..write].iter().filter(|e| e.thread != me).collect();
    (read, write, others)
}

fn has(events: &[&Event], object: &str, op: &str, value: &str) -> bool {
    events.iter().any(|e| self::object(e) == object && e.op == op && self::value(e) == value)
}

#[test]
fn buggy_grows_past_its_bound_under_every_model_checker() {
    for backend in model_checkers() {
        let trace = found("buggy", backend, OVER_BOUND);
        // Both read sections saw one entry of two; the other thread inserted in between.
        let (read, write, others) = window(&trace);
        let me = trace.failure.as_ref().unwrap().thread;
        let mine = |from: usize, to: usize| -> Vec<&Event> {
            trace.events[from..to].iter().filter(|e| e.thread == me).collect()
        };
        assert!(has(&mine(read, write), "lru.size", "load", "0x01"), "{backend}: {trace:?}");
        assert!(has(&others, "lru.mu", "write-lock", ""), "{backend}: {trace:?}");
        assert!(has(&others, "lru.size", "fetch_add", "0x01 -> 0x02"), "{backend}: {trace:?}");
        let after = mine(write, trace.events.len());
        assert!(has(&after, "lru.size", "fetch_add", "0x02 -> 0x03"), "{backend}: {trace:?}");
    }
}

#[test]
fn buggy_stale_leaks_an_entry_under_every_model_checker() {
    for backend in model_checkers() {
        let trace = found("buggy-stale", backend, LEAKED);
        // t0 found store[k] under the read lock; t1 added its entry and then dropped store[k]
        // (the invalidation); t0's write section then added GET k into that dropped store.
        let (read, write, others) = window(&trace);
        assert_eq!(trace.failure.as_ref().unwrap().thread, 0);
        assert_eq!(
            trace.events[read..write].iter().filter(|e| e.thread == 0 && object(e) == "store[k]").count(),
            1
        );
        let locks = others.iter().filter(|e| object(e) == "lru.mu" && e.op == "write-lock").count();
        assert_eq!(locks, 2, "{backend}: t1's miss and its invalidation: {others:?}");
        assert!(has(&others, "store[k]", "write", ""), "{backend}: the invalidation empties store[k]");
        let added = trace.events[write..].iter().find(|e| e.thread == 0 && object(e).starts_with("store"));
        assert_eq!(
            added.map(|e| (object(e), e.op.as_str())),
            Some(("store[k]".to_string(), "write")),
            "{backend}"
        );
    }
}

#[test]
fn each_revalidation_fixes_its_own_path_only() {
    // The schedule that breaks one buggy variant replays without failing on the other buggy
    // variant (which re-validates what it trips on) and on the fixed one.
    let check = Check::new().backend(Backend::Loom);
    for (variant, others) in [("buggy", ["buggy-stale", "fixed"]), ("buggy-stale", ["buggy", "fixed"])] {
        let finding = explore(variant, &check).finding.expect("found");
        let schedule = finding.schedule.unwrap();
        for other in others {
            let body = find("bounded-cache").unwrap().variant(other).unwrap().body();
            match explore::replay(&body, &schedule, &check.config) {
                ReplayOutcome::Passed => {}
                outcome => panic!("{variant}'s schedule on {other}: {outcome:?}"),
            }
        }
    }
}
