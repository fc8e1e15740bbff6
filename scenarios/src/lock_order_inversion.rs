//! `lock-order-inversion`: the classic ABBA. Two code paths take the same two mutexes in
//! opposite orders; when they run at once, each holds the lock the other takes next.
//!
//! Under loom or shuttle the deadlocking interleaving is found directly. On real threads most
//! runs complete, and the lock-holder tracker still reports the cycle in its lock-order graph
//! (lockdep's idea: the order of acquisitions predicts the deadlock, the timing only decides
//! whether this run hits it).

use lockhound::scenario::{Scenario, Variant};
use lockhound::sync::{Arc, Mutex};
use lockhound::thread;

/// The scenario, as `lockhound list` shows it and the gate runs it.
pub fn scenario() -> Scenario {
    Scenario::new("lock-order-inversion")
        .summary("two code paths take the same two mutexes in opposite orders (ABBA deadlock)")
        .provenance(
            "the Linux kernel's runtime locking correctness validator (lockdep), \
            Documentation/locking/lockdep-design.rst: the lock-class dependency graph and \
            its ABBA example",
            "Path 1 locks A then B, path 2 locks B then A. If path 1 holds A while path 2 holds B, \
            each waits forever for the other's lock. lockdep reports the inverted dependency \
            the first time both orders have been seen, even if they never overlapped.",
            "Define one global lock order (A before B) and take the locks in that order on every \
            path.",
        )
        .with(
            Variant::must_fail("buggy", buggy)
                .description("a transfer path locks `from` then `to`, an audit path locks `to` then `from`"),
        )
        .with(Variant::must_pass("fixed", fixed).description("both paths lock `from` then `to`"))
}

/// Two accounts, each behind its own mutex.
struct Accounts {
    from: Mutex<u64>,
    to: Mutex<u64>,
}

fn accounts() -> Arc<Accounts> {
    Arc::new(Accounts { from: Mutex::new(100), to: Mutex::new(0) })
}

/// Moves one unit, holding both locks: `from` first.
fn transfer(acc: &Accounts) {
    let mut from = acc.from.lock().unwrap();
    let mut to = acc.to.lock().unwrap();
    *from -= 1;
    *to += 1;
}

/// Reads the total, holding both locks: `to` first (the inversion).
fn audit_inverted(acc: &Accounts) -> u64 {
    let to = acc.to.lock().unwrap();
    let from = acc.from.lock().unwrap();
    *from + *to
}

/// Reads the total in the global order.
fn audit_ordered(acc: &Accounts) -> u64 {
    let from = acc.from.lock().unwrap();
    let to = acc.to.lock().unwrap();
    *from + *to
}

fn run(audit: fn(&Accounts) -> u64) {
    let acc = accounts();
    let acc2 = acc.clone();
    let t = thread::spawn(move || transfer(&acc2));
    assert_eq!(audit(&acc), 100, "money created or lost");
    t.join().unwrap();
    assert_eq!(audit(&acc), 100, "money created or lost");
}

fn buggy() {
    run(audit_inverted)
}

fn fixed() {
    run(audit_ordered)
}
