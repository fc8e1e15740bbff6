//! The facade's atomics have std's operations and std's results under loom, shuttle and real
//! threads: every width std has on 64-bit targets, `AtomicBool` and `AtomicPtr`. Their
//! read-modify-writes are atomic (a model checker proves it where a load and a store would
//! lose an update), `get_mut` hands out the value under loom too, `Debug` shows the value, and
//! a trace shows pointers as addresses.

use crate::facade_support;

use facade_support::{
    check, found_by, found_by_every_model_checker, passes_on_every_engine, passes_on_every_fair_engine,
    MODEL_CHECKERS,
};
use lockhound::sync::atomic::{
    AtomicBool, AtomicI16, AtomicI32, AtomicI64, AtomicI8, AtomicIsize, AtomicPtr, AtomicU16, AtomicU32,
    AtomicU64, AtomicU8, AtomicUsize, Ordering::*,
};
use lockhound::sync::Arc;
use lockhound::trace::{Scalar, Value};
use lockhound::{thread, Backend, FindingKind};

/// Runs `op` on the facade atomic `f` and on std's `s`: same result, same value after.
macro_rules! same {
    ($f:ident, $s:ident, $op:ident($($arg:expr),*)) => {
        assert_eq!($f.$op($($arg),*), $s.$op($($arg),*), stringify!($op));
        assert_eq!($f.load(SeqCst), $s.load(SeqCst), concat!("after ", stringify!($op)));
    };
}

/// Runs every operation std has on the facade atomic and on std's, side by side, and compares
/// each result; then the conversions and `Debug`.
macro_rules! same_as_std {
    ($test:ident, $facade:ident, $t:ty) => {
        fn $test() {
            let (a, b): ($t, $t) = (100 as $t, 37 as $t);
            let minus_three = (0 as $t).wrapping_sub(3 as $t);
            let f = $facade::new(a);
            let s = std::sync::atomic::$facade::new(a);
            same!(f, s, fetch_add(b, SeqCst));
            same!(f, s, fetch_sub(minus_three, AcqRel));
            same!(f, s, fetch_and(b, Release));
            same!(f, s, fetch_nand(b, Relaxed));
            same!(f, s, fetch_or(a, SeqCst));
            same!(f, s, fetch_xor(b, Acquire));
            same!(f, s, fetch_max(minus_three, SeqCst));
            same!(f, s, fetch_min(b, SeqCst));
            same!(f, s, fetch_max(a, SeqCst));
            same!(f, s, swap(b, SeqCst));
            same!(f, s, compare_exchange(a, b, SeqCst, SeqCst));
            same!(f, s, compare_exchange(b, a, SeqCst, Relaxed));
            same!(f, s, compare_exchange_weak(a, minus_three, AcqRel, Acquire));
            same!(f, s, fetch_update(SeqCst, SeqCst, |v| Some(v.wrapping_mul(3 as $t))));
            same!(f, s, fetch_update(SeqCst, SeqCst, |_| None));
            same!(f, s, try_update(SeqCst, Acquire, |v| (v != b).then_some(b)));
            same!(f, s, update(SeqCst, SeqCst, |v| v.wrapping_add(1 as $t)));
            f.store(a, Release);
            s.store(a, Release);
            same!(f, s, load(Acquire));
            // The deprecated form loom and shuttle still have: the old value either way.
            assert_eq!(f.compare_and_swap(a, b, SeqCst), a);
            assert_eq!(f.compare_and_swap(a, minus_three, SeqCst), b);

            let mut f = f;
            *f.get_mut() = minus_three;
            assert_eq!(f.load(SeqCst), minus_three, "a get_mut change is seen by the next load");
            assert_eq!(f.with_mut(|v| std::mem::replace(v, a)), minus_three);
            assert_eq!(format!("{f:?}"), format!("{a:?}"), "Debug shows the value, as std's");
            assert_eq!(f.into_inner(), a);

            assert_eq!($facade::default().into_inner(), 0 as $t);
            assert_eq!($facade::from(b).load(SeqCst), b);
            let named = $facade::named("counter", a);
            named.store(b, SeqCst);
            assert_eq!(format!("{named:?}"), format!("{b:?}"));
            // SAFETY: no other thread exists.
            assert_eq!(unsafe { named.unsync_load() }, b);
        }
    };
}

same_as_std!(u8_ops, AtomicU8, u8);
same_as_std!(i8_ops, AtomicI8, i8);
same_as_std!(u16_ops, AtomicU16, u16);
same_as_std!(i16_ops, AtomicI16, i16);
same_as_std!(u32_ops, AtomicU32, u32);
same_as_std!(i32_ops, AtomicI32, i32);
same_as_std!(u64_ops, AtomicU64, u64);
same_as_std!(i64_ops, AtomicI64, i64);
same_as_std!(usize_ops, AtomicUsize, usize);
same_as_std!(isize_ops, AtomicIsize, isize);

fn bool_ops() {
    let f = AtomicBool::new(false);
    let s = std::sync::atomic::AtomicBool::new(false);
    same!(f, s, fetch_not(SeqCst));
    same!(f, s, fetch_and(true, SeqCst));
    same!(f, s, fetch_nand(true, AcqRel));
    same!(f, s, fetch_or(false, Release));
    same!(f, s, fetch_xor(true, Relaxed));
    same!(f, s, fetch_not(Acquire));
    same!(f, s, swap(true, SeqCst));
    same!(f, s, compare_exchange(true, false, SeqCst, SeqCst));
    same!(f, s, compare_exchange_weak(true, false, SeqCst, SeqCst));
    same!(f, s, fetch_update(SeqCst, SeqCst, |v| Some(!v)));
    same!(f, s, update(SeqCst, SeqCst, |v| !v));
    let mut f = f;
    *f.get_mut() = true;
    assert!(f.load(SeqCst));
    assert_eq!(format!("{f:?}"), "true");
    assert!(f.into_inner());
    assert!(!AtomicBool::default().into_inner());
}

fn every_integer_width() {
    u8_ops();
    i8_ops();
    u16_ops();
    i16_ops();
    u32_ops();
    i32_ops();
    u64_ops();
    i64_ops();
    usize_ops();
    isize_ops();
    bool_ops();
}

#[test]
fn every_atomic_type_gives_std_results_on_every_engine() {
    passes_on_every_engine(every_integer_width);
}

/// Pointer operations on a pointer into an array, compared with std's `AtomicPtr`, and the
/// pointer still reads the array afterwards (its provenance kept: no cast through `usize`).
fn pointer_ops() {
    let mut slots = [10u64, 11, 12, 13];
    let base = slots.as_mut_ptr();
    let f = AtomicPtr::new(base);
    let s = std::sync::atomic::AtomicPtr::new(base);
    same!(f, s, fetch_ptr_add(2, SeqCst));
    same!(f, s, fetch_ptr_sub(1, AcqRel));
    same!(f, s, fetch_byte_add(16, Release));
    same!(f, s, fetch_byte_sub(8, SeqCst));
    // A tag in the low bits, as lock-free structures keep one; u64 leaves three bits free.
    same!(f, s, fetch_or(0b101, SeqCst));
    same!(f, s, fetch_and(!0b100, Acquire));
    same!(f, s, fetch_xor(0b001, Relaxed));
    same!(f, s, swap(base, SeqCst));
    same!(f, s, compare_exchange(base, base.wrapping_add(3), SeqCst, SeqCst));
    same!(f, s, compare_exchange(base, base, SeqCst, SeqCst));
    same!(f, s, compare_exchange_weak(base.wrapping_add(3), base.wrapping_add(1), SeqCst, Relaxed));
    same!(f, s, fetch_update(SeqCst, SeqCst, |p| Some(p.wrapping_add(1))));
    let p = f.load(SeqCst);
    // SAFETY: `p` points into `slots`, which is alive and not borrowed elsewhere.
    assert_eq!(unsafe { *p }, 12, "the pointer kept its provenance and reads the array");
    assert_eq!(format!("{f:?}"), format!("{p:?}"), "Debug shows the address, as std's");
    assert_eq!(format!("{f:p}"), format!("{p:p}"));
    let mut f = f;
    *f.get_mut() = base;
    assert_eq!(f.into_inner(), base);
    assert!(AtomicPtr::<u64>::default().load(SeqCst).is_null());
}

#[test]
fn atomic_ptr_gives_std_results_and_keeps_provenance_on_every_engine() {
    passes_on_every_engine(pointer_ops);
}

/// Two threads increment through `fetch_update`: never a lost update, in any interleaving.
fn increments_through_fetch_update() {
    let n = Arc::new(AtomicUsize::new(0));
    let m = n.clone();
    let t = thread::spawn(move || m.fetch_update(AcqRel, Acquire, |v| Some(v + 1)).unwrap());
    let mine = n.fetch_update(AcqRel, Acquire, |v| Some(v + 1)).unwrap();
    let theirs = t.join().unwrap();
    assert_ne!(mine, theirs, "each saw the other's increment or none");
    assert_eq!(n.load(SeqCst), 2, "lost update");
}

#[test]
fn fetch_update_is_atomic_on_every_engine() {
    passes_on_every_engine(increments_through_fetch_update);
}

/// A `fetch_update` whose closure ignores the value it is given and installs one computed
/// from an earlier load: the update of the other thread in between is lost.
fn stale_fetch_update() {
    let n = Arc::new(AtomicU16::new(0));
    let m = n.clone();
    let t = thread::spawn(move || {
        m.fetch_add(1, SeqCst);
    });
    let seen = n.load(SeqCst);
    n.fetch_update(SeqCst, SeqCst, |_| Some(seen + 1)).unwrap();
    t.join().unwrap();
    assert_eq!(n.load(SeqCst), 2, "lost update");
}

#[test]
fn a_stale_fetch_update_is_found_by_every_model_checker() {
    found_by_every_model_checker(stale_fetch_update, FindingKind::Panic, |m| m.contains("lost update"));
}

/// A value changed through `get_mut` goes with the atomic to the thread it is moved to, and
/// comes back with it; `with_mut` changes it before it is shared between threads.
fn get_mut_and_with_mut_before_sharing() {
    let mut n = AtomicUsize::new(1);
    *n.get_mut() += 40;
    let n = thread::spawn(move || {
        assert_eq!(n.fetch_add(1, Relaxed), 41);
        n
    })
    .join()
    .unwrap();
    let mut n = n;
    assert_eq!(*n.get_mut(), 42);
    n.with_mut(|v| *v += 100);
    let n = Arc::new(n);
    let m = n.clone();
    let t = thread::spawn(move || m.fetch_add(1, SeqCst));
    let seen = n.load(Acquire);
    assert!(seen == 142 || seen == 143, "saw {seen}");
    assert_eq!(t.join().unwrap(), 142, "the other thread added to the value with_mut set");
    assert_eq!(n.load(SeqCst), 143);
}

#[test]
fn get_mut_and_with_mut_changes_reach_other_threads_on_every_engine() {
    passes_on_every_engine(get_mut_and_with_mut_before_sharing);
}

/// A value read through `get_mut` after the other thread is joined is the other thread's.
fn get_mut_after_join() {
    let n = Arc::new(AtomicI64::new(0));
    let m = n.clone();
    thread::spawn(move || m.store(-5, Relaxed)).join().unwrap();
    let mut n = lockhound::sync::Arc::try_unwrap(n).expect("the only handle");
    assert_eq!(*n.get_mut(), -5);
    assert_eq!(format!("{n:?}"), "-5");
}

#[test]
fn get_mut_reads_what_other_threads_stored_on_every_engine() {
    passes_on_every_engine(get_mut_after_join);
}

/// loom's `unsync_load` of an atomic another thread may still store to: loom reports it.
fn unsync_load_racing_a_store() {
    let n = Arc::new(AtomicUsize::new(0));
    let m = n.clone();
    let t = thread::spawn(move || m.store(1, Relaxed));
    // SAFETY: deliberately broken: the store above may run concurrently (under loom, which
    // checks it, this is a finding; no other engine runs this body).
    let _ = unsafe { n.unsync_load() };
    t.join().unwrap();
}

#[test]
fn loom_reports_an_unsync_load_that_races_with_a_store() {
    let finding = check(Backend::Loom).explore(unsync_load_racing_a_store).finding.expect("loom reports it");
    assert_eq!(finding.kind, FindingKind::DataRace, "{}", finding.message);
}

/// Two threads race to install a boxed value into an empty slot with a compare-exchange on a
/// pointer; the loser frees its own. Correct: the failure is the body's own assertion at the
/// end, to get a trace with pointer values.
fn pointer_trace() {
    fn push(slot: &AtomicPtr<u32>, value: u32) -> bool {
        let node = Box::into_raw(Box::new(value));
        let won = slot.compare_exchange(std::ptr::null_mut(), node, AcqRel, Acquire).is_ok();
        if !won {
            // SAFETY: `node` was never published.
            drop(unsafe { Box::from_raw(node) });
        }
        won
    }
    let head = Arc::new(AtomicPtr::named("head", std::ptr::null_mut()));
    let h = head.clone();
    let t = thread::spawn(move || push(&h, 1));
    let mine = push(&head, 2);
    let theirs = t.join().unwrap();
    assert!(mine ^ theirs, "exactly one push wins");
    let winner = head.swap(std::ptr::null_mut(), SeqCst);
    // SAFETY: the winner came from `Box::into_raw` and is freed once.
    drop(unsafe { Box::from_raw(winner) });
    assert!(winner.is_null(), "the body's own failure, for its trace");
}

#[test]
fn traces_show_pointers_as_addresses() {
    for backend in MODEL_CHECKERS {
        let finding = found_by(backend, pointer_trace, FindingKind::Panic, |m| m.contains("for its trace"));
        let trace = finding.trace.expect("findings carry a trace");
        let named_head =
            |e: &&lockhound::trace::Event| e.object.as_ref().and_then(|o| o.name.as_deref()) == Some("head");
        let head: Vec<_> = trace.events.iter().filter(named_head).collect();
        let exchange = head
            .iter()
            .find(|e| e.op == "compare_exchange" && matches!(e.value, Some(Value::Replaced { .. })));
        let exchange = exchange.unwrap_or_else(|| panic!("{backend}: {head:?}"));
        // The trace holds pointers as addresses (the reports crate shows them grouped in hex).
        let Some(Value::Replaced { old, new }) = exchange.value else { unreachable!("matched above") };
        assert_eq!(old, Scalar::Address(0), "{backend}: {:?}", exchange.value);
        assert!(matches!(new, Scalar::Address(a) if a != 0), "{backend}: an address: {new:?}");
        let swap = head.iter().find(|e| e.op == "swap").expect("the swap");
        assert_eq!(swap.value, Some(Value::Replaced { old: new, new: Scalar::Address(0) }), "{backend}");
    }
}

/// `fence` and `compiler_fence` are std's; `spin_loop_hint` (loom's name) yields like
/// `hint::spin_loop`.
fn spin_until_set() {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let t = thread::spawn(move || f.store(true, Release));
    #[allow(deprecated)]
    while !flag.load(Acquire) {
        lockhound::sync::atomic::spin_loop_hint();
    }
    lockhound::sync::atomic::fence(SeqCst);
    lockhound::sync::atomic::compiler_fence(SeqCst);
    t.join().unwrap();
}

#[test]
fn a_spin_on_spin_loop_hint_ends_on_every_fair_engine() {
    passes_on_every_fair_engine(spin_until_set);
}
