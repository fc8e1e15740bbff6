//! The facade's threads and timed waits under loom, shuttle and real threads: thread names,
//! ids and builders, scoped threads, thread-locals per simulated thread, and timeouts that
//! are a scheduler's choice under the model checkers (both outcomes explored and replayed).

use lockhound::sync::atomic::{AtomicUsize, Ordering};
use lockhound::sync::{Arc, Condvar, Mutex};
use lockhound::{thread, Backend, Check, FindingKind, ReplayOutcome};
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize as StdAtomic, Ordering::Relaxed};
use std::time::Duration;

/// The three kinds of engine: loom, shuttle and real threads.
const ENGINES: [Backend; 3] = [Backend::Loom, Backend::ShuttleRandom, Backend::Stress];

fn check(backend: Backend) -> Check {
    Check::new().backend(backend).iterations(2_000).time_limit(Duration::from_secs(60))
}

/// Runs `body` under every engine and requires that it passes.
fn passes_everywhere(body: fn()) {
    for backend in ENGINES {
        let report = check(backend).explore(body);
        assert!(report.passed(), "{backend}: {:?}", report.finding.map(|f| f.message));
    }
}

/// Runs `body` under both model checkers and requires a panic finding whose message has `says`,
/// which replays.
fn both_model_checkers_find(body: fn(), says: &str) {
    for backend in [Backend::Loom, Backend::ShuttleRandom] {
        let finding = check(backend).explore(body).finding.unwrap_or_else(|| panic!("{backend} missed it"));
        assert_eq!(finding.kind, FindingKind::Panic, "{backend}: {}", finding.message);
        assert!(finding.message.contains(says), "{backend}: {}", finding.message);
        let schedule = finding.schedule.clone().expect("a model checker's finding has a schedule");
        let shared: lockhound::Body = std::sync::Arc::new(body);
        match lockhound::explore::replay(&shared, &schedule, &check(backend).config) {
            ReplayOutcome::Failed(again) => assert_eq!(again.message, finding.message, "{backend}"),
            other => panic!("{backend}: the replay of {schedule} gave {other:?}"),
        }
    }
}

#[test]
fn threads_have_names_ids_and_builders_under_every_engine() {
    passes_everywhere(|| {
        let main = thread::current();
        assert_eq!(main.name(), Some("main"));
        let named = thread::Builder::new()
            .name("worker".to_string())
            .stack_size(256 * 1024)
            .spawn(|| {
                let me = thread::current();
                (me.name().map(str::to_string), me.id())
            })
            .expect("the builder spawns");
        let handle_id = named.thread().id();
        let (name, id) = named.join().unwrap();
        assert_eq!(name.as_deref(), Some("worker"));
        assert_eq!(id, handle_id, "the handle and the thread agree on the id");
        assert_ne!(id, main.id());
        assert_eq!(thread::current().id(), main.id());
        let unnamed = thread::spawn(|| thread::current().name().map(str::to_string));
        assert_eq!(unnamed.join().unwrap(), None);
        assert!(!thread::panicking());
        assert!(thread::available_parallelism().is_ok());
    });
}

/// Two scoped threads add to a counter on the caller's stack, through a lock.
fn scoped_counter() {
    let counter = Mutex::new(0u32);
    let total = thread::scope(|s| {
        let a = s.spawn(|| *counter.lock().unwrap() += 1);
        s.spawn(|| *counter.lock().unwrap() += 1);
        a.join().unwrap();
        7
    });
    // The scope joined the second thread although nothing else did.
    assert_eq!(*counter.lock().unwrap(), 2);
    assert_eq!(total, 7);
}

/// The same with a load and a store instead of the lock: a lost update.
fn scoped_lost_update() {
    let counter = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let v = counter.load(Ordering::SeqCst);
                counter.store(v + 1, Ordering::SeqCst);
            });
        }
    });
    assert_eq!(counter.load(Ordering::SeqCst), 2, "lost update in a scope");
}

#[test]
fn scoped_threads_borrow_and_are_joined_under_every_engine() {
    passes_everywhere(scoped_counter);
    both_model_checkers_find(scoped_lost_update, "lost update in a scope");
}

#[test]
fn a_scoped_panic_is_the_threads_result_and_an_unjoined_one_fails_the_scope() {
    passes_everywhere(|| {
        let joined = thread::scope(|s| s.spawn(|| panic!("scoped boom")).join());
        let payload = joined.expect_err("join returns the panic");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"scoped boom"));
    });
    for backend in ENGINES {
        let finding = check(backend)
            .explore(|| {
                thread::scope(|s| {
                    s.spawn(|| panic!("nobody joins me"));
                });
            })
            .finding
            .unwrap_or_else(|| panic!("{backend}: the unjoined panic failed nothing"));
        assert!(
            finding.message.contains("a scoped thread panicked: nobody joins me"),
            "{backend}: {}",
            finding.message
        );
    }
}

lockhound::thread_local! {
    static VISITS: Cell<u32> = const { Cell::new(0) };
    static LOG: RefCell<Vec<&'static str>> = RefCell::new(Vec::new());
    static DROPPED: Tracked = Tracked::new();
}

static TRACKED_MADE: StdAtomic = StdAtomic::new(0);
static TRACKED_DROPPED: StdAtomic = StdAtomic::new(0);

/// A thread-local value that counts how many were made and dropped.
struct Tracked;

impl Tracked {
    fn new() -> Tracked {
        TRACKED_MADE.fetch_add(1, Relaxed);
        Tracked
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        TRACKED_DROPPED.fetch_add(1, Relaxed);
    }
}

#[test]
fn thread_locals_are_per_simulated_thread_and_dropped_with_it() {
    passes_everywhere(|| {
        VISITS.set(VISITS.get() + 1);
        LOG.with_borrow_mut(|log| log.push("main"));
        let other = thread::spawn(|| {
            DROPPED.with(|_| ());
            let before = VISITS.get();
            VISITS.set(before + 10);
            LOG.with_borrow_mut(|log| log.push("other"));
            (before, VISITS.get(), LOG.with_borrow(|log| log.clone()))
        });
        let (before, after, log) = other.join().unwrap();
        assert_eq!((before, after), (0, 10), "a spawned thread starts from the initial value");
        assert_eq!(log, vec!["other"]);
        // Under a model checker every execution starts a new main thread; on real threads
        // every iteration does.
        assert_eq!(VISITS.get(), 1);
        assert_eq!(LOG.take(), vec!["main"]);
    });
    // Each thread's value is dropped when the thread finishes, under every engine.
    assert!(TRACKED_MADE.load(Relaxed) > 0);
    assert_eq!(TRACKED_MADE.load(Relaxed), TRACKED_DROPPED.load(Relaxed));
}

/// A thread-local used as if it were shared between the threads: a bug only a per-thread
/// value shows.
fn thread_local_taken_for_shared() {
    let t = thread::spawn(|| VISITS.set(5));
    t.join().unwrap();
    assert_eq!(VISITS.get(), 5, "the thread-local is not shared");
}

#[test]
fn a_thread_local_mistaken_for_a_shared_value_fails_under_every_model_checker() {
    both_model_checkers_find(thread_local_taken_for_shared, "the thread-local is not shared");
}

/// How often each outcome of the timed wait below happened.
static TIMED_OUT: StdAtomic = StdAtomic::new(0);
static NOTIFIED: StdAtomic = StdAtomic::new(0);

/// A waiter waits at most an hour for a flag that a notifier sets; returns whether the wait
/// timed out and whether the flag was set then.
fn timed_handoff() -> (bool, bool) {
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let theirs = pair.clone();
    let notifier = thread::spawn(move || {
        *theirs.0.lock().unwrap() = true;
        theirs.1.notify_one();
    });
    let (flag, woken) = &*pair;
    let set = flag.lock().unwrap();
    let outcome = if *set {
        // The notifier ran first: no wait.
        (false, true)
    } else {
        let (set, result) = woken.wait_timeout(set, Duration::from_secs(3600)).unwrap();
        (result.timed_out(), *set)
    };
    notifier.join().unwrap();
    outcome
}

fn count_outcomes() {
    match timed_handoff() {
        (true, _) => TIMED_OUT.fetch_add(1, Relaxed),
        (false, set) => {
            assert!(set, "woken only by the notify, which comes after the flag is set");
            NOTIFIED.fetch_add(1, Relaxed)
        }
    };
}

#[test]
fn both_outcomes_of_a_timed_wait_are_explored_by_each_model_checker() {
    for check in [
        Check::new().backend(Backend::Loom).preemption_bound(None),
        Check::new().backend(Backend::ShuttleDfs),
    ] {
        TIMED_OUT.store(0, Relaxed);
        NOTIFIED.store(0, Relaxed);
        let report = check.explore(count_outcomes);
        assert!(report.passed() && report.exhaustive, "{:?}", report.finding);
        assert!(
            TIMED_OUT.load(Relaxed) > 0,
            "{}: the timeout branch was never explored",
            check.config.backend
        );
        assert!(NOTIFIED.load(Relaxed) > 0, "{}: the notify branch was never explored", check.config.backend);
    }
}

/// Code that assumes the notify always comes before the deadline: only the timeout shows it.
fn assumes_the_notify_wins() {
    let (timed_out, set) = timed_handoff();
    assert!(!timed_out || set, "timed out before the notifier set the flag");
}

/// The mirror image: a bug only the notify branch shows.
fn assumes_the_deadline_wins() {
    let (timed_out, _) = timed_handoff();
    assert!(timed_out, "woken by the notify");
}

#[test]
fn a_bug_of_either_branch_of_a_timed_wait_is_found_and_replays() {
    both_model_checkers_find(assumes_the_notify_wins, "timed out before the notifier set the flag");
    both_model_checkers_find(assumes_the_deadline_wins, "woken by the notify");
}

#[test]
fn timed_waits_are_real_on_real_threads() {
    let report = check(Backend::Stress).iterations(3).explore(|| {
        let pair = (Mutex::new(()), Condvar::new());
        let guard = pair.0.lock().unwrap();
        let (guard, result) = pair.1.wait_timeout(guard, Duration::from_millis(5)).unwrap();
        assert!(result.timed_out(), "nobody notifies");
        drop(guard);
        // A notify that comes while the thread waits ends the wait before a long deadline.
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let theirs = pair.clone();
        let t = thread::spawn(move || {
            *theirs.0.lock().unwrap() = true;
            theirs.1.notify_all();
        });
        let guard = pair.0.lock().unwrap();
        let (guard, result) =
            pair.1.wait_timeout_while(guard, Duration::from_secs(600), |set| !*set).unwrap();
        assert!(!result.timed_out() && *guard);
        drop(guard);
        t.join().unwrap();
        thread::sleep(Duration::from_millis(1));
        thread::park_timeout(Duration::from_millis(1));
    });
    assert!(report.passed(), "{:?}", report.finding);
}

/// `wait_timeout_while` says `timed_out` only when the condition still held at the deadline.
fn wait_timeout_while_reports_the_condition() {
    let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
    let theirs = pair.clone();
    let t = thread::spawn(move || {
        *theirs.0.lock().unwrap() += 1;
        theirs.1.notify_one();
    });
    let guard = pair.0.lock().unwrap();
    let (guard, result) = pair.1.wait_timeout_while(guard, Duration::from_secs(1), |n| *n == 0).unwrap();
    assert_eq!(result.timed_out(), *guard == 0);
    drop(guard);
    t.join().unwrap();
}

#[test]
fn wait_timeout_while_under_every_engine() {
    passes_everywhere(wait_timeout_while_reports_the_condition);
}

/// A waiter with a timeout never deadlocks: when no one else can run, its deadline passes.
#[test]
fn a_timed_wait_alone_times_out_instead_of_deadlocking() {
    for backend in [Backend::Loom, Backend::ShuttleRandom, Backend::ShuttleDfs] {
        let report = check(backend).explore(|| {
            let pair = (Mutex::new(()), Condvar::new());
            let guard = pair.0.lock().unwrap();
            let (_guard, result) = pair.1.wait_timeout(guard, Duration::from_secs(1)).unwrap();
            assert!(result.timed_out());
        });
        assert!(report.passed(), "{backend}: {:?}", report.finding.map(|f| f.message));
    }
}

/// A spin on a flag with `sleep` and `park_timeout` between looks: both let the setter run.
fn sleep_and_park_timeout_let_others_run() {
    let flag = Arc::new(AtomicUsize::new(0));
    let theirs = flag.clone();
    let main = thread::current();
    let setter = thread::spawn(move || {
        theirs.store(1, Ordering::SeqCst);
        main.unpark();
    });
    while flag.load(Ordering::SeqCst) == 0 {
        thread::sleep(Duration::from_millis(1));
        thread::park_timeout(Duration::from_millis(1));
    }
    setter.join().unwrap();
}

#[test]
fn sleep_and_park_timeout_under_every_engine() {
    passes_everywhere(sleep_and_park_timeout_let_others_run);
}

/// A sleep taken for a synchronization: the other thread need not have run during it.
fn sleep_taken_for_a_handoff() {
    let flag = Arc::new(AtomicUsize::new(0));
    let theirs = flag.clone();
    let t = thread::spawn(move || theirs.store(1, Ordering::SeqCst));
    thread::sleep(Duration::from_millis(100));
    assert_eq!(flag.load(Ordering::SeqCst), 1, "the sleep was long enough");
    t.join().unwrap();
}

#[test]
fn a_sleep_is_no_synchronization_under_the_model_checkers() {
    both_model_checkers_find(sleep_taken_for_a_handoff, "the sleep was long enough");
}
