//! What the tracker's reports contain: holds sampled at the stated rate on short-lived
//! threads (with the default period), a hung iteration's waits and holds charged, facade names
//! as lock classes, locks of one site told apart, and stacks of the user's code only, with
//! paths relative to the workspace.
//!
//! Bodies use the facade (`lockhound::sync`), as scenarios do. Timing assertions are lower
//! bounds far below the waits the bodies set up (the machine may be slow and noisy).

use lockhound::sync::{Arc, Mutex};
use lockhound::tracker::{track, ClassReport, Frame, TrackOptions, TrackReport, Verdict};
use lockhound::{thread, Body};
use std::sync::Barrier;
use std::time::Duration;

fn class<'a>(report: &'a TrackReport, name: &str) -> &'a ClassReport {
    report.classes.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no class {name}: {report:#?}"))
}

#[inline(never)]
fn three_locks(a: &Mutex<u64>, b: &Mutex<u64>) {
    *a.lock().unwrap() += 1;
    *b.lock().unwrap() += 1;
    let _a = a.lock().unwrap();
}

#[test]
fn holds_are_sampled_at_the_default_rate_on_short_lived_threads() {
    // Each iteration's threads take three locks each, far fewer than the period: a
    // per-thread countdown that starts at the period never reaches zero on any of them.
    let body: Body = std::sync::Arc::new(|| {
        let locks = Arc::new((Mutex::named("sampled-a", 0), Mutex::named("sampled-b", 0)));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let locks = locks.clone();
                thread::spawn(move || three_locks(&locks.0, &locks.1))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
    });
    let options = TrackOptions { iterations: 300, ..Default::default() };
    assert_eq!(options.hold_sample_period, 64, "this test is about the default period");
    let report = track(&body, options);
    assert!(!report.hung && report.panic.is_none(), "{report:#?}");

    let (a, b) = (class(&report, "sampled-a"), class(&report, "sampled-b"));
    let holds = a.hold.count + b.hold.count;
    let timed = a.hold.timed + b.hold.timed;
    assert_eq!(holds, 300 * 4 * 3, "every release is counted");
    // 3600 holds at 1 in 64: about 56 timed (a standard deviation of 7.5).
    assert!((20..=120).contains(&timed), "{timed} of {holds} holds timed, expected about {}", holds / 64);
    assert!(a.hold.total_ns > 0 && a.hold.max_ns > 0, "{a:#?}");
    assert!(
        report.hold_folded.lines().any(|l| l.contains("three_locks") && l.contains("lock:sampled-a (write)")),
        "{}",
        report.hold_folded
    );
}

#[inline(never)]
fn hold_then_take(first: &Mutex<u64>, second: &Mutex<u64>, both_hold: &Barrier) {
    let _first = first.lock().unwrap();
    both_hold.wait();
    let _second = second.lock().unwrap();
}

/// Two threads that deadlock for good (ABBA, lined up by a barrier): the iteration hangs.
fn hung_abba(first: &'static str, second: &'static str) -> TrackReport {
    let body: Body = std::sync::Arc::new(move || {
        let locks = Arc::new((Mutex::named(first, 0), Mutex::named(second, 0)));
        let barrier = std::sync::Arc::new(Barrier::new(2));
        let (l, b) = (locks.clone(), barrier.clone());
        let t = thread::spawn(move || hold_then_take(&l.1, &l.0, &b));
        hold_then_take(&locks.0, &locks.1, &barrier);
        t.join().unwrap();
    });
    let options = TrackOptions {
        iterations: 1,
        watchdog_threshold: Duration::from_millis(100),
        hang_timeout: Duration::from_millis(400),
        ..Default::default()
    };
    let report = track(&body, options);
    assert!(report.hung, "the body did not hang: {report:#?}");
    report
}

#[test]
fn a_hung_iterations_waits_are_charged_to_the_waiting_and_holding_stacks() {
    let report = hung_abba("first-account", "second-account");
    // Each thread waits from the barrier until the report: nearly the hang timeout (400 ms)
    // and more; half of it is a bound that a slow thread start cannot miss.
    for name in ["first-account", "second-account"] {
        let c = class(&report, name);
        assert!(c.wait.total_ns >= 200_000_000 && c.wait.max_ns >= 200_000_000, "{c:#?}");
        assert!(c.wait.p99_ns >= 200_000_000, "{c:#?}");
        let waiting = format!("lock:{name} (write)");
        let charged: Vec<&str> = report
            .wait_folded
            .lines()
            .filter(|l| l.starts_with("waiting;") && l.contains("hold_then_take") && l.contains(&waiting))
            .collect();
        assert_eq!(charged.len(), 1, "{}", report.wait_folded);
        let ns: u64 = charged[0].rsplit(' ').next().unwrap().parse().unwrap();
        assert!(ns >= 200_000_000, "{}", charged[0]);
        // And to the stack that took the lock the other thread waits for.
        assert!(
            report.wait_folded.lines().any(|l| l.starts_with("holding;") && l.contains(&waiting)),
            "{}",
            report.wait_folded
        );
    }
}

#[test]
fn facade_names_are_the_classes_of_the_graph_the_watchdog_and_the_flamegraphs() {
    let report = hung_abba("ledger", "journal");
    let nodes = &report.order.nodes;
    assert!(nodes.contains(&"ledger".to_owned()) && nodes.contains(&"journal".to_owned()), "{nodes:?}");
    assert_eq!(report.potential_deadlocks.len(), 1, "{:#?}", report.potential_deadlocks);
    assert_eq!(report.potential_deadlocks[0].classes.len(), 2);
    let cycle = report.watchdog.iter().flat_map(|e| &e.verdicts).find_map(|v| match v {
        Verdict::DeadlockCycle { description, .. } => Some(description),
        _ => None,
    });
    let cycle = cycle.unwrap_or_else(|| panic!("no deadlock verdict: {:#?}", report.watchdog));
    assert!(cycle.contains("waits for ledger") && cycle.contains("waits for journal"), "{cycle}");
    assert!(report.wait_folded.contains("lock:ledger (write)"), "{}", report.wait_folded);
}

#[inline(never)]
fn transfer(from: &Mutex<u64>, to: &Mutex<u64>, both_hold: &Barrier) {
    let _from = from.lock().unwrap();
    both_hold.wait();
    let _to = to.lock().unwrap();
}

#[test]
fn locks_created_at_one_site_are_one_class_with_distinct_labels() {
    let body: Body = std::sync::Arc::new(|| {
        // One creation site for both accounts: one lock class, lockdep style.
        let accounts: Arc<Vec<Mutex<u64>>> = Arc::new((0..2).map(|_| Mutex::new(100)).collect());
        let barrier = std::sync::Arc::new(Barrier::new(2));
        let (acc, b) = (accounts.clone(), barrier.clone());
        let t = thread::spawn(move || transfer(&acc[1], &acc[0], &b));
        transfer(&accounts[0], &accounts[1], &barrier);
        t.join().unwrap();
    });
    let options = TrackOptions {
        iterations: 1,
        watchdog_threshold: Duration::from_millis(100),
        hang_timeout: Duration::from_millis(400),
        ..Default::default()
    };
    let report = track(&body, options);
    assert!(report.hung);
    assert_eq!(report.classes.len(), 1, "{:#?}", report.classes);
    let class = report.classes[0].name.clone();
    assert!(class.starts_with(&format!("{}:", file!())), "{class}");
    let second = format!("{class} #2");

    let episode = report.watchdog.first().unwrap_or_else(|| panic!("no watchdog report: {report:#?}"));
    let mut waited: Vec<&str> = episode.waiters.iter().map(|w| w.lock.as_str()).collect();
    waited.sort();
    assert_eq!(waited, [class.as_str(), second.as_str()], "{episode:#?}");
    let mut held: Vec<&str> = episode.holders.iter().map(|h| h.lock.as_str()).collect();
    held.sort();
    assert_eq!(held, [class.as_str(), second.as_str()], "{episode:#?}");

    // The self edge of the class, its witness labelled by instance.
    let deadlock = &report.potential_deadlocks[0];
    assert_eq!(deadlock.classes, std::slice::from_ref(&class));
    let edge = &deadlock.edges[0];
    assert_ne!(edge.from_lock, edge.to_lock, "{edge:#?}");
    assert!(deadlock.scenario[0].contains(&second), "{:?}", deadlock.scenario);
}

/// Whether a frame belongs to std, to lockhound or to the unwinder, judged independently of
/// the tracker's own filter: by the crate its name or its `<Type as Trait>` starts with.
fn machinery(f: &Frame) -> bool {
    let name = f.function.trim_start_matches('<');
    ["std::", "core::", "alloc::", "backtrace::", "lockhound::"].iter().any(|p| name.starts_with(p))
        || ["start_thread", "clone3", "__clone", "main", "_start"].contains(&f.function.as_str())
}

#[test]
fn stacks_show_the_users_frames_with_workspace_relative_paths() {
    let report = hung_abba("stack-a", "stack-b");
    let episode = &report.watchdog[0];
    let stacks: Vec<&Vec<Frame>> =
        episode.waiters.iter().map(|w| &w.stack).chain(episode.holders.iter().map(|h| &h.stack)).collect();
    assert_eq!(stacks.len(), 4, "{episode:#?}");
    for stack in stacks {
        let names: Vec<&str> = stack.iter().map(|f| f.function.as_str()).collect();
        // Innermost first: the function that called `lock`, then its callers, the thread's
        // closure or the body last, and nothing of the machinery around them.
        let in_this_file = |function: &str| format!("{}::{function}", module_path!());
        assert_eq!(names.first().copied(), Some(in_this_file("hold_then_take").as_str()), "{names:#?}");
        assert!(names.last().is_some_and(|n| n.starts_with(&in_this_file("hung_abba"))), "{names:#?}");
        assert!(!stack.iter().any(machinery), "{names:#?}");
        for f in stack {
            let file = f.file.as_deref().unwrap_or_else(|| panic!("no file for {}", f.function));
            assert_eq!(file, file!(), "{f:?}");
        }
    }
}

#[inline(never)]
fn hold_forever(lock: &Mutex<u64>) {
    let _held = lock.lock().unwrap();
    // Never sent: the iteration hangs with the lock held.
    let (_keep, never) = std::sync::mpsc::channel::<()>();
    let _ = never.recv();
}

#[test]
fn a_hold_still_held_is_charged_when_the_report_is_built() {
    // Every hold timed: what is tested is that the one still held is charged at all.
    let body: Body = std::sync::Arc::new(|| hold_forever(&Mutex::named("held-forever", 0)));
    let options = TrackOptions {
        iterations: 1,
        watchdog_threshold: Duration::from_millis(100),
        hang_timeout: Duration::from_millis(300),
        hold_sample_period: 1,
        ..Default::default()
    };
    let report = track(&body, options);
    assert!(report.hung);
    let c = class(&report, "held-forever");
    assert_eq!((c.hold.count, c.hold.timed), (1, 1), "{c:#?}");
    // Held from the start of the iteration until the report: the hang timeout (300 ms) and more.
    assert!(c.hold.max_ns >= 150_000_000, "{c:#?}");
    let line =
        report.hold_folded.lines().find(|l| l.contains("hold_forever") && l.contains("lock:held-forever"));
    let ns: u64 =
        line.unwrap_or_else(|| panic!("{}", report.hold_folded)).rsplit(' ').next().unwrap().parse().unwrap();
    assert!(ns >= 150_000_000, "{ns}");
}

#[test]
fn a_condition_variables_named_mutex_names_the_watchdogs_report() {
    let body: Body = std::sync::Arc::new(|| {
        let pair = Arc::new((Mutex::named("job-queue", false), lockhound::sync::Condvar::named("job-ready")));
        let pair2 = pair.clone();
        let t = thread::spawn(move || {
            let (lock, cv) = &*pair2;
            let mut ready = lock.lock().unwrap();
            while !*ready {
                ready = cv.wait(ready).unwrap();
            }
        });
        // Nobody holds the mutex while the other thread waits, until this late notification.
        std::thread::sleep(Duration::from_millis(600));
        *pair.0.lock().unwrap() = true;
        pair.1.notify_all();
        t.join().unwrap();
    });
    let options =
        TrackOptions { iterations: 1, watchdog_threshold: Duration::from_millis(100), ..Default::default() };
    let report = track(&body, options);
    let episode = report.watchdog.first().unwrap_or_else(|| panic!("no watchdog report: {report:#?}"));
    assert_eq!(episode.waiters[0].lock, "job-queue", "{episode:#?}");
    assert!(
        matches!(episode.verdicts.as_slice(), [Verdict::NoHolderCondvarWait { lock, .. }] if lock == "job-queue"),
        "{episode:#?}"
    );
}
