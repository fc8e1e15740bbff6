//! The facade's `Arc` and `Weak` have std's operations and semantics under loom, shuttle and
//! real threads; a `Weak::upgrade` racing the last drop is explored both ways; under loom the
//! last drop still acquires what the other handles released when weak handles exist, and a
//! leaked handle, strong or weak, is a leak finding; `Arc<dyn Trait>` is made from a `Box` or a
//! std `Arc`.

use crate::facade_support;

use facade_support::{check, found_by_every_model_checker, passes_on_every_engine};
use lockhound::cell::UnsafeCell;
use lockhound::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use lockhound::sync::{Arc, Mutex, Weak};
use lockhound::{thread, Backend, FindingKind};
use std::collections::HashSet;

fn counts_and_upgrades() {
    let a = Arc::new(5);
    assert_eq!((Arc::strong_count(&a), Arc::weak_count(&a)), (1, 0));
    let w = Arc::downgrade(&a);
    let w2 = w.clone();
    assert_eq!((Arc::strong_count(&a), Arc::weak_count(&a)), (1, 2));
    assert_eq!((w.strong_count(), w.weak_count()), (1, 2));
    let b = w.upgrade().expect("a strong handle is left");
    assert!(Arc::ptr_eq(&a, &b) && w.ptr_eq(&w2));
    assert_eq!(Arc::strong_count(&a), 2);
    drop((a, b));
    assert!(w.upgrade().is_none(), "no strong handle is left");
    assert_eq!((w.strong_count(), w.weak_count()), (0, 0), "std counts no weak handles once dead");
    let dangling: Weak<i32> = Weak::new();
    assert!(dangling.upgrade().is_none() && dangling.ptr_eq(&Weak::default()));
    assert_eq!(dangling.strong_count(), 0);
    assert_eq!(format!("{dangling:?}"), "(Weak)");
}

#[test]
fn counts_downgrade_and_upgrade_like_std_on_every_engine() {
    passes_on_every_engine(counts_and_upgrades);
}

/// A clone shows: it adds 100, so a value that was moved where std moves it keeps its number.
#[derive(Debug, PartialEq)]
struct Tracked(u32);

impl Clone for Tracked {
    fn clone(&self) -> Self {
        Tracked(self.0 + 100)
    }
}

fn unwrap_get_mut_make_mut() {
    let mut a = Arc::new(Tracked(1));
    Arc::get_mut(&mut a).expect("the only handle").0 = 2;
    let w = Arc::downgrade(&a);
    assert!(Arc::get_mut(&mut a).is_none(), "a weak handle exists");
    // One strong handle and a weak one: make_mut moves the value out of the weak's reach.
    Arc::make_mut(&mut a).0 += 1;
    assert_eq!(*a, Tracked(3), "moved, not cloned");
    assert!(w.upgrade().is_none(), "the weak handle lost the value");
    let b = a.clone();
    Arc::make_mut(&mut a).0 += 1;
    assert_eq!(*a, Tracked(104), "cloned for a shared value");
    assert_eq!(*b, Tracked(3));
    let b = Arc::try_unwrap(b).expect("the only handle of its allocation");
    assert_eq!(b, Tracked(3));
    let c = a.clone();
    let a = Arc::try_unwrap(a).expect_err("shared");
    assert_eq!(Arc::into_inner(a), None, "another strong handle is left");
    assert_eq!(Arc::into_inner(c), Some(Tracked(104)));
    assert_eq!(Arc::unwrap_or_clone(Arc::new(Tracked(7))), Tracked(7));
    let shared = Arc::new(Tracked(8));
    let _keep = shared.clone();
    assert_eq!(Arc::unwrap_or_clone(shared), Tracked(108));
}

#[test]
fn try_unwrap_into_inner_get_mut_and_make_mut_like_std_on_every_engine() {
    passes_on_every_engine(unwrap_get_mut_make_mut);
}

/// Two threads drop their handles through `into_inner`: exactly one gets the value.
fn into_inner_races() {
    let a = Arc::new(String::from("value"));
    let b = a.clone();
    let t = thread::spawn(move || Arc::into_inner(b));
    let mine = Arc::into_inner(a);
    let theirs = t.join().unwrap();
    assert!(mine.is_some() ^ theirs.is_some(), "exactly one gets it: {mine:?} {theirs:?}");
}

#[test]
fn into_inner_gives_the_value_to_exactly_one_thread_on_every_engine() {
    passes_on_every_engine(into_inner_races);
}

/// The last strong handle goes in another thread while this one upgrades: the upgrade may come
/// first or second, and a body that assumes it comes first is wrong.
fn upgrade_racing_the_last_drop() {
    let a = Arc::new(Mutex::new(1));
    let w = Arc::downgrade(&a);
    let t = thread::spawn(move || drop(a));
    let alive = w.upgrade();
    t.join().unwrap();
    let value = alive.expect("the value is still alive");
    assert_eq!(*value.lock().unwrap(), 1);
}

#[test]
fn an_upgrade_racing_the_last_drop_is_found_by_every_model_checker() {
    found_by_every_model_checker(upgrade_racing_the_last_drop, FindingKind::Panic, |m| {
        m.contains("the value is still alive")
    });
}

/// The same, with the spawned thread holding a clone and this one its own handle: the upgrade
/// always succeeds.
fn upgrade_while_a_strong_handle_is_held() {
    let a = Arc::new(Mutex::new(1));
    let w = Arc::downgrade(&a);
    let b = a.clone();
    let t = thread::spawn(move || drop(b));
    let alive = w.upgrade().expect("this thread's handle keeps it alive");
    *alive.lock().unwrap() += 1;
    t.join().unwrap();
    drop(a);
    assert_eq!(*alive.lock().unwrap(), 2);
    drop(alive);
    assert!(w.upgrade().is_none());
}

#[test]
fn an_upgrade_while_a_strong_handle_is_held_passes_on_every_engine() {
    passes_on_every_engine(upgrade_while_a_strong_handle_is_held);
}

/// A value whose drop reads a cell the other thread wrote before dropping its handle: correct
/// only if the last drop acquires what every other drop released, as std's `Arc` does.
struct ReadsOnDrop {
    data: UnsafeCell<u64>,
    written: AtomicBool,
}
// SAFETY: the write and the read in `drop` are ordered by the Arc's release and acquire.
unsafe impl Sync for ReadsOnDrop {}

impl Drop for ReadsOnDrop {
    fn drop(&mut self) {
        if self.written.load(Relaxed) {
            // SAFETY: ordered after the write by the last drop's acquire.
            assert_eq!(self.data.with(|p| unsafe { *p }), 1);
        }
    }
}

/// With a weak handle alive while the strong ones go, so that the last strong drop is not the
/// last drop of loom's token: the facade must acquire on its own.
fn last_drop_acquires_with_a_weak_handle() {
    let a = Arc::new(ReadsOnDrop { data: UnsafeCell::new(0), written: AtomicBool::new(false) });
    let w = Arc::downgrade(&a);
    let b = a.clone();
    let t = thread::spawn(move || {
        // SAFETY: the only access before the drops (this thread's handle is released after).
        b.data.with_mut(|p| unsafe { *p = 1 });
        b.written.store(true, Relaxed);
        drop(b);
    });
    drop(a);
    t.join().unwrap();
    assert!(w.upgrade().is_none());
}

#[test]
fn the_last_strong_drop_acquires_even_while_weak_handles_exist() {
    passes_on_every_engine(last_drop_acquires_with_a_weak_handle);
}

#[test]
fn loom_reports_a_leaked_weak_handle() {
    fn leaky() {
        let a = Arc::new(5);
        std::mem::forget(Arc::downgrade(&a));
    }
    let finding = check(Backend::Loom).explore(leaky).finding.expect("leak");
    assert_eq!(finding.kind, FindingKind::Leak, "{}", finding.message);
}

trait Shape: Send + Sync {
    fn area(&self) -> u32;
}

struct Square(u32);

impl Shape for Square {
    fn area(&self) -> u32 {
        self.0 * self.0
    }
}

fn unsized_values() {
    let from_box: Arc<dyn Shape> = Arc::from(Box::new(Square(3)) as Box<dyn Shape>);
    let from_std: Arc<dyn Shape> = Arc::from_std(std::sync::Arc::new(Square(4)));
    let slice: Arc<[u8]> = Arc::from(vec![1u8, 2, 3].into_boxed_slice());
    let text: Arc<str> = Arc::from(Box::<str>::from("text"));
    let weak = Arc::downgrade(&from_box);
    let other = from_box.clone();
    let t = thread::spawn(move || other.area() + from_std.area());
    assert_eq!(t.join().unwrap(), 25);
    assert_eq!(weak.upgrade().map(|s| s.area()), Some(9));
    assert_eq!((&*slice, &*text), (&[1u8, 2, 3][..], "text"));
    drop(from_box);
    assert!(weak.upgrade().is_none());
}

#[test]
fn arc_of_dyn_trait_and_of_slices_on_every_engine() {
    passes_on_every_engine(unsized_values);
}

#[test]
fn from_std_refuses_a_shared_std_arc_on_every_engine() {
    fn shared() {
        let std = std::sync::Arc::new(1);
        let _other = std.clone();
        let _ = Arc::from_std(std);
    }
    for backend in [Backend::Loom, Backend::ShuttleRandom, Backend::Stress] {
        let finding = check(backend).iterations(1).explore(shared).finding.expect("a panic");
        assert!(finding.message.contains("not unique"), "{backend}: {}", finding.message);
    }
}

fn compared_and_shown_by_value() {
    assert_eq!(Arc::new(3), Arc::new(3));
    assert!(Arc::new(2) < Arc::new(3));
    assert_eq!(Arc::new(4).cmp(&Arc::new(4)), std::cmp::Ordering::Equal);
    // clippy sees the facade's counts inside (interior mutability); hashing is by value.
    #[allow(clippy::mutable_key_type)]
    let set: HashSet<Arc<String>> = [Arc::new("a".to_string())].into_iter().collect();
    assert!(set.contains(&Arc::new("a".to_string())));
    let a = Arc::new(7);
    assert_eq!((format!("{a}"), format!("{a:?}")), ("7".to_string(), "7".to_string()));
    assert_eq!(format!("{a:p}"), format!("{:p}", Arc::as_ptr(&a)));
    assert_eq!(Arc::<AtomicUsize>::default().load(SeqCst), 0);
    let pinned = Arc::pin(5);
    assert_eq!(*pinned, 5);
    let from: Arc<i32> = 9.into();
    assert_eq!(*from.as_ref(), 9);
    assert_eq!(*std::borrow::Borrow::<i32>::borrow(&from), 9);
    assert_eq!(Arc::new(AtomicUsize::new(1)).as_ref().load(SeqCst), 1);
}

#[test]
fn compared_hashed_and_shown_by_value_on_every_engine() {
    passes_on_every_engine(compared_and_shown_by_value);
}
