//! The lock-order graph: cycles are reported from runs that did not deadlock, with the
//! sites of both acquisitions of every edge; try-locks add no edge; a consistent order
//! reports nothing; every cycle is reported, not only the first.

use lockhound::sync::{Arc, Mutex};
use lockhound::tracker::{self, track, TrackOptions, TrackReport};
use lockhound::{thread, Body};
use std::sync::Mutex as StdMutex;

fn run(body: impl Fn() + Send + Sync + 'static) -> TrackReport {
    let body: Body = std::sync::Arc::new(body);
    track(&body, TrackOptions { iterations: 3, ..Default::default() })
}

/// Lines where the body took its locks, recorded by the body itself.
static LINES: StdMutex<Vec<u32>> = StdMutex::new(Vec::new());

fn note(line: u32) {
    let mut l = LINES.lock().unwrap();
    if !l.contains(&line) {
        l.push(line);
    }
}

#[test]
fn inversion_in_a_completed_run_is_a_potential_deadlock_with_both_sites() {
    LINES.lock().unwrap().clear();
    let report = run(|| {
        let a = Arc::new(Mutex::new(0));
        let b = Arc::new(Mutex::new(0));
        let (a2, b2) = (a.clone(), b.clone());
        // One order in a thread that is joined before the other order runs: no deadlock.
        thread::spawn(move || {
            let (_ga, la) = (a2.lock().unwrap(), line!());
            let (_gb, lb) = (b2.lock().unwrap(), line!());
            note(la);
            note(lb);
        })
        .join()
        .unwrap();
        let (_gb, lb) = (b.lock().unwrap(), line!());
        let (_ga, la) = (a.lock().unwrap(), line!());
        note(lb);
        note(la);
    });
    assert!(!report.hung && report.panic.is_none(), "{report:?}");
    assert_eq!(report.potential_deadlocks.len(), 1, "{:#?}", report.potential_deadlocks);
    let cycle = &report.potential_deadlocks[0];
    assert_eq!(cycle.edges.len(), 2);
    let lines = LINES.lock().unwrap().clone();
    for e in &cycle.edges {
        assert!(e.from_site.file.ends_with("tracker_order.rs"), "{e:?}");
        assert!(lines.contains(&e.from_site.line), "from site {} not in {lines:?}", e.from_site);
        assert!(lines.contains(&e.to_site.line), "to site {} not in {lines:?}", e.to_site);
        assert_ne!(e.from, e.to);
    }
    // Both orders' second acquisitions are sites of the cycle.
    let to_lines: Vec<u32> = cycle.edges.iter().map(|e| e.to_site.line).collect();
    assert!(to_lines.contains(&lines[1]) && to_lines.contains(&lines[3]), "{to_lines:?} {lines:?}");
    assert_eq!(cycle.scenario.len(), 3, "{:?}", cycle.scenario);
    assert!(cycle.scenario[0].starts_with("thread 1 holds"), "{:?}", cycle.scenario);
    assert!(cycle.scenario[1].starts_with("thread 2 holds"), "{:?}", cycle.scenario);
    assert!(report.order.edges.iter().all(|e| e.in_cycle));
    // The second acquisition's stack reaches this test's closure.
    let stack = &cycle.edges[0].to_stack;
    assert!(stack.iter().any(|f| f.function.contains("tracker_order")), "{stack:#?}");
}

#[test]
fn try_lock_adds_no_edge() {
    let report = run(|| {
        let a = Mutex::new(0);
        let b = Mutex::new(0);
        {
            let _ga = a.lock().unwrap();
            let _gb = b.try_lock().unwrap();
        }
        let _gb = b.lock().unwrap();
        let _ga = a.lock().unwrap();
    });
    assert!(report.potential_deadlocks.is_empty(), "{:#?}", report.potential_deadlocks);
    assert_eq!(report.order.edges.len(), 1, "{:?}", report.order);
}

#[test]
fn consistent_order_reports_nothing() {
    let report = run(|| {
        let a = Arc::new(Mutex::new(0));
        let b = Arc::new(Mutex::new(0));
        let (a2, b2) = (a.clone(), b.clone());
        let t = thread::spawn(move || {
            for _ in 0..100 {
                let _ga = a2.lock().unwrap();
                *b2.lock().unwrap() += 1;
            }
        });
        for _ in 0..100 {
            let _ga = a.lock().unwrap();
            *b.lock().unwrap() += 1;
        }
        t.join().unwrap();
    });
    assert!(report.potential_deadlocks.is_empty(), "{:#?}", report.potential_deadlocks);
    assert_eq!(report.order.edges.len(), 1);
    assert!(report.watchdog.is_empty());
    // 3 iterations x 2 threads x 100 rounds, for each of the two classes.
    assert_eq!(report.classes.len(), 2, "{:?}", report.classes);
    for c in &report.classes {
        assert_eq!(c.wait.count, 600, "{c:?}");
        assert_eq!(c.hold.count, 600, "{c:?}");
    }
}

#[test]
fn every_cycle_is_reported_not_only_the_first() {
    let report = run(|| {
        let locks: Vec<tracker::Mutex<u32>> = vec![
            tracker::Mutex::named("a", 0),
            tracker::Mutex::named("b", 0),
            tracker::Mutex::named("c", 0),
            tracker::Mutex::named("d", 0),
            tracker::Mutex::named("e", 0),
        ];
        let nest = |i: usize, j: usize| {
            let _x = locks[i].lock();
            let _y = locks[j].lock();
        };
        nest(0, 1);
        nest(1, 0); // a -> b -> a
        nest(2, 3);
        nest(3, 2); // c -> d -> c
        nest(0, 4);
        nest(4, 2);
        nest(2, 0); // a -> e -> c -> a
    });
    let mut cycles: Vec<Vec<String>> = report
        .potential_deadlocks
        .iter()
        .map(|p| {
            let mut c = p.classes.clone();
            c.sort();
            c
        })
        .collect();
    cycles.sort();
    assert_eq!(
        cycles,
        vec![vec!["a", "b"], vec!["a", "c", "e"], vec!["c", "d"]],
        "{:#?}",
        report.potential_deadlocks
    );
}

#[test]
fn rwlock_modes_and_upgrades_are_tracked() {
    let report = run(|| {
        let a = tracker::RwLock::named("rw-a", 0);
        let b = tracker::RwLock::named("rw-b", 0);
        {
            let up = a.upgradable_read();
            let mut w = tracker::RwLockUpgradableReadGuard::upgrade(up);
            *w += 1;
            let _r = b.read();
        }
        b.with_write(|v| {
            *v += 1;
            a.with_read(|_| ());
        });
        assert_eq!(b.with_write_for(std::time::Duration::from_secs(1), |v| *v), Some(1));
    });
    assert_eq!(report.potential_deadlocks.len(), 1, "{:#?}", report.potential_deadlocks);
    let modes: Vec<_> = report.potential_deadlocks[0]
        .edges
        .iter()
        .map(|e| (e.from.as_str(), e.from_mode.name(), e.to.as_str(), e.to_mode.name()))
        .collect();
    assert!(modes.contains(&("rw-a", "write", "rw-b", "read")), "{modes:?}");
    assert!(modes.contains(&("rw-b", "write", "rw-a", "read")), "{modes:?}");
    let a = report.classes.iter().find(|c| c.name == "rw-a").unwrap();
    assert_eq!(a.hold.count, 6, "{a:?}");
}

#[test]
fn hand_over_hand_locking_stays_tracked_past_the_held_stack_size() {
    // Each step releases the lock below the top of the thread's held stack, leaving a hole:
    // 100 steps are far more than the stack's 32 entries, so holes must be reclaimed.
    let report = run(|| {
        let first = tracker::Mutex::named("hoh-first", 0u32);
        let chain: Vec<tracker::Mutex<u32>> =
            (0..100).map(|_| tracker::Mutex::named("hoh-link", 0)).collect();
        let mut held = chain[0].lock();
        {
            let _f = first.lock();
            for m in &chain[1..] {
                let next = m.lock();
                *held += 1;
                held = next;
            }
        }
        drop(held);
        // Still tracked at the end: a nested acquisition adds its edge.
        let _a = chain[0].lock();
        let _b = first.lock();
    });
    let link = report.classes.iter().find(|c| c.name == "hoh-link").unwrap();
    assert_eq!(link.hold.count, 3 * 101, "{link:?}");
    assert_eq!(link.wait.count, 3 * 101, "{link:?}");
    let first = report.classes.iter().find(|c| c.name == "hoh-first").unwrap();
    assert_eq!(first.hold.count, 3 * 2, "{first:?}");
    let edges: Vec<(&str, &str)> =
        report.order.edges.iter().map(|e| (e.from.as_str(), e.to.as_str())).collect();
    assert!(edges.contains(&("hoh-first", "hoh-link")), "{edges:?}");
    assert!(edges.contains(&("hoh-link", "hoh-first")), "{edges:?}");
    assert!(edges.contains(&("hoh-link", "hoh-link")), "{edges:?}");
}
