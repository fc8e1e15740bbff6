//! `lockhound::hint` under loom, shuttle and real threads: a spin loop on `spin_loop` lets the
//! awaited thread run under the model checkers, and the unchecked promises are checked.

use crate::facade_support;

use facade_support::{check, passes_on_every_fair_engine};
use lockhound::sync::atomic::{AtomicBool, Ordering::*};
use lockhound::sync::Arc;
use lockhound::{hint, thread, Backend, FindingKind};

fn spin_until_set() {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let t = thread::spawn(move || f.store(true, Release));
    while !flag.load(Acquire) {
        hint::spin_loop();
    }
    assert_eq!(hint::black_box(1), 1);
    t.join().unwrap();
}

#[test]
fn a_spin_loop_on_spin_loop_ends_on_every_fair_engine() {
    passes_on_every_fair_engine(spin_until_set);
}

#[test]
fn reaching_unreachable_unchecked_or_a_false_assert_unchecked_is_a_finding_on_every_engine() {
    fn unreachable() {
        // SAFETY: not at all: this is what is checked.
        unsafe { hint::unreachable_unchecked() }
    }
    fn false_assumption() {
        let n = hint::black_box(3);
        // SAFETY: not at all: this is what is checked.
        unsafe { hint::assert_unchecked(n == 4) };
    }
    for backend in [Backend::Loom, Backend::ShuttleRandom, Backend::Stress] {
        for (body, says) in [
            (unreachable as fn(), "unreachable_unchecked was reached"),
            (false_assumption, "assert_unchecked"),
        ] {
            let finding = check(backend).iterations(1).explore(body).finding.expect("a finding");
            assert_eq!(finding.kind, FindingKind::Panic, "{backend}: {}", finding.message);
            assert!(finding.message.contains(says), "{backend}: {}", finding.message);
        }
    }
}
