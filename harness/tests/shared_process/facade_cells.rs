//! `lockhound::cell::Cell` and `UnsafeCell::get`/`get_mut` (loom's tracked pointers) under loom,
//! shuttle and real threads: std's and loom's results, and the data-race checks of both model
//! checkers on every access, including an access through a pointer that is still open when the
//! thread publishes the cell.

use crate::facade_support;

use facade_support::{found_by, passes_on_every_engine, MODEL_CHECKERS};
use lockhound::cell::{Cell, UnsafeCell};
use lockhound::sync::atomic::{AtomicBool, Ordering::*};
use lockhound::sync::{Arc, Mutex};
use lockhound::{thread, Backend, FindingKind};

fn cell_ops() {
    let c = Cell::new(1);
    assert_eq!(c.replace(2), 1);
    c.set(3);
    c.update(|v| v * 10);
    assert_eq!(c.get(), 30);
    let d = Cell::named("other", 7);
    c.swap(&d);
    assert_eq!((c.get(), d.get()), (7, 30));
    c.swap(&c);
    assert_eq!(format!("{c:?}"), "Cell { value: 7 }");
    assert!(c < d && c == c.clone());
    let mut e = Cell::from(vec![1]);
    e.get_mut().push(2);
    assert_eq!(e.take(), [1, 2]);
    assert_eq!(e.into_inner(), Vec::<i32>::new());
    assert_eq!(Cell::<u8>::default().get(), 0);
}

/// A cell shared the way user code shares one: `Sync` by the author's promise.
struct Shared<T>(T);
// SAFETY: deliberately unchecked: whether the accesses are ordered is what these tests ask.
unsafe impl<T> Sync for Shared<T> {}

/// A counter in a `Cell`, each update under one mutex: correct.
fn cell_under_a_mutex() {
    let shared = Arc::new((Shared(Cell::named("count", 0)), Mutex::new(())));
    let s = shared.clone();
    let t = thread::spawn(move || {
        let _held = s.1.lock().unwrap();
        s.0 .0.update(|v| v + 1);
    });
    {
        let _held = shared.1.lock().unwrap();
        shared.0 .0.update(|v| v + 1);
    }
    t.join().unwrap();
    assert_eq!(shared.0 .0.get(), 2);
}

#[test]
fn cell_works_like_std_and_loom_on_every_engine() {
    passes_on_every_engine(cell_ops);
    passes_on_every_engine(cell_under_a_mutex);
}

/// The same counter without the mutex: the two updates race.
fn cell_without_a_mutex() {
    let shared = Arc::new(Shared(Cell::named("count", 0)));
    let s = shared.clone();
    let t = thread::spawn(move || s.0.update(|v| v + 1));
    shared.0.update(|v| v + 1);
    t.join().unwrap();
}

#[test]
fn a_cell_shared_without_synchronization_is_a_data_race_for_every_model_checker() {
    for backend in MODEL_CHECKERS {
        found_by(backend, cell_without_a_mutex, FindingKind::DataRace, |_| true);
    }
}

/// Reads through `get`, writes through `get_mut`, with a Release/Acquire handoff between the
/// threads: correct.
fn pointers_after_a_handoff() {
    let shared = Arc::new((Shared(UnsafeCell::named("slot", 0u64)), AtomicBool::new(false)));
    let s = shared.clone();
    let t = thread::spawn(move || {
        let p = s.0 .0.get_mut();
        // SAFETY: the only access until the flag is set.
        unsafe { *p.deref() = 7 };
        p.with(|raw| assert!(!raw.is_null()));
        drop(p);
        s.1.store(true, Release);
    });
    if shared.1.load(Acquire) {
        let p = shared.0 .0.get();
        // SAFETY: ordered after the write by the flag.
        assert_eq!(unsafe { *p.deref() }, 7);
        assert_eq!(p.with(|raw| unsafe { *raw }), 7);
    }
    t.join().unwrap();
    let p = shared.0 .0.get();
    // SAFETY: the other thread is joined.
    assert_eq!(unsafe { *p.deref() }, 7);
    assert!(format!("{p:?}").starts_with("ConstPtr(0x"));
}

#[test]
fn tracked_pointers_work_on_every_engine() {
    passes_on_every_engine(pointers_after_a_handoff);
}

/// A write through a pointer while the other thread reads, no synchronization at all.
fn pointers_without_synchronization() {
    let shared = Arc::new(Shared(UnsafeCell::named("slot", 0u64)));
    let s = shared.clone();
    let t = thread::spawn(move || {
        let p = s.0.get_mut();
        // SAFETY: deliberately racy.
        unsafe { *p.deref() = 7 };
    });
    let p = shared.0.get();
    // SAFETY: deliberately racy.
    let _ = unsafe { *p.deref() };
    drop(p);
    t.join().unwrap();
}

#[test]
fn an_unsynchronized_pointer_access_is_a_data_race_for_every_model_checker() {
    for backend in MODEL_CHECKERS {
        let finding = found_by(backend, pointers_without_synchronization, FindingKind::DataRace, |_| true);
        if backend != Backend::Loom {
            assert!(finding.message.starts_with("data race on slot: "), "{}", finding.message);
            assert_eq!(finding.executions, 1, "{backend}: found in the first execution");
        }
    }
}

/// The reader takes its pointer, then publishes that it is done with the slot, then still
/// reads through the pointer: the writer, which waits for the flag, writes while the read is
/// going on. At the pointer's creation the accesses are ordered; only its end is not. (No
/// schedule puts the write between the store and the read itself, since a store is a
/// scheduling point only before it: the race is in the happens-before order alone, which
/// shuttle's check sees at the pointer's drop. loom's clocks do not advance between the store
/// and the drop, so loom does not report it.)
fn read_still_open_after_publishing() {
    let shared = Arc::new((Shared(UnsafeCell::named("slot", 0u64)), AtomicBool::new(false)));
    let s = shared.clone();
    let t = thread::spawn(move || {
        if s.1.load(Acquire) {
            let p = s.0 .0.get_mut();
            // SAFETY: deliberately racy: the reader's pointer is still open.
            unsafe { *p.deref() = 7 };
        }
    });
    let p = shared.0 .0.get();
    shared.1.store(true, Release);
    // SAFETY: deliberately racy (see above).
    let _ = unsafe { *p.deref() };
    drop(p);
    t.join().unwrap();
}

#[test]
fn a_read_through_a_pointer_still_open_after_publishing_is_a_data_race() {
    for backend in [Backend::ShuttleRandom, Backend::ShuttlePct, Backend::ShuttleDfs] {
        let finding = found_by(backend, read_still_open_after_publishing, FindingKind::DataRace, |_| true);
        assert!(finding.message.contains("a write by thread 1"), "{backend}: {}", finding.message);
        assert!(finding.message.contains("a read by thread 0"), "{backend}: {}", finding.message);
    }
}

#[test]
fn a_pointer_closed_before_publishing_is_not_a_race() {
    fn closed_first() {
        let shared = Arc::new((Shared(UnsafeCell::named("slot", 0u64)), AtomicBool::new(false)));
        let s = shared.clone();
        let t = thread::spawn(move || {
            if s.1.load(Acquire) {
                // SAFETY: the reader's pointer was dropped before the flag was set.
                unsafe { *s.0 .0.get_mut().deref() = 7 };
            }
        });
        let p = shared.0 .0.get();
        // SAFETY: no write before the flag.
        let _ = unsafe { *p.deref() };
        drop(p);
        shared.1.store(true, Release);
        t.join().unwrap();
    }
    passes_on_every_engine(closed_first);
}
