//! The watchdog: one report per stuck episode, joining waiters and holders, with the right
//! verdict. Thresholds are generous and waits several times longer, and the assertions are
//! on content, not timing (the machine may be slow and noisy).

use lockhound::sync::{Arc, Condvar, Mutex};
use lockhound::tracker::{self, track, TrackOptions, TrackReport, Verdict, WaitKind};
use lockhound::{thread, Body};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::Duration;

const THRESHOLD: Duration = Duration::from_millis(150);
/// How long the stuck states last: well beyond the threshold plus two scans.
const STUCK: Duration = Duration::from_millis(1500);

fn run(body: impl Fn() + Send + Sync + 'static) -> TrackReport {
    let body: Body = std::sync::Arc::new(body);
    let options = TrackOptions {
        iterations: 1,
        watchdog_threshold: THRESHOLD,
        hang_timeout: Duration::from_secs(20),
        ..Default::default()
    };
    track(&body, options)
}

fn verdicts(report: &TrackReport) -> Vec<&Verdict> {
    report.watchdog.iter().flat_map(|r| &r.verdicts).collect()
}

#[test]
fn two_thread_deadlock_is_one_report_with_a_cycle() {
    let report = run(|| {
        let a = std::sync::Arc::new(tracker::Mutex::named("left", ()));
        let b = std::sync::Arc::new(tracker::Mutex::named("right", ()));
        let barrier = std::sync::Arc::new(Barrier::new(2));
        let (a2, b2, barrier2) = (a.clone(), b.clone(), barrier.clone());
        let t = thread::spawn(move || {
            let _gb = b2.lock();
            barrier2.wait();
            // Times out: the test ends although the two threads deadlock for a while.
            a2.try_lock_for(STUCK).is_some()
        });
        let _ga = a.lock();
        barrier.wait();
        let got = b.try_lock_for(STUCK).is_some();
        drop(_ga);
        let other = t.join().unwrap();
        assert!(!(got && other), "both got their second lock: no deadlock happened");
    });
    assert_eq!(report.watchdog.len(), 1, "{:#?}", report.watchdog);
    let episode = &report.watchdog[0];
    assert_eq!(episode.waiters.len(), 2, "{episode:#?}");
    assert!(episode.waiters.iter().all(|w| w.kind == WaitKind::Timed));
    let mut held: Vec<&str> = episode.holders.iter().map(|h| h.lock.as_str()).collect();
    held.sort();
    assert_eq!(held, ["left", "right"], "{episode:#?}");
    assert!(episode.holders.iter().all(|h| h.site.file.ends_with("tracker_watchdog.rs")));
    let cycle = episode.verdicts.iter().find_map(|v| match v {
        Verdict::DeadlockCycle { threads, description } => Some((threads, description)),
        _ => None,
    });
    let (threads, description) = cycle.unwrap_or_else(|| panic!("no cycle: {episode:#?}"));
    assert_eq!(threads.len(), 2, "{description}");
    assert!(description.contains("left") && description.contains("right"), "{description}");
    // The timed acquisitions also left a potential deadlock in the lock-order graph.
    assert_eq!(report.potential_deadlocks.len(), 1);
}

#[test]
fn condvar_wait_with_no_holder_is_reported() {
    let report = run(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let pair2 = pair.clone();
        let t = thread::spawn(move || {
            let (lock, cv) = &*pair2;
            let mut ready = lock.lock().unwrap();
            while !*ready {
                ready = cv.wait(ready).unwrap();
            }
        });
        // Nobody holds the mutex while the other thread waits: no one will notify it
        // until this late notification.
        std::thread::sleep(STUCK);
        *pair.0.lock().unwrap() = true;
        pair.1.notify_all();
        t.join().unwrap();
    });
    assert_eq!(report.watchdog.len(), 1, "{:#?}", report.watchdog);
    let episode = &report.watchdog[0];
    assert!(episode.holders.is_empty(), "{episode:#?}");
    assert_eq!(episode.waiters[0].kind, WaitKind::Condvar);
    assert!(matches!(episode.verdicts.as_slice(), [Verdict::NoHolderCondvarWait { .. }]), "{episode:#?}");
}

#[test]
fn waiters_without_a_holder_are_an_orphaned_lock() {
    // The lock is taken outside any session, so no holder is registered: to the tracker it
    // looks exactly like parking_lot #465, where waiters sleep on a lock nobody holds.
    let lock = std::sync::Arc::new(tracker::RwLock::named("orphan", 0));
    let taken = std::sync::Arc::new(Barrier::new(2));
    // Sessions run one at a time, so the body may start late: the holder keeps the lock
    // until the body has been waiting for a while.
    let waiting = std::sync::Arc::new(AtomicBool::new(false));
    let (lock2, taken2, waiting2) = (lock.clone(), taken.clone(), waiting.clone());
    let holder = std::thread::spawn(move || {
        let _g = lock2.write();
        taken2.wait();
        while !waiting2.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(STUCK);
    });
    taken.wait();
    let body_lock = lock.clone();
    let report = run(move || {
        waiting.store(true, Ordering::SeqCst);
        let _r = body_lock.read();
    });
    holder.join().unwrap();
    assert_eq!(report.watchdog.len(), 1, "{:#?}", report.watchdog);
    let v = verdicts(&report);
    assert!(matches!(v.as_slice(), [Verdict::OrphanedLock { lock, .. }] if lock == "orphan"), "{v:#?}");
}

#[test]
fn long_holder_is_named_with_its_site() {
    let report = run(|| {
        let m = Arc::new(Mutex::new(0));
        let m2 = m.clone();
        let g = m.lock().unwrap();
        let t = thread::spawn(move || *m2.lock().unwrap() += 1);
        std::thread::sleep(STUCK);
        drop(g);
        t.join().unwrap();
    });
    assert_eq!(report.watchdog.len(), 1, "{:#?}", report.watchdog);
    let episode = &report.watchdog[0];
    assert_eq!(episode.holders.len(), 1, "{episode:#?}");
    assert!(episode.holders[0].site.file.ends_with("tracker_watchdog.rs"));
    let v = verdicts(&report);
    assert!(matches!(v.as_slice(), [Verdict::LongHolder { .. }]), "{v:#?}");
    // The wait shows in the statistics and in both roles of the wait flame graph.
    assert!(report.classes.iter().any(|c| c.wait.max_ns >= THRESHOLD.as_nanos() as u64));
    assert!(report.wait_folded.lines().any(|l| l.starts_with("waiting;")), "{}", report.wait_folded);
    assert!(report.wait_folded.lines().any(|l| l.starts_with("holding;")), "{}", report.wait_folded);
}

#[test]
fn waiting_for_a_lock_one_holds_is_self_reentry() {
    let report = run(|| {
        let m = tracker::Mutex::named("reentered", 0);
        let _g = m.lock();
        assert!(m.try_lock_for(STUCK).is_none());
    });
    let v = verdicts(&report);
    assert!(
        v.iter().any(|v| matches!(v, Verdict::SelfReentry { lock, .. } if lock == "reentered")),
        "{v:#?}"
    );
    assert_eq!(report.watchdog.len(), 1);
}

#[test]
fn a_hung_body_is_abandoned_and_reported() {
    let body: Body = std::sync::Arc::new(|| {
        let m = tracker::Mutex::named("forever", ());
        let _g = m.lock();
        let _again = m.lock();
    });
    let options = TrackOptions {
        iterations: 5,
        watchdog_threshold: THRESHOLD,
        hang_timeout: Duration::from_secs(2),
        ..Default::default()
    };
    let report = track(&body, options);
    assert!(report.hung);
    assert_eq!(report.iterations, 1);
    let v = verdicts(&report);
    assert!(v.iter().any(|v| matches!(v, Verdict::SelfReentry { .. })), "{v:#?}");
}
