//! The facade's channels, barriers, one-time initialization and lock poisoning, under loom,
//! shuttle and real threads: each works like std's on every engine, and a bug in its use is
//! found by each model checker for the right reason.

use lockhound::sync::atomic::{AtomicUsize, Ordering};
use lockhound::sync::mpsc::{self, RecvTimeoutError, TryRecvError, TrySendError};
use lockhound::sync::{Arc, Barrier, Condvar, LazyLock, Mutex, Once, OnceLock, RwLock};
use lockhound::{thread, Backend, Check, FindingKind, ReplayOutcome};
use std::sync::atomic::{AtomicUsize as StdAtomic, Ordering::Relaxed};
use std::time::Duration;

const ENGINES: [Backend; 3] = [Backend::Loom, Backend::ShuttleRandom, Backend::Stress];

fn check(backend: Backend) -> Check {
    Check::new().backend(backend).iterations(2_000).time_limit(Duration::from_secs(60))
}

fn passes_everywhere(body: fn()) {
    for backend in ENGINES {
        let report = check(backend).explore(body);
        assert!(report.passed(), "{backend}: {:?}", report.finding.map(|f| f.message));
    }
}

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

// ---- channels ----

/// Two senders, one of them a clone; the receiver sees every message and then the end.
fn two_senders() {
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    let a = thread::spawn(move || tx.send(1).unwrap());
    let b = thread::spawn(move || tx2.send(2).unwrap());
    let mut got: Vec<u32> = rx.iter().collect();
    got.sort();
    assert_eq!(got, vec![1, 2], "iter ends when both senders are gone");
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    a.join().unwrap();
    b.join().unwrap();
}

/// A rendezvous channel: the send returns only once the message was received.
fn rendezvous() {
    let (tx, rx) = mpsc::sync_channel(0);
    let received = Arc::new(AtomicUsize::new(0));
    let seen = received.clone();
    let t = thread::spawn(move || {
        let v: u32 = rx.recv().unwrap();
        seen.store(1, Ordering::SeqCst);
        assert_eq!(rx.recv(), Err(mpsc::RecvError), "the sender is gone");
        v
    });
    tx.send(7).unwrap();
    drop(tx);
    assert_eq!(t.join().unwrap(), 7);
    assert_eq!(received.load(Ordering::SeqCst), 1);
}

/// A bounded channel of one: the second `try_send` finds it full until a receive.
fn bounded_channel_is_full() {
    let (tx, rx) = mpsc::sync_channel(1);
    tx.try_send(1).unwrap();
    assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    assert_eq!(rx.recv_timeout(Duration::from_secs(1)), Ok(1));
    drop(rx);
    assert_eq!(tx.send(3), Err(mpsc::SendError(3)), "the receiver is gone");
}

/// A rendezvous `try_send` succeeds only while a receiver waits.
fn rendezvous_try_send() {
    let (tx, rx) = mpsc::sync_channel(0);
    assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)), "no receiver waits yet");
    let t = thread::spawn(move || rx.recv().unwrap());
    let mut value = 2;
    loop {
        match tx.try_send(value) {
            Ok(()) => break,
            Err(TrySendError::Full(back)) => value = back,
            Err(TrySendError::Disconnected(_)) => unreachable!("the receiver is alive"),
        }
        thread::yield_now();
    }
    assert_eq!(t.join().unwrap(), 2);
}

#[test]
fn channels_work_like_std_under_every_engine() {
    passes_everywhere(rendezvous_try_send);
    passes_everywhere(two_senders);
    passes_everywhere(rendezvous);
    passes_everywhere(bounded_channel_is_full);
    passes_everywhere(|| {
        let (tx, rx) = mpsc::channel::<u32>();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        tx.send(4).unwrap();
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![4]);
        drop(tx);
        assert_eq!(rx.recv_timeout(Duration::from_millis(5)), Err(RecvTimeoutError::Disconnected));
    });
}

/// Messages of two senders taken to arrive in the order the senders were started.
fn assumes_the_order_of_two_senders() {
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    let a = thread::spawn(move || tx.send("first").unwrap());
    let b = thread::spawn(move || tx2.send("second").unwrap());
    assert_eq!(rx.recv().unwrap(), "first", "messages of two senders came in spawn order");
    a.join().unwrap();
    b.join().unwrap();
}

static MESSAGES: StdAtomic = StdAtomic::new(0);
static TIMEOUTS: StdAtomic = StdAtomic::new(0);

/// A receive with a timeout against a sender: returns what it got.
fn receive_or_time_out() -> Result<u32, RecvTimeoutError> {
    let (tx, rx) = mpsc::channel();
    let t = thread::spawn(move || tx.send(9).unwrap());
    let got = rx.recv_timeout(Duration::from_secs(3600));
    t.join().unwrap();
    got
}

#[test]
fn channel_bugs_are_found_and_both_outcomes_of_recv_timeout_explored() {
    both_model_checkers_find(assumes_the_order_of_two_senders, "came in spawn order");
    both_model_checkers_find(
        || {
            receive_or_time_out().expect("the message always comes before the deadline");
        },
        "the message always comes before the deadline",
    );
    for check in [
        Check::new().backend(Backend::Loom).preemption_bound(None),
        Check::new().backend(Backend::ShuttleDfs),
    ] {
        MESSAGES.store(0, Relaxed);
        TIMEOUTS.store(0, Relaxed);
        let report = check.explore(|| {
            match receive_or_time_out() {
                Ok(9) => MESSAGES.fetch_add(1, Relaxed),
                Err(RecvTimeoutError::Timeout) => TIMEOUTS.fetch_add(1, Relaxed),
                other => panic!("{other:?}"),
            };
        });
        assert!(report.passed() && report.exhaustive, "{:?}", report.finding);
        assert!(MESSAGES.load(Relaxed) > 0 && TIMEOUTS.load(Relaxed) > 0, "{}", check.config.backend);
    }
}

// ---- barriers ----

/// Three threads add before the barrier and read after it: everyone sees every addition,
/// and one of them is the leader.
fn barrier_orders_the_phases() {
    let barrier = Arc::new(Barrier::new(3));
    let sum = Arc::new(AtomicUsize::new(0));
    let leaders = Arc::new(AtomicUsize::new(0));
    let phase = |barrier: Arc<Barrier>, sum: Arc<AtomicUsize>, leaders: Arc<AtomicUsize>| {
        move || {
            sum.fetch_add(1, Ordering::SeqCst);
            if barrier.wait().is_leader() {
                leaders.fetch_add(1, Ordering::SeqCst);
            }
            assert_eq!(sum.load(Ordering::SeqCst), 3, "read before everyone added");
        }
    };
    let a = thread::spawn(phase(barrier.clone(), sum.clone(), leaders.clone()));
    let b = thread::spawn(phase(barrier.clone(), sum.clone(), leaders.clone()));
    phase(barrier, sum, leaders.clone())();
    a.join().unwrap();
    b.join().unwrap();
    assert_eq!(leaders.load(Ordering::SeqCst), 1);
}

/// The same with a barrier one thread short: the reads may come before the last addition.
fn barrier_one_short() {
    let barrier = Arc::new(Barrier::new(1));
    let sum = Arc::new(AtomicUsize::new(0));
    let (b2, s2) = (barrier.clone(), sum.clone());
    let t = thread::spawn(move || {
        s2.fetch_add(1, Ordering::SeqCst);
        b2.wait();
    });
    sum.fetch_add(1, Ordering::SeqCst);
    barrier.wait();
    assert_eq!(sum.load(Ordering::SeqCst), 2, "read before everyone added");
    t.join().unwrap();
}

#[test]
fn barriers_under_every_engine() {
    passes_everywhere(barrier_orders_the_phases);
    both_model_checkers_find(barrier_one_short, "read before everyone added");
}

// ---- shuttle's depth-first search over channels and barriers ----

/// Two senders, one receiver.
fn two_senders_one_receiver() {
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    thread::spawn(move || tx.send(5).unwrap());
    thread::spawn(move || tx2.send(6).unwrap());
    assert_eq!(rx.recv().unwrap() + rx.recv().unwrap(), 11);
}

/// Two messages handed over on a rendezvous channel.
fn two_handovers() {
    let (tx, rx) = mpsc::sync_channel(0);
    let t = thread::spawn(move || {
        tx.send(1).unwrap();
        tx.send(2).unwrap();
    });
    assert_eq!(rx.recv().unwrap() + rx.recv().unwrap(), 3);
    t.join().unwrap();
}

/// Three threads through a barrier twice.
fn three_threads_two_barriers() {
    let barrier = Arc::new(Barrier::new(3));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                barrier.wait();
            })
        })
        .collect();
    barrier.wait();
    barrier.wait();
    for t in threads {
        t.join().unwrap();
    }
}

/// Under shuttle, channels and barriers have the scheduling points of shuttle's own (one per
/// send, receive and barrier wait, none for a sender's clone or drop), so shuttle's depth-first
/// search ends after exactly as many schedules as it does on shuttle's primitives: shuttle 0.9.9's
/// `check_dfs` runs these bodies in 120, 9 and 17 executions. (Over a mutex and a condvar, as
/// under loom, the first took over a million.)
#[test]
fn shuttle_s_exhaustive_search_runs_exactly_the_schedules_it_runs_on_shuttle_s_own_primitives() {
    for (body, shuttle_s) in
        [(two_senders_one_receiver as fn(), 120), (two_handovers, 9), (three_threads_two_barriers, 17)]
    {
        let report = check(Backend::ShuttleDfs).iterations(100_000).explore(body);
        assert!(report.passed(), "{:?}", report.finding.map(|f| f.message));
        assert!(report.exhaustive, "the search must end");
        assert_eq!(report.executions, shuttle_s, "the executions of shuttle's own search");
    }
}

// ---- one-time initialization ----

static INITIALIZED: StdAtomic = StdAtomic::new(0);

/// Two threads race to initialize one cell: exactly one initializer runs, both see its value.
fn one_initializer_wins() {
    INITIALIZED.store(0, Relaxed);
    let cell = Arc::new(OnceLock::new());
    let theirs = cell.clone();
    let init = || {
        INITIALIZED.fetch_add(1, Relaxed);
        thread::current().id()
    };
    let t = thread::spawn(move || *theirs.get_or_init(init));
    let mine = *cell.get_or_init(init);
    assert_eq!(t.join().unwrap(), mine, "both threads see the winner's value");
    assert_eq!(INITIALIZED.load(Relaxed), 1, "one initializer ran");
    assert_eq!(cell.get(), Some(&mine));
}

/// A check-then-set on the cell instead of `get_or_init`: the second `set` fails.
fn check_then_set() {
    let cell = Arc::new(OnceLock::new());
    let theirs = cell.clone();
    let t = thread::spawn(move || {
        if theirs.get().is_none() {
            theirs.set(1).expect("the cell was still empty");
        }
    });
    if cell.get().is_none() {
        cell.set(2).expect("the cell was still empty");
    }
    t.join().unwrap();
}

#[test]
fn once_lock_races_are_explored_under_every_engine() {
    passes_everywhere(one_initializer_wins);
    both_model_checkers_find(check_then_set, "the cell was still empty");
}

static ONCE: Once = Once::new();
static ONCE_RAN: StdAtomic = StdAtomic::new(0);
static STATIC_CELL: OnceLock<Mutex<u32>> = OnceLock::new();
static LAZY_INITS: StdAtomic = StdAtomic::new(0);
static LAZY: LazyLock<Mutex<u32>> = LazyLock::new(|| {
    LAZY_INITS.fetch_add(1, Relaxed);
    Mutex::new(0)
});

lockhound::lazy_static! {
    static ref TABLE: Mutex<Vec<u32>> = Mutex::new(Vec::new());
}

/// Statics of each kind, used by two threads. Under a model checker every execution starts
/// with them uninitialized; on real threads they are initialized once per process.
fn statics_per_execution() {
    let t = thread::spawn(|| {
        ONCE.call_once(|| {
            ONCE_RAN.fetch_add(1, Relaxed);
        });
        *STATIC_CELL.get_or_init(|| Mutex::new(0)).lock().unwrap() += 1;
        *LAZY.lock().unwrap() += 1;
        TABLE.lock().unwrap().push(1);
    });
    ONCE.call_once(|| {
        ONCE_RAN.fetch_add(1, Relaxed);
    });
    assert!(ONCE.is_completed());
    *STATIC_CELL.get_or_init(|| Mutex::new(0)).lock().unwrap() += 1;
    *LAZY.lock().unwrap() += 1;
    lockhound::sync::lazy_static::initialize(&TABLE);
    TABLE.lock().unwrap().push(2);
    t.join().unwrap();
    if lockhound::is_model_checked() {
        assert_eq!(*STATIC_CELL.get().unwrap().lock().unwrap(), 2, "a fresh cell in every execution");
        assert_eq!(*LAZY.lock().unwrap(), 2, "a fresh value in every execution");
        assert_eq!(TABLE.lock().unwrap().len(), 2, "a fresh table in every execution");
    }
}

#[test]
fn statics_are_initialized_per_execution_under_the_model_checkers_and_once_on_real_threads() {
    for backend in ENGINES {
        ONCE_RAN.store(0, Relaxed);
        LAZY_INITS.store(0, Relaxed);
        let report = check(backend).iterations(20).explore(statics_per_execution);
        assert!(report.passed(), "{backend}: {:?}", report.finding.map(|f| f.message));
        let (once_ran, lazy_inits) = (ONCE_RAN.load(Relaxed) as u64, LAZY_INITS.load(Relaxed) as u64);
        if backend == Backend::Stress {
            // The first run on real threads initialized them for the rest of the process.
            assert!(once_ran <= 1 && lazy_inits <= 1, "{once_ran} {lazy_inits}");
        } else {
            assert_eq!(once_ran, report.executions, "{backend}: one call_once per execution");
            assert_eq!(lazy_inits, report.executions, "{backend}: one initialization per execution");
        }
    }
}

/// A flag and a `Once` used as if the `Once` ordered the flag: the other thread may look at
/// the flag before any `call_once`.
fn once_taken_for_a_handoff() {
    let once = Arc::new(Once::new());
    let theirs = once.clone();
    let t = thread::spawn(move || theirs.is_completed());
    once.call_once(|| {});
    assert!(t.join().unwrap(), "the other thread saw the Once completed");
}

#[test]
fn a_once_checked_too_early_is_found() {
    both_model_checkers_find(once_taken_for_a_handoff, "saw the Once completed");
}

#[test]
fn a_panicking_once_poisons_it_under_every_engine() {
    passes_everywhere(|| {
        let once = Once::new();
        let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            once.call_once(|| panic!("init failed"))
        }));
        assert!(first.is_err());
        let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| once.call_once(|| {})));
        assert!(again.is_err(), "a poisoned Once panics");
        let mut saw_poison = false;
        once.call_once_force(|state| saw_poison = state.is_poisoned());
        assert!(saw_poison && once.is_completed());
    });
}

// ---- poisoning ----

/// A thread panics while it holds a mutex and a write lock; the body catches the panic. Both
/// locks are poisoned afterwards, and still usable through the error.
fn poisoned_by_a_caught_panic() {
    let m = Arc::new(Mutex::new(1));
    let l = Arc::new(RwLock::new(1));
    let (m2, l2) = (m.clone(), l.clone());
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _g = m2.lock().unwrap();
        let _w = l2.write().unwrap();
        panic!("while holding both");
    }));
    assert!(caught.is_err());
    assert!(m.is_poisoned() && l.is_poisoned());
    let g = m.lock().expect_err("the mutex is poisoned");
    assert_eq!(**g.get_ref(), 1);
    drop(g);
    assert!(l.read().is_err() && l.write().is_err() && l.try_read().is_err());
    assert!(matches!(m.try_lock(), Err(lockhound::sync::TryLockError::Poisoned(_))));
    m.clear_poison();
    assert_eq!(*m.lock().unwrap(), 1, "usable again once cleared");
    // A read guard dropped while its thread panics poisons nothing, as in std.
    let r = RwLock::new(0);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _r = r.read().unwrap();
        panic!("while reading");
    }));
    assert!(caught.is_err() && !r.is_poisoned());
    // Consuming a poisoned mutex gives its value inside the error.
    let owned = Mutex::new(5);
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _g = owned.lock().unwrap();
        panic!("while holding it");
    }));
    assert_eq!(owned.into_inner().expect_err("poisoned").into_inner(), 5);
}

#[test]
fn locks_poison_the_same_way_under_every_engine() {
    passes_everywhere(poisoned_by_a_caught_panic);
}

/// A thread that panics while holding the lock, and a caller that unwraps the lock result.
fn unwraps_a_poisoned_lock() {
    let m = Arc::new(Mutex::new(0));
    let m2 = m.clone();
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _g = m2.lock().unwrap();
        panic!("first");
    }));
    let _g = m.lock().expect("the lock is not poisoned");
}

#[test]
fn unwrapping_a_poisoned_lock_is_a_finding_under_every_engine() {
    for backend in ENGINES {
        let finding =
            check(backend).explore(unwraps_a_poisoned_lock).finding.unwrap_or_else(|| panic!("{backend}"));
        assert!(finding.message.contains("the lock is not poisoned"), "{backend}: {}", finding.message);
    }
}

/// A bounded queue of one slot with a condvar for each side, two producers of two items and a
/// consumer: correct, so no schedule may deadlock. (A `notify_one` that let any waiter take
/// the wake-up lost one here: both sides ended blocked on a mutex that no thread held.)
fn two_condvar_handoff() {
    let queue = Arc::new((Mutex::new(std::collections::VecDeque::new()), Condvar::new(), Condvar::new()));
    let producers: Vec<_> = (0..2u32)
        .map(|p| {
            let queue = queue.clone();
            thread::spawn(move || {
                for i in 0..2 {
                    let (items, not_full, not_empty) = &*queue;
                    let mut items = items.lock().unwrap();
                    while items.len() == 1 {
                        items = not_full.wait(items).unwrap();
                    }
                    items.push_back(p * 10 + i);
                    drop(items);
                    not_empty.notify_one();
                }
            })
        })
        .collect();
    let (items, not_full, not_empty) = &*queue;
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let mut guard = items.lock().unwrap();
        loop {
            if let Some(item) = guard.pop_front() {
                drop(guard);
                not_full.notify_one();
                seen.push(item);
                break;
            }
            guard = not_empty.wait(guard).unwrap();
        }
    }
    for p in producers {
        p.join().unwrap();
    }
    seen.sort();
    assert_eq!(seen, [0, 1, 10, 11]);
}

#[test]
fn a_correct_two_condvar_queue_never_deadlocks_under_shuttle() {
    for backend in [Backend::ShuttlePct, Backend::ShuttleRandom, Backend::ShuttleUrw] {
        let report = Check::new().backend(backend).iterations(10_000).explore(two_condvar_handoff);
        assert!(report.passed(), "{backend}: {:?}", report.finding.map(|f| f.message));
    }
}
