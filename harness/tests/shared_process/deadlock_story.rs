//! A deadlock reads the same under every engine that finds it: each blocked thread, the
//! operation it is blocked in (the object's label and the call's line), and who holds that
//! object, in lockhound's words rather than the engine's.

use lockhound::sync::{Arc, Condvar, Mutex};
use lockhound::{thread, Backend, Check, FindingKind};

/// Two accounts, created on one line, locked in opposite orders.
fn abba() {
    let accounts = Arc::new([Mutex::new(10), Mutex::new(20)]);
    let a = accounts.clone();
    let t = thread::spawn(move || {
        let _from = a[0].lock().unwrap();
        let _to = a[1].lock().unwrap();
    });
    {
        let _from = accounts[1].lock().unwrap();
        let _to = accounts[0].lock().unwrap();
    }
    t.join().unwrap();
}

/// A wait nobody notifies, while the other thread joins the waiter.
fn lost_wakeup() {
    let pair = Arc::new((Mutex::named("ready", false), Condvar::new()));
    let p = pair.clone();
    let t = thread::spawn(move || {
        let (ready, condvar) = &*p;
        let mut ready = ready.lock().unwrap();
        while !*ready {
            ready = condvar.wait(ready).unwrap();
        }
    });
    t.join().unwrap();
}

fn deadlock_under(backend: Backend, body: fn()) -> String {
    let report = Check::new().backend(backend).iterations(5_000).explore(body);
    let finding = report.finding.unwrap_or_else(|| panic!("{backend} should find the deadlock"));
    assert_eq!(finding.kind, FindingKind::Deadlock, "{backend}: {}", finding.message);
    finding.message
}

#[test]
fn abba_reads_the_same_under_loom_and_shuttle() {
    let loom = deadlock_under(Backend::Loom, abba);
    for backend in [Backend::ShuttleRandom, Backend::ShuttleDfs, Backend::ShuttlePct] {
        assert_eq!(
            deadlock_under(backend, abba),
            loom,
            "{backend} and loom describe the deadlock differently"
        );
    }
    // Each thread, what it is blocked in, and who holds it; the two mutexes told apart.
    // The lines of `abba` above: the accounts are created on line 10, thread 1 takes the second
    // on line 14, the main thread the first on line 18.
    assert!(
        loom.contains("thread 1 is blocked in `lock` of Mutex deadlock_story.rs:10 #2 at deadlock_story.rs:14, held by thread 0 (main)"),
        "{loom}"
    );
    assert!(
        loom.contains("thread 0 (main) is blocked in `lock` of Mutex deadlock_story.rs:10 at deadlock_story.rs:18, held by thread 1"),
        "{loom}"
    );
    assert!(loom.contains("thread 0 (main) is blocked") && loom.contains("thread 1 is blocked"), "{loom}");
    assert!(!loom.contains("Blocked(Location") && !loom.contains("blocked tasks"), "{loom}");
}

#[test]
fn a_lost_wakeup_names_the_wait_and_the_join() {
    let loom = deadlock_under(Backend::Loom, lost_wakeup);
    let shuttle = deadlock_under(Backend::ShuttleRandom, lost_wakeup);
    assert_eq!(shuttle, loom);
    assert!(loom.contains("thread 0 (main) is blocked in `join` of thread 1"), "{loom}");
    assert!(loom.contains("thread 1 is blocked in `wait` of Condvar deadlock_story.rs:"), "{loom}");
    assert!(loom.contains("never notified"), "{loom}");
}

/// The trace of the ABBA deadlock: the two mutexes told apart, the lock attempts that never
/// returned marked blocked, and both threads named as blocked.
#[test]
fn the_abba_trace_shows_the_blocked_attempts() {
    use lockhound::explore::{replay_traced, Body};
    for backend in [Backend::Loom, Backend::ShuttleRandom] {
        let check = Check::new().backend(backend).iterations(5_000);
        let finding = check.explore(abba).finding.expect("the deadlock is found");
        let body: Body = std::sync::Arc::new(abba);
        let schedule = finding.schedule.expect("a model checker's finding replays");
        let (_, trace) = replay_traced(&body, &schedule, &check.config);
        let failure = trace.failure.as_ref().expect("the replay fails");
        assert_eq!(failure.blocked, vec![0, 1], "{backend}: {trace:?}");
        let blocked: Vec<_> = trace.events.iter().filter(|e| e.blocked).collect();
        assert_eq!(blocked.len(), 2, "{backend}: {trace:?}");
        assert!(trace.events.iter().rev().take(2).all(|e| e.blocked), "{backend}: the attempts come last");
        // Preemptions are counted the same under every engine (harness/tests/shared_process/preemptions.rs):
        // one thread is stopped holding its first lock; from then on every switch is forced.
        assert_eq!(trace.preemptions(), 1, "{backend}: {trace:?}");
        assert!(blocked.iter().all(|e| e.switched && !e.preempted), "{backend}: {trace:?}");
        for (e, (thread, instance, line)) in blocked.iter().zip([(0, 1, 18), (1, 2, 14)]) {
            assert_eq!(e.thread, thread, "{backend}");
            assert_eq!(e.op, "lock", "{backend}");
            let object = e.object.as_ref().expect("a lock attempt names its mutex");
            assert_eq!(
                (object.kind.as_str(), object.created.line, object.instance),
                ("Mutex", 10, instance),
                "{backend}"
            );
            assert_eq!(e.location.as_ref().map(|l| l.line), Some(line), "{backend}");
        }
        // Every lock in the trace is one of the two accounts, by instance.
        let instances: std::collections::BTreeSet<u32> =
            trace.events.iter().filter_map(|e| e.object.as_ref()).map(|o| o.instance).collect();
        assert_eq!(instances, [1, 2].into_iter().collect(), "{backend}");
    }
}

/// An RwLock and a Mutex taken in opposite orders: a writer against a reader.
fn rwlock_abba() {
    let table = Arc::new(lockhound::sync::RwLock::named("table", 0));
    let log = Arc::new(Mutex::named("log", ()));
    let (t2, l2) = (table.clone(), log.clone());
    let t = thread::spawn(move || {
        let _w = t2.write().unwrap();
        let _l = l2.lock().unwrap();
    });
    {
        let _l = log.lock().unwrap();
        let _r = table.read().unwrap();
    }
    t.join().unwrap();
}

/// A blocked attempt on an RwLock is named as its acquisitions are (`read-lock`,
/// `write-lock`; a cell's accesses are `read` and `write`), and its message by the method.
#[test]
fn a_blocked_rwlock_attempt_is_named_as_its_acquisitions_are() {
    use lockhound::explore::{replay_traced, Body};
    let check = Check::new().backend(Backend::ShuttlePct).iterations(5_000);
    let finding = check.explore(rwlock_abba).finding.expect("the deadlock is found");
    assert!(finding.message.contains("blocked in `read` of table"), "{}", finding.message);
    let body: Body = std::sync::Arc::new(rwlock_abba);
    let (_, trace) = replay_traced(&body, &finding.schedule.expect("a schedule"), &check.config);
    let blocked: Vec<&str> = trace.events.iter().filter(|e| e.blocked).map(|e| e.op.as_str()).collect();
    assert_eq!(blocked, ["read-lock", "lock"], "{trace:?}");
    assert!(trace.events.iter().any(|e| e.op == "write-lock" && !e.blocked), "{trace:?}");
}

/// One thread takes a lock it already holds.
fn relock() {
    let m = Mutex::new(0);
    let _first = m.lock().unwrap();
    let _second = m.lock().unwrap();
}

/// A reader that asks for the write lock it cannot get while it reads.
fn read_then_write() {
    let l = lockhound::sync::RwLock::new(0);
    let _read = l.read().unwrap();
    let _write = l.write().unwrap();
}

#[test]
fn a_lock_taken_again_by_its_holder_is_said_so_under_every_engine() {
    for backend in [Backend::Loom, Backend::ShuttleRandom, Backend::ShuttleDfs] {
        let message = deadlock_under(backend, relock);
        assert!(message.contains("tried to acquire a Mutex it already holds"), "{backend}: {message}");
        let message = deadlock_under(backend, read_then_write);
        assert!(message.contains("tried to acquire a RwLock it already holds"), "{backend}: {message}");
    }
}

/// The line of this file that ends with `marker` (a line number written out would go stale
/// with every edit above it).
fn line_of(marker: &str) -> usize {
    let source = include_str!("deadlock_story.rs");
    1 + source
        .lines()
        .position(|l| l.ends_with(marker) && !l.contains("line_of("))
        .expect("marker in the file")
}

/// A receiver waits for a message from a sender its own thread keeps and never uses.
fn recv_with_own_sender() {
    let (tx, rx) = lockhound::sync::mpsc::channel::<u32>();
    let t = thread::spawn(move || rx.recv().ok()); // RECV_LINE
    t.join().unwrap();
    drop(tx);
}

/// Two of a barrier's three threads arrive.
fn barrier_short_of_threads() {
    let barrier = Arc::new(lockhound::sync::Barrier::new(3));
    let b = barrier.clone();
    let t = thread::spawn(move || {
        b.wait();
    });
    barrier.wait();
    t.join().unwrap();
}

#[test]
fn a_channel_and_a_barrier_are_named_at_the_users_call() {
    for backend in [Backend::Loom, Backend::ShuttleRandom] {
        let message = deadlock_under(backend, recv_with_own_sender);
        // The `rx.recv()` above: the user's call, not the facade's inside.
        let expected = format!(
            "thread 1 is blocked in `recv` of channel at deadlock_story.rs:{}, never woken",
            line_of("// RECV_LINE")
        );
        assert!(message.contains(&expected), "{backend}: {message}");
        assert!(!message.contains("mpsc.rs"), "{backend}: {message}");
        let message = deadlock_under(backend, barrier_short_of_threads);
        assert!(
            message.contains("blocked in `wait` of Barrier at deadlock_story.rs:"),
            "{backend}: {message}"
        );
        assert!(!message.contains("barrier.rs"), "{backend}: {message}");
    }
}

/// A thread parks and nobody unparks it.
fn park_forever() {
    // A closure, so that the park's line is this file's (a bare `thread::park` would be
    // called from std's `FnOnce` glue).
    let t = thread::spawn(|| {
        thread::park(); // PARK_LINE
    });
    t.join().unwrap();
}

#[test]
fn a_park_nobody_unparks_is_named() {
    for backend in [Backend::Loom, Backend::ShuttleRandom] {
        let message = deadlock_under(backend, park_forever);
        let expected =
            format!("thread 1 is blocked in `park` at deadlock_story.rs:{}", line_of("// PARK_LINE"));
        assert!(message.contains(&expected), "{backend}: {message}");
        assert!(message.contains("never unparked"), "{backend}: {message}");
    }
}

/// A read lock taken again by the thread that holds it.
fn read_twice() {
    let lock = lockhound::sync::RwLock::new(0);
    let _first = lock.read().unwrap();
    let _second = lock.read().unwrap();
}

/// shuttle's `RwLock` refuses a re-entrant read: a deadlock, which names the reader as the
/// holder of what it waits for, as for a mutex taken twice.
#[test]
fn a_read_lock_taken_again_by_its_reader_is_a_self_deadlock_under_shuttle() {
    for backend in [Backend::ShuttleRandom, Backend::ShuttleDfs] {
        let message = deadlock_under(backend, read_twice);
        assert!(
            message.contains("held by thread 0 (main) (it tried to acquire a RwLock it already holds)"),
            "{backend}: {message}"
        );
    }
}
