//! Outside any run, facade objects are real ones (tracked locks, std's threads), so a library
//! built on the facade works in a program and in ordinary tests; one of them used inside a
//! model-checked execution is refused with the facade's message, since the checker could
//! neither explore nor see what it does.

use lockhound::sync::atomic::{AtomicUsize, Ordering};
use lockhound::sync::{mpsc, Arc, Condvar, Mutex, RwLock};
use lockhound::{thread, Backend, Check};
use std::sync::OnceLock;

#[test]
fn outside_a_run_the_facade_is_real_threads_and_locks() {
    let total = Arc::new(Mutex::new(0u64));
    let ready = Arc::new((Mutex::new(false), Condvar::new()));
    let seen = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let (total, ready, seen, tx) = (total.clone(), ready.clone(), seen.clone(), tx.clone());
            thread::spawn(move || {
                let (flag, cv) = &*ready;
                let mut go = flag.lock().unwrap();
                while !*go {
                    go = cv.wait(go).unwrap();
                }
                drop(go);
                *total.lock().unwrap() += i;
                seen.fetch_add(1, Ordering::SeqCst);
                tx.send(i).unwrap();
            })
        })
        .collect();
    drop(tx);
    *ready.0.lock().unwrap() = true;
    ready.1.notify_all();
    for w in workers {
        w.join().unwrap();
    }
    let mut sent: Vec<u64> = rx.iter().collect();
    sent.sort();
    assert_eq!(sent, [0, 1, 2, 3]);
    assert_eq!(*total.lock().unwrap(), 6);
    assert_eq!(seen.load(Ordering::SeqCst), 4);
    let map = RwLock::new(vec![1]);
    map.write().unwrap().push(2);
    assert_eq!(*map.read().unwrap(), [1, 2]);
}

#[test]
fn outside_a_run_a_thread_panic_is_an_ordinary_join_error() {
    let handle = thread::spawn(|| panic!("a worker failed"));
    let payload = handle.join().unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"a worker failed"));
}

/// A mutex made outside any run, as a library's global would be.
fn global() -> &'static Mutex<u32> {
    static GLOBAL: OnceLock<Mutex<u32>> = OnceLock::new();
    GLOBAL.get_or_init(|| Mutex::new(0))
}

#[test]
fn a_real_object_inside_a_model_checked_run_is_refused_with_the_facades_message() {
    *global().lock().unwrap() += 1;
    for backend in [Backend::Loom, Backend::ShuttleRandom] {
        let report = Check::new().backend(backend).iterations(10).explore(|| {
            let t = thread::spawn(|| ());
            *global().lock().unwrap() += 1;
            t.join().unwrap();
        });
        let finding = report.finding.unwrap_or_else(|| panic!("{backend}: used silently"));
        assert!(finding.message.contains("created outside this"), "{backend}: {}", finding.message);
    }
    // On real threads it is just a global lock.
    let report =
        Check::new().backend(Backend::Stress).iterations(3).explore(|| *global().lock().unwrap() += 1);
    assert!(report.passed(), "{:?}", report.finding);
}
