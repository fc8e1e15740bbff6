//! loom's locks as the facade holds them: at a stable address, with guards that a panic of
//! the body releases without breaking the lock.
//!
//! A loom `Mutex` (or `RwLock`) keeps its data in a std lock of its own, which a loom guard
//! dropped while its thread panics poisons; loom's next `lock` then unwraps that poison and
//! panics inside loom. So a body that catches a panic raised in a critical section, and locks
//! again (as code that tests its own panic paths does), could not be checked. lockhound's
//! poisoning is its own (`rt::poison`), so a loom guard dropped by a panic of the body is not
//! dropped there: it is set aside and dropped at the thread's next facade operation (or when
//! the thread ends), when the thread no longer panics. Between the two the thread makes no
//! scheduling point, so no other thread can tell the release came late. A guard set aside is
//! dropped at once if its lock goes away first; its lock lives in a box ([`LoomLock`]) so that
//! moving the facade lock does not move it.
//!
//! While loom fails or tears down an execution, guards are not dropped at all (see
//! `rt::unwind`): the execution is over.

use super::unwind;
use std::cell::RefCell;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};

/// A loom lock in a box of its own.
pub(crate) struct LoomLock<L>(ManuallyDrop<Box<L>>);

impl<L> LoomLock<L> {
    pub(crate) fn new(lock: L) -> Self {
        LoomLock(ManuallyDrop::new(Box::new(lock)))
    }

    fn address(&self) -> usize {
        &**self.0 as *const L as usize
    }

    /// The lock, out of its box (after its guards set aside: no other guard can be left, as
    /// this takes the lock by value).
    pub(crate) fn into_inner(self) -> L {
        drop_set_aside(|entry| entry.lock == self.address());
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so the box is taken exactly once.
        let boxed = unsafe { ManuallyDrop::take(&mut this.0) };
        *boxed
    }

    /// Guards `guard`, taken from this lock.
    pub(crate) fn guard<G>(&self, guard: G) -> LoomGuard<G> {
        LoomGuard { guard: ManuallyDrop::new(guard), lock: self.address() }
    }
}

impl<L> Drop for LoomLock<L> {
    fn drop(&mut self) {
        // Its guards set aside go first: they refer to it.
        drop_set_aside(|entry| entry.lock == self.address());
        // SAFETY: drop runs once, and `into_inner` (the only other taker) forgets `self`.
        unsafe { ManuallyDrop::drop(&mut self.0) }
    }
}

impl<L> Deref for LoomLock<L> {
    type Target = L;
    fn deref(&self) -> &L {
        &self.0
    }
}

impl<L> DerefMut for LoomLock<L> {
    fn deref_mut(&mut self) -> &mut L {
        &mut self.0
    }
}

/// A loom guard, released as described in the module's documentation.
pub(crate) struct LoomGuard<G> {
    guard: ManuallyDrop<G>,
    /// The address of its [`LoomLock`].
    lock: usize,
}

impl<G> Deref for LoomGuard<G> {
    type Target = G;
    fn deref(&self) -> &G {
        &self.guard
    }
}

impl<G> DerefMut for LoomGuard<G> {
    fn deref_mut(&mut self) -> &mut G {
        &mut self.guard
    }
}

/// A guard set aside, and the loom thread whose it is.
struct SetAside {
    lock: usize,
    owner: loom::thread::ThreadId,
    drop: Box<dyn FnOnce()>,
}

/// The guards set aside on this OS thread. What an execution that failed left here is never
/// dropped, not even when the OS thread ends: its execution is gone.
struct SetAsideList(Vec<SetAside>);

impl Drop for SetAsideList {
    fn drop(&mut self) {
        std::mem::forget(std::mem::take(&mut self.0));
    }
}

thread_local! {
    static SET_ASIDE: RefCell<SetAsideList> = const { RefCell::new(SetAsideList(Vec::new())) };
}

impl<G> Drop for LoomGuard<G> {
    fn drop(&mut self) {
        if unwind::engine_gone() {
            return;
        }
        // SAFETY: drop runs once, and nothing else takes the guard.
        let guard = unsafe { ManuallyDrop::take(&mut self.guard) };
        if !std::thread::panicking() {
            drop(guard);
            return;
        }
        let release: Box<dyn FnOnce() + '_> = Box::new(move || drop(guard));
        // SAFETY: the guard borrows its lock, which lives in a `LoomLock` box: the box does not
        // move, and when it goes it drops the guards set aside for it first (`LoomLock::drop`);
        // the other ways a set-aside guard goes (`release_set_aside`) drop it while the box lives
        // or never run it at all (`forget_set_aside`). So the erased borrow is never used after
        // its lock is gone.
        let release: Box<dyn FnOnce() + 'static> = unsafe { std::mem::transmute(release) };
        let entry = SetAside { lock: self.lock, owner: loom::thread::current().id(), drop: release };
        SET_ASIDE.with(|s| s.borrow_mut().0.push(entry));
        super::set_aside(true);
    }
}

/// Drops the calling loom thread's guards set aside, now that it no longer panics.
pub(crate) fn release_set_aside() {
    if !super::any_set_aside() || std::thread::panicking() || unwind::engine_gone() {
        return;
    }
    let me = loom::thread::current().id();
    drop_set_aside(|entry| entry.owner == me);
}

/// Drops the guards set aside that `pick` picks (outside the list's borrow: a drop may set
/// another one aside).
fn drop_set_aside(pick: impl Fn(&SetAside) -> bool) {
    let picked: Vec<SetAside> = SET_ASIDE.with(|s| {
        let mut s = s.borrow_mut();
        let (picked, kept) = std::mem::take(&mut s.0).into_iter().partition(|e| pick(e));
        s.0 = kept;
        super::set_aside(!s.0.is_empty());
        picked
    });
    if picked.is_empty() {
        return;
    }
    if unwind::engine_gone() {
        std::mem::forget(picked);
        return;
    }
    for entry in picked {
        (entry.drop)();
    }
}

/// Forgets the guards an execution that ended left set aside, without touching them: their
/// execution is gone.
pub(crate) fn forget_set_aside() {
    if !super::any_set_aside() {
        return;
    }
    let left = SET_ASIDE.with(|s| std::mem::take(&mut s.borrow_mut().0));
    std::mem::forget(left);
    super::set_aside(false);
}
