//! Preemptions are counted one way for every engine: in the failing execution's trace, a
//! switch away from a thread that could have gone on. A switch forced by a blocked lock, a
//! join, a wait or the end of a thread is not one, nor is a switch at a yield (and the
//! deadlock's forced switches: harness/tests/shared_process/deadlock_story.rs).

use lockhound::sync::atomic::{AtomicBool, Ordering};
use lockhound::sync::{Arc, Mutex};
use lockhound::{thread, Backend, Check};

/// Two threads increment in two critical sections, a read and then a write: the lost update
/// needs one preemption (a thread stopped between them) and no fewer. (With an atomic's
/// `SeqCst` load and store it needs one too, loom included: see seq_cst.rs.)
fn lost_update() {
    let n = Arc::new(Mutex::new(0));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let n = n.clone();
            thread::spawn(move || {
                let seen = *n.lock().unwrap();
                *n.lock().unwrap() = seen + 1;
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*n.lock().unwrap(), 2, "an increment was lost");
}

const ENGINES: [Backend; 4] =
    [Backend::Loom, Backend::ShuttleRandom, Backend::ShuttlePct, Backend::ShuttleDfs];

#[test]
fn a_lost_update_takes_one_preemption_under_every_engine() {
    for backend in ENGINES {
        let finding = Check::new()
            .backend(backend)
            .iterations(5_000)
            .explore(lost_update)
            .finding
            .unwrap_or_else(|| panic!("{backend} finds the lost update"));
        let trace = finding.trace.as_ref().expect("a model checker's finding has a trace");
        assert_eq!(finding.preemptions, Some(trace.preemptions()), "{backend}: the trace's count");
        // loom's iterative bounding finds the fewest first, shuttle's DFS and PCT schedules
        // minimize to it; a random schedule's minimization may stop at a local best.
        if backend == Backend::ShuttleRandom {
            assert!(trace.preemptions() >= 1, "{backend}: {trace:?}");
            continue;
        }
        assert_eq!(trace.preemptions(), 1, "{backend}: {trace:?}");
        // The one preemption stops a thread between its two critical sections: its next step is
        // the second `lock`.
        let at = trace.events.iter().position(|e| e.preempted).expect("marked in the trace");
        let stopped = trace.events[at - 1].thread;
        assert_ne!(stopped, 0, "{backend}: a spawned thread is stopped: {trace:?}");
        let locks_before =
            trace.events[..at].iter().filter(|e| e.thread == stopped && e.op == "lock").count();
        let next_of_stopped = trace.events[at..].iter().find(|e| e.thread == stopped);
        assert_eq!(
            (locks_before, next_of_stopped.map(|e| e.op.as_str())),
            (1, Some("lock")),
            "{backend}: {trace:?}"
        );
    }
}

/// A thread spins with `yield_now` until the other sets a flag, then fails on purpose: a
/// yield hands the turn over, so the switches it causes are no preemptions.
fn spin_then_fail() {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let t = thread::spawn(move || f.store(true, Ordering::SeqCst));
    while !flag.load(Ordering::SeqCst) {
        thread::yield_now();
    }
    t.join().unwrap();
    panic!("the flag was seen");
}

#[test]
fn switches_at_a_yield_are_no_preemptions() {
    for backend in ENGINES {
        let finding = Check::new()
            .backend(backend)
            .iterations(5_000)
            .explore(spin_then_fail)
            .finding
            .unwrap_or_else(|| panic!("{backend} runs the body to its panic"));
        let trace = finding.trace.as_ref().expect("a trace");
        // Every schedule fails; the one reported needs no preemption, so its switches are
        // all the main thread's yields and the spawned thread's end.
        assert_eq!(finding.preemptions, Some(0), "{backend}: {trace:?}");
        assert!(trace.events.iter().any(|e| e.switched), "{backend}: the threads take turns: {trace:?}");
    }
}

/// Three threads increment 30 times each; one of them, once, reads and writes in two critical
/// sections. A randomized search stumbles on the lost update in a schedule with dozens of
/// switches, of which the failure needs one preemption.
fn lost_update_among_many() {
    let n = Arc::new(Mutex::new(0u64));
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let n = n.clone();
            thread::spawn(move || {
                for k in 0..30 {
                    if i == 2 && k == 25 {
                        let seen = *n.lock().unwrap();
                        *n.lock().unwrap() = seen + 1;
                    } else {
                        *n.lock().unwrap() += 1;
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*n.lock().unwrap(), 90, "an increment was lost");
}

#[test]
fn a_long_schedule_minimizes_to_the_one_preemption_its_failure_needs() {
    // Dropping halves, quarters, ... of the switches first: one switch at a time, minimization
    // spent its whole budget of 500 replays and stopped at 17 preemptions.
    let report = Check::new().backend(Backend::ShuttleUrw).explore(lost_update_among_many);
    let finding = report.finding.expect("shuttle-urw finds the lost update");
    let shrink = finding.shrink.expect("the schedule was minimized");
    assert!(shrink.preemptions_before > 10, "a long schedule to start with: {shrink:?}");
    assert_eq!(finding.preemptions, Some(1), "{:?}", finding.schedule);
    assert!(shrink.replays < 500, "within the budget: {shrink:?}");
}
