//! A loom schedule is trusted only on the body it was recorded on: a path from another body
//! (another scenario) is not applicable, never a pass; a path loom did not write (`"pos":
//! u64::MAX`) is not applicable, never a finding, since what fails then is loom's own path
//! bookkeeping. Schedules of the old format (`lh1:loom:`) stay readable.

use lockhound::schedule::LoomPath;
use lockhound::sync::atomic::{AtomicUsize, Ordering};
use lockhound::sync::{Arc, Mutex};
use lockhound::{explore, thread, Backend, Body, ReplayOutcome, RunConfig, Schedule};

/// One scenario, two variants: the same threads spawned at the same place; the buggy one
/// loses an update, the fixed one adds under a mutex.
fn counter(fixed: bool) {
    let n = Arc::new(AtomicUsize::new(0));
    let lock = Arc::new(Mutex::new(()));
    let (m, l) = (n.clone(), lock.clone());
    let add = move |n: &AtomicUsize, lock: &Mutex<()>| {
        let _held = fixed.then(|| lock.lock().unwrap());
        let v = n.load(Ordering::SeqCst);
        n.store(v + 1, Ordering::SeqCst);
    };
    let t = thread::spawn(move || add(&m, &l));
    add(&n, &lock);
    t.join().unwrap();
    assert_eq!(n.load(Ordering::SeqCst), 2, "lost update");
}

/// Another scenario: correct, with threads of its own.
fn other_scenario() {
    let n = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let n = n.clone();
            thread::spawn(move || {
                n.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    n.fetch_add(1, Ordering::SeqCst);
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(n.load(Ordering::SeqCst), 3);
}

fn body(f: fn(bool), fixed: bool) -> Body {
    std::sync::Arc::new(move || f(fixed))
}

fn config() -> RunConfig {
    RunConfig { backend: Backend::Loom, ..RunConfig::default() }
}

fn recorded() -> LoomPath {
    let report = explore::run(&body(counter, false), &config());
    let finding = report.finding.expect("loom finds the lost update");
    match finding.schedule {
        Some(Schedule::Loom(path)) => path,
        other => panic!("not a loom schedule: {other:?}"),
    }
}

fn replay(body: &Body, path: &LoomPath) -> ReplayOutcome {
    // Through the schedule's text, as a corpus or LOCKHOUND_REPLAY hands it over.
    let schedule: Schedule = Schedule::Loom(path.clone()).to_string().parse().expect("reads back");
    explore::replay(body, &schedule, &config())
}

#[test]
fn a_path_replays_on_its_own_body_and_not_on_another() {
    let path = recorded();
    assert!(Schedule::Loom(path.clone()).to_string().starts_with("lh2:loom:"));
    assert!(path.spawns.as_ref().is_some_and(|s| s.len() == 1), "{:?}", path.spawns);
    match replay(&body(counter, false), &path) {
        ReplayOutcome::Failed(f) => assert!(f.message.contains("lost update"), "{}", f.message),
        other => panic!("the buggy variant: {other:?}"),
    }
    // The fixed variant spawns where the buggy one does: the replay is trusted (it passes, or
    // loom says the body took another path), and never fails.
    let fixed = replay(&body(counter, true), &path);
    assert!(!matches!(fixed, ReplayOutcome::Failed(_)), "the fixed variant: {fixed:?}");
    // Another scenario spawns elsewhere: not applicable, never a pass.
    let other: Body = std::sync::Arc::new(other_scenario);
    match replay(&other, &path) {
        ReplayOutcome::NotApplicable(why) => assert!(why.contains("another body"), "{why}"),
        outcome => panic!("another scenario's body: {outcome:?}"),
    }
}

#[test]
fn a_path_loom_did_not_write_is_not_applicable_never_a_finding() {
    let path = recorded();
    let mut json: serde_json::Value = serde_json::from_str(&path.json).unwrap();
    json["pos"] = serde_json::Value::from(u64::MAX);
    let crafted = LoomPath { json: json.to_string(), ..path };
    for fixed in [true, false] {
        match replay(&body(counter, fixed), &crafted) {
            ReplayOutcome::NotApplicable(why) => assert!(why.contains("not written by loom"), "{why}"),
            outcome => panic!("fixed={fixed}: {outcome:?}"),
        }
    }
}

#[test]
fn old_loom_schedules_stay_readable() {
    let path = LoomPath { spawns: None, ..recorded() };
    let text = Schedule::Loom(path.clone()).to_string();
    assert!(text.starts_with("lh1:loom:"), "{text}");
    match replay(&body(counter, false), &path) {
        ReplayOutcome::Failed(f) => assert!(f.message.contains("lost update"), "{}", f.message),
        other => panic!("an lh1 schedule on its body: {other:?}"),
    }
}

/// The facade numbers loom's threads itself, in the order they are spawned (main 0), as loom
/// does: a trace names the thread that failed by that number.
#[test]
fn a_loom_trace_numbers_threads_in_spawn_order() {
    let body: Body = std::sync::Arc::new(|| {
        let n = Arc::new(AtomicUsize::new(0));
        let (a, b) = (n.clone(), n.clone());
        let first = thread::spawn(move || {
            a.fetch_add(1, Ordering::SeqCst);
        });
        let second = thread::spawn(move || {
            b.load(Ordering::SeqCst);
            panic!("the second thread fails");
        });
        first.join().unwrap();
        let _ = second.join();
    });
    let report = explore::run(&body, &config());
    let finding = report.finding.expect("the second thread's panic");
    let trace = finding.trace.expect("a loom finding's trace");
    assert_eq!(trace.failure.as_ref().map(|f| f.thread), Some(2), "{:?}", trace.failure);
    let threads: std::collections::BTreeSet<usize> = trace.events.iter().map(|e| e.thread).collect();
    assert_eq!(threads, [0, 1, 2].into_iter().collect(), "{:?}", trace.events);
    let load = trace.events.iter().find(|e| e.op.contains("load")).expect("the second thread's load");
    assert_eq!(load.thread, 2, "{load:?}");
}

/// `counter`'s lost update, after `extra` more operations on atomics of its own before it
/// spawns (at the same place): a later version of the same body.
fn counter_after(extra: usize) {
    let n = Arc::new(AtomicUsize::new(0));
    for i in 0..extra {
        let more = Arc::new(AtomicUsize::new(i));
        more.fetch_add(1, Ordering::SeqCst);
    }
    let m = n.clone();
    let t = thread::spawn(move || m.store(m.load(Ordering::SeqCst) + 1, Ordering::SeqCst));
    n.store(n.load(Ordering::SeqCst) + 1, Ordering::SeqCst);
    t.join().unwrap();
    assert_eq!(n.load(Ordering::SeqCst), 2, "lost update");
}

#[test]
fn a_path_the_changed_body_no_longer_takes_is_not_applicable_never_a_finding() {
    let original: Body = std::sync::Arc::new(|| counter_after(0));
    let report = explore::run(&original, &config());
    let Some(Schedule::Loom(path)) = report.finding.expect("loom finds the lost update").schedule else {
        panic!("not a loom schedule")
    };
    // The recorded schedule steps between the threads before the new operations are done: loom
    // is told to run a thread that does not exist yet, or another than the path says.
    for extra in 1..=4 {
        let changed: Body = std::sync::Arc::new(move || counter_after(extra));
        match replay(&changed, &path) {
            ReplayOutcome::NotApplicable(why) => assert!(why.contains("no longer applies"), "{extra}: {why}"),
            ReplayOutcome::Failed(f) => {
                assert!(
                    f.message.contains("lost update"),
                    "{extra} more: a finding of loom's own: {}",
                    f.message
                )
            }
            ReplayOutcome::Passed => {}
        }
    }
}
