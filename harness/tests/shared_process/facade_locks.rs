//! The facade's `Mutex` and `RwLock` have std's `get_mut`, `into_inner`, `Default`, `From` and
//! `Debug` under loom, shuttle and real threads, and their `Debug` is never a scheduling point.

use crate::facade_support;

use facade_support::{check, passes_on_every_engine};
use lockhound::sync::{Arc, Mutex, RwLock};
use lockhound::{thread, Backend};

fn exclusive_access_and_conversions() {
    let mut m = Mutex::new(vec![1]);
    m.get_mut().unwrap().push(2);
    assert_eq!(m.into_inner().unwrap(), [1, 2]);
    let mut l = RwLock::new(String::from("a"));
    l.get_mut().unwrap().push('b');
    assert_eq!(*l.read().unwrap(), "ab");
    assert_eq!(l.into_inner().unwrap(), "ab");
    assert_eq!(*Mutex::<u8>::default().lock().unwrap(), 0);
    assert_eq!(*RwLock::<u8>::default().read().unwrap(), 0);
    assert_eq!(*Mutex::from(3).lock().unwrap(), 3);
    assert_eq!(*RwLock::from(4).write().unwrap(), 4);
    // Two threads, then the value taken back out of the shared lock.
    let shared = Arc::new(RwLock::new(0));
    let s = shared.clone();
    let t = thread::spawn(move || *s.write().unwrap() += 1);
    *shared.write().unwrap() += 1;
    t.join().unwrap();
    let mut alone = Arc::try_unwrap(shared).expect("the only handle");
    assert_eq!(*alone.get_mut().unwrap(), 2);
}

#[test]
fn get_mut_into_inner_default_and_from_on_every_engine() {
    passes_on_every_engine(exclusive_access_and_conversions);
}

/// What `Debug` shows of a lock, free and held, and of the guards.
fn shown() -> [String; 6] {
    let m = Mutex::new(5);
    let free = format!("{m:?}");
    let guard = m.lock().unwrap();
    let held = format!("{m:?}");
    let guard_shown = format!("{guard:?} {guard}");
    drop(guard);
    let l = RwLock::new(6);
    let read = l.read().unwrap();
    let read_held = format!("{l:?} {read:?} {read}");
    drop(read);
    let write = l.write().unwrap();
    let write_held = format!("{l:?} {write:?} {write}");
    drop(write);
    [free, held, guard_shown, read_held, write_held, format!("{l:?}")]
}

/// What std shows for `shown`'s locks.
const STD_LIKE: [&str; 6] = [
    "Mutex { data: 5, poisoned: false, .. }",
    "Mutex { data: \"<locked>\", poisoned: false, .. }",
    "5 5",
    "RwLock { data: 6, poisoned: false, .. } 6 6",
    "RwLock { data: <locked>, poisoned: false, .. } 6 6",
    "RwLock { data: 6, poisoned: false, .. }",
];

#[test]
fn debug_shows_what_std_shows_where_it_can_be_read_without_a_scheduling_point() {
    let std_like = STD_LIKE;
    // std's own output, for the record: the facade matches it on real threads and shuttle.
    let m = std::sync::Mutex::new(5);
    assert_eq!(format!("{m:?}"), std_like[0]);
    let _g = m.lock().unwrap();
    assert_eq!(format!("{m:?}"), std_like[1]);
    for backend in [Backend::ShuttleRandom, Backend::Stress] {
        let report = check(backend).iterations(1).explore(|| {
            let seen = shown();
            assert_eq!(seen, STD_LIKE.map(String::from), "as std");
        });
        assert!(report.passed(), "{backend}: {:?}", report.finding.map(|f| f.message));
    }
    // Under loom the data cannot be read without a scheduling point.
    let report = check(Backend::Loom).iterations(1).explore(|| {
        let seen = shown();
        let unread = "data: <unread under loom>, poisoned: false, .. }";
        assert_eq!(seen[0], format!("Mutex {{ {unread}"));
        assert_eq!(seen[1], format!("Mutex {{ {unread}"));
        assert_eq!(seen[2], "5 5");
        assert_eq!(seen[3], format!("RwLock {{ {unread} 6 6"));
    });
    assert!(report.passed(), "loom: {:?}", report.finding.map(|f| f.message));
}

/// Two threads share a mutex and a lock; one of them prints both between its operations when
/// `print` is set.
fn two_threads(print: bool) {
    let m = Arc::new(Mutex::new(0));
    let l = Arc::new(RwLock::new(0));
    let (m2, l2) = (m.clone(), l.clone());
    let t = thread::spawn(move || {
        *m2.lock().unwrap() += 1;
        *l2.write().unwrap() += 1;
    });
    *m.lock().unwrap() += 1;
    if print {
        std::hint::black_box(format!("{m:?} {l:?}"));
    }
    *l.write().unwrap() += 1;
    t.join().unwrap();
}

#[test]
fn debug_adds_no_scheduling_point() {
    fn quiet() {
        two_threads(false)
    }
    fn printing() {
        two_threads(true)
    }
    for backend in [Backend::Loom, Backend::ShuttleDfs] {
        let run = |body: fn()| {
            let report = check(backend).preemption_bound(None).explore(body);
            assert!(report.passed() && report.exhaustive, "{backend}: {report:?}");
            report.executions
        };
        assert_eq!(run(printing), run(quiet), "{backend}: the same schedules with Debug as without");
    }
}
