//! Panics through the facade, on every engine: a panic the body catches is not a finding (and
//! leaves no lock held), one that escapes a thread is, with its own message and place; a panic
//! in a destructor while another unwinds aborts with both messages shown; and an object kept
//! in a static and used by a later model-checked execution panics with the facade's message.

use lockhound::sync::{Arc, Condvar, Mutex};
use lockhound::{thread, Backend, Check, FindingKind};
use std::time::Duration;

const ENGINES: [Backend; 3] = [Backend::Loom, Backend::ShuttleRandom, Backend::Stress];

fn check(backend: Backend) -> Check {
    Check::new().backend(backend).iterations(500).time_limit(Duration::from_secs(60))
}

/// issue 18, item 6: a body that catches a panic of its own.
fn catches_its_own_panic() {
    let caught = std::panic::catch_unwind(|| panic!("handled by the body"));
    assert!(caught.is_err());
}

/// issue 18, item 6: the panic is caught while a lock is held; the body then takes the lock
/// again, and another thread needs it too.
fn catches_a_panic_while_holding_a_lock() {
    let m = Arc::new(Mutex::new(0));
    let theirs = m.clone();
    let t = thread::spawn(move || *theirs.lock().unwrap_or_else(|p| p.into_inner()) += 1);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut g = m.lock().unwrap_or_else(|p| p.into_inner());
        *g += 1;
        panic!("handled by the body, lock held");
    }));
    assert!(caught.is_err());
    *m.lock().unwrap_or_else(|p| p.into_inner()) += 1;
    t.join().unwrap();
    assert_eq!(*m.lock().unwrap_or_else(|p| p.into_inner()), 3);
}

#[test]
fn a_caught_panic_is_no_finding_on_any_engine() {
    for body in [catches_its_own_panic as fn(), catches_a_panic_while_holding_a_lock] {
        for backend in ENGINES {
            let report = check(backend).explore(body);
            assert!(report.passed(), "{backend}: {:?}", report.finding.map(|f| f.message));
        }
    }
}

/// A spawned thread panics; nobody catches it.
fn a_thread_panics() {
    let t = thread::spawn(|| panic!("escaped the thread"));
    let _ = t.join();
}

#[test]
fn a_panic_that_escapes_a_thread_is_a_finding_with_its_message_and_place() {
    for backend in ENGINES {
        let finding = check(backend).explore(a_thread_panics).finding.unwrap_or_else(|| panic!("{backend}"));
        assert_eq!(finding.kind, FindingKind::Panic);
        assert_eq!(finding.message, "escaped the thread", "{backend}");
        let at = finding.location.unwrap_or_default();
        assert!(at.contains("facade_threads_panics.rs"), "{backend}: {at}");
    }
}

/// A panic caught first, then a failure of its own: the finding is the failure.
fn caught_then_fails() {
    let _ = std::panic::catch_unwind(|| panic!("the caught one"));
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let theirs = pair.clone();
    let t = thread::spawn(move || *theirs.0.lock().unwrap() = true);
    let set = *pair.0.lock().unwrap();
    t.join().unwrap();
    assert!(set, "the real failure");
}

#[test]
fn a_caught_panic_never_stands_for_a_later_failure() {
    for backend in [Backend::Loom, Backend::ShuttleRandom] {
        let finding =
            check(backend).explore(caught_then_fails).finding.unwrap_or_else(|| panic!("{backend}"));
        assert_eq!(finding.message, "the real failure", "{backend}");
    }
}

/// A value whose destructor panics.
struct PanicsInDrop;

impl Drop for PanicsInDrop {
    fn drop(&mut self) {
        panic!("the destructor's panic");
    }
}

/// issue 18, item 8: a destructor panics while the body's panic unwinds, which aborts.
fn panics_in_drop_while_unwinding() {
    let _bomb = PanicsInDrop;
    panic!("the body's panic");
}

const CHILD: &str = "LOCKHOUND_TEST_ABORTING_BACKEND";

#[test]
fn an_abort_from_a_panic_in_drop_says_what_both_panics_were() {
    if let Ok(backend) = std::env::var(CHILD) {
        // The child: this aborts the process.
        let _ = check(backend.parse().unwrap()).explore(panics_in_drop_while_unwinding);
        unreachable!("the run above aborts");
    }
    for backend in ENGINES {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "an_abort_from_a_panic_in_drop_says_what_both_panics_were", "--nocapture"])
            .env(CHILD, backend.name())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{backend}: the child did not abort");
        assert!(stderr.contains("the body's panic"), "{backend}: {stderr}");
        assert!(stderr.contains("the destructor's panic"), "{backend}: {stderr}");
    }
}

/// A facade mutex kept in a static and used again by a later execution.
static KEPT: std::sync::Mutex<Option<Mutex<u32>>> = std::sync::Mutex::new(None);

fn keeps_a_mutex_in_a_static() {
    let mut kept = KEPT.lock().unwrap_or_else(|p| p.into_inner());
    match &*kept {
        None => *kept = Some(Mutex::new(0)),
        Some(m) => *m.lock().unwrap() += 1,
    }
}

#[test]
fn an_object_kept_in_a_static_panics_in_the_next_model_checked_execution() {
    for backend in [Backend::Loom, Backend::ShuttleRandom] {
        *KEPT.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let finding =
            check(backend).explore(keeps_a_mutex_in_a_static).finding.unwrap_or_else(|| panic!("{backend}"));
        assert!(
            finding.message.contains("used outside the execution that created it"),
            "{backend}: {}",
            finding.message
        );
        assert_eq!(finding.executions, 2, "{backend}: the second execution is the first to reuse it");
    }
    // On real threads an object is real, and one kept across iterations just works.
    *KEPT.lock().unwrap_or_else(|p| p.into_inner()) = None;
    assert!(check(Backend::Stress).iterations(3).explore(keeps_a_mutex_in_a_static).passed());
    *KEPT.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

/// A panic that escapes while a write lock is held: the failed execution's guard is never
/// released, not even when the OS thread that explored it ends (loom is gone by then).
fn panics_holding_a_write_lock() {
    // Another thread keeps the lock alive (it waits for it), so the lock outlives the failure.
    let lock = Arc::new(lockhound::sync::RwLock::new(0));
    let _w = lock.write().unwrap();
    let theirs = lock.clone();
    let _waiter = thread::spawn(move || *theirs.write().unwrap() += 1);
    thread::yield_now();
    panic!("escapes with the lock held");
}

#[test]
fn a_failed_execution_leaves_nothing_to_drop_when_its_os_thread_ends() {
    for backend in [Backend::Loom, Backend::ShuttleRandom] {
        let explored =
            std::thread::spawn(move || check(backend).explore(panics_holding_a_write_lock).finding);
        let finding = explored.join().expect("the exploring thread ended cleanly").expect("a finding");
        assert_eq!(finding.message, "escapes with the lock held", "{backend}");
    }
}
