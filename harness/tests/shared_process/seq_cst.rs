//! `SeqCst` means sequential consistency under every engine: code that is correct when its
//! `SeqCst` operations run in one total order passes under loom too, which models `SeqCst`
//! loads and stores more weakly on its own (its README, *Unsupported features*), while the
//! same algorithms with weaker orderings, or with a bug, still fail. Store buffering, IRIW and
//! Peterson's lock are the litmus tests.

use crate::facade_support;

use facade_support::{check, found_by, passes_on_every_engine, passes_on_every_fair_engine};
use lockhound::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering, Ordering::*};
use lockhound::sync::Arc;
use lockhound::{thread, Backend, FindingKind};

/// Store buffering: each thread stores to one atomic and loads the other. Both loads reading
/// 0 needs a load to read a value another store had already replaced in the total order.
fn store_buffering(store: Ordering, load: Ordering, fenced: bool) {
    let x = Arc::new(AtomicUsize::new(0));
    let y = Arc::new(AtomicUsize::new(0));
    let (x2, y2) = (x.clone(), y.clone());
    let t = thread::spawn(move || {
        y2.store(1, store);
        if fenced {
            fence(SeqCst);
        }
        x2.load(load)
    });
    x.store(1, store);
    if fenced {
        fence(SeqCst);
    }
    let r0 = y.load(load);
    let r1 = t.join().unwrap();
    assert!(r0 == 1 || r1 == 1, "both loads read 0");
}

#[test]
fn store_buffering_with_seq_cst_operations_passes() {
    passes_on_every_engine(|| store_buffering(SeqCst, SeqCst, false));
}

#[test]
fn store_buffering_with_relaxed_operations_and_seq_cst_fences_passes() {
    passes_on_every_engine(|| store_buffering(Relaxed, Relaxed, true));
}

#[test]
fn store_buffering_fails_under_loom_when_a_load_is_weaker_than_seq_cst() {
    for (store, load) in [(Relaxed, Relaxed), (Release, Acquire), (SeqCst, Acquire), (SeqCst, Relaxed)] {
        let finding = check(Backend::Loom).explore(move || store_buffering(store, load, false)).finding;
        let finding = finding.unwrap_or_else(|| panic!("loom passed {store:?} stores and {load:?} loads"));
        assert_eq!(finding.message, "both loads read 0", "{store:?}/{load:?}");
    }
    // A weak-memory outcome: shuttle, which interleaves, cannot have it.
    let shuttle = check(Backend::ShuttleDfs).explore(|| store_buffering(Relaxed, Relaxed, false));
    assert!(shuttle.passed() && shuttle.exhaustive);
}

/// Independent reads of independent writes: two readers must agree on the order of two
/// stores to different atomics.
fn iriw(store: Ordering, load: Ordering) {
    let x = Arc::new(AtomicBool::new(false));
    let y = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> =
        [x.clone(), y.clone()].into_iter().map(|a| thread::spawn(move || a.store(true, store))).collect();
    let readers: Vec<_> = [(x.clone(), y.clone()), (y.clone(), x.clone())]
        .into_iter()
        .map(|(first, second)| thread::spawn(move || (first.load(load), second.load(load))))
        .collect();
    writers.into_iter().for_each(|w| w.join().unwrap());
    let seen: Vec<(bool, bool)> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    assert!(seen != [(true, false), (true, false)], "the readers saw the stores in opposite orders");
}

#[test]
fn iriw_with_seq_cst_operations_passes_under_loom() {
    let report = check(Backend::Loom).explore(|| iriw(SeqCst, SeqCst));
    assert!(report.passed(), "{:?}", report.finding.map(|f| f.message));
    assert!(report.exhaustive);
}

#[test]
fn iriw_with_release_stores_and_acquire_loads_fails_under_loom() {
    let finding = check(Backend::Loom).explore(|| iriw(Release, Acquire)).finding;
    let finding = finding.expect("loom lets readers see release stores in opposite orders");
    assert_eq!(finding.message, "the readers saw the stores in opposite orders");
}

/// Peterson's lock for two threads, and a check that no two threads are ever in the critical
/// section at once. `wrong_turn` gives the turn to the thread itself instead of the other one.
fn peterson(store: Ordering, load: Ordering, wrong_turn: bool) {
    let flag = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
    let turn = Arc::new(AtomicUsize::new(0));
    let inside = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..2)
        .map(|me| {
            let (flag, turn, inside) = (flag.clone(), turn.clone(), inside.clone());
            thread::spawn(move || {
                let other = 1 - me;
                flag[me].store(true, store);
                turn.store(if wrong_turn { me } else { other }, store);
                while flag[other].load(load) && turn.load(load) == other {
                    thread::yield_now();
                }
                assert_eq!(inside.fetch_add(1, SeqCst), 0, "two threads in the critical section");
                inside.fetch_sub(1, SeqCst);
                flag[me].store(false, store);
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
}

#[test]
fn petersons_lock_with_seq_cst_operations_passes() {
    passes_on_every_fair_engine(|| peterson(SeqCst, SeqCst, false));
}

#[test]
fn petersons_lock_with_release_and_acquire_fails_under_loom_only() {
    let body = || peterson(Release, Acquire, false);
    found_by(Backend::Loom, body, FindingKind::Panic, |m| m.contains("two threads in the critical section"));
    let shuttle = check(Backend::ShuttlePct).iterations(2_000).explore(body);
    assert!(
        shuttle.passed(),
        "interleavings alone keep it correct: {:?}",
        shuttle.finding.map(|f| f.message)
    );
}

#[test]
fn petersons_lock_that_gives_itself_the_turn_fails_under_every_model_checker() {
    let body = || peterson(SeqCst, SeqCst, true);
    for backend in [Backend::Loom, Backend::ShuttlePct, Backend::ShuttleRandom] {
        found_by(backend, body, FindingKind::Panic, |m| m.contains("two threads in the critical section"));
    }
}

#[test]
fn a_seq_cst_store_still_writes_what_it_is_given() {
    // The swap a `SeqCst` store is under loom returns nothing to the caller and writes the
    // value: a later load, `get_mut` and `into_inner` see it.
    passes_on_every_engine(|| {
        let mut a = AtomicUsize::new(5);
        a.store(7, SeqCst);
        assert_eq!(a.load(Relaxed), 7);
        assert_eq!(*a.get_mut(), 7);
        assert_eq!(a.into_inner(), 7);
    });
}

/// Message passing: data, then a flag; a reader that sees the flag must see the data.
fn publish(flag_store: Ordering, flag_load: Ordering) {
    let data = Arc::new(AtomicUsize::new(0));
    let flag = Arc::new(AtomicBool::new(false));
    let (d, f) = (data.clone(), flag.clone());
    let t = thread::spawn(move || {
        d.store(1, Relaxed);
        f.store(true, flag_store);
    });
    if flag.load(flag_load) {
        assert_eq!(data.load(Relaxed), 1, "the flag was seen before the data");
    }
    t.join().unwrap();
}

#[test]
fn a_seq_cst_flag_publishes_relaxed_data() {
    passes_on_every_engine(|| publish(SeqCst, SeqCst));
}

#[test]
fn a_seq_cst_flag_publishes_nothing_to_a_relaxed_load_nor_a_relaxed_flag_to_a_seq_cst_load() {
    // A `SeqCst` store still only releases to a load that acquires, and a `SeqCst` load only
    // acquires from a store that releases: the SeqCst stores' swaps strengthen neither.
    for (store, load) in [(SeqCst, Relaxed), (Relaxed, SeqCst)] {
        let finding = check(Backend::Loom).explore(move || publish(store, load)).finding;
        let finding = finding.unwrap_or_else(|| panic!("loom passed a {store:?} flag read {load:?}"));
        assert!(finding.message.contains("the flag was seen before the data"), "{}", finding.message);
    }
}
