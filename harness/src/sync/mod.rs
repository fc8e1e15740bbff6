//! Synchronization primitives that run unchanged under loom, shuttle and real threads,
//! mirroring `std::sync` one to one. Each object is bound, when created, to the engine of
//! the run it is created in.

mod arc;
pub mod atomic;
mod barrier;
mod condvar;
mod lazy;
pub mod mpsc;
mod mutex;
mod once;
mod rwlock;

pub use arc::{Arc, Weak};
pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use lazy::LazyLock;
pub use mutex::{Mutex, MutexGuard};
pub use once::{Once, OnceLock, OnceState};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// What [`lazy_static!`](crate::lazy_static) declares, and how to force one.
pub mod lazy_static {
    pub use super::lazy::{initialize, LazyStatic};
}
pub use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

use crate::rt::blocking::{self, Entering, Wait};
use crate::rt::record::{self, Tag};
use crate::rt::Engine;
use std::panic::Location;

/// A held lock as a trace and the blocking registry see it: records the acquisition when it is
/// made and the release when dropped. Guards declare it before the engine's guard, so the
/// release is recorded just before the engine releases (and may switch threads). It borrows
/// the lock's tag, whose address is the lock's identity in the registry (see [`object_of`]).
pub(crate) struct Held<'a> {
    /// The model-checked engine of the lock, `None` on real threads.
    engine: Option<Engine>,
    tag: &'a Tag,
    /// The acquisition is in the trace being recorded, so the release goes there too.
    noted: bool,
}

/// A lock's identity in the blocking registry: the address of its tag, which lives inside the
/// lock and stays put while a guard or a blocked call borrows it.
#[inline]
pub(crate) fn object_of(tag: &Tag) -> usize {
    tag as *const Tag as usize
}

impl<'a> Held<'a> {
    /// Notes `op` on `tag`'s lock under a model-checked `engine`: in the registry, held
    /// `exclusive`ly or shared, and in the trace while recording.
    #[inline]
    pub(crate) fn acquired(
        engine: Option<Engine>,
        exclusive: bool,
        tag: &'a Tag,
        op: &str,
        at: &'static Location<'static>,
    ) -> Held<'a> {
        let Some(model) = engine else { return Held { engine, tag, noted: false } };
        blocking::acquired(model, object_of(tag), exclusive);
        let noted = record::active();
        if noted {
            record::op(model, Some(tag), op, None, Some(at));
        }
        Held { engine, tag, noted }
    }

    /// The lock is given back for a while (a condvar wait): out of the registry until
    /// [`Held::taken_again`].
    pub(crate) fn given_back(&self) {
        if let Some(engine) = self.engine {
            blocking::released(engine, object_of(self.tag));
        }
    }

    /// The lock is held again after [`Held::given_back`].
    pub(crate) fn taken_again(&self) {
        if let Some(engine) = self.engine {
            blocking::acquired(engine, object_of(self.tag), true);
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let Some(engine) = self.engine else { return };
        blocking::released(engine, object_of(self.tag));
        if self.noted && record::active() && !std::thread::panicking() {
            // A drop has no caller location to show.
            record::op(engine, Some(self.tag), "unlock", None, None);
        }
    }
}

/// Registers the running thread, under a model-checked `engine`, as entering `op` on `tag`'s
/// lock until [`entered`] (see `rt::blocking`): under shuttle, a deadlock is found before
/// the thread blocks. Not a closure around the lock call: that would cut the `#[track_caller]`
/// chain that names the user's line in the engines' checks.
#[inline]
pub(crate) fn entering(
    engine: Option<Engine>,
    op: &'static str,
    tag: &Tag,
    exclusive: bool,
    at: &'static Location<'static>,
) -> Option<Entering> {
    engine.map(|engine| {
        Entering::begin(engine, op, Wait::Lock { object: object_of(tag), tag: *tag, exclusive }, at)
    })
}

/// The lock operation [`entering`] registered returned.
#[inline]
pub(crate) fn entered(entering: Option<Entering>) {
    if let Some(entering) = entering {
        entering.end();
    }
}

/// Notes a non-lock operation on `tag`'s object under a model-checked `engine`.
#[track_caller]
#[inline]
pub(crate) fn note(engine: Option<Engine>, tag: &Tag, op: &str) {
    note_at(engine, tag, op, Location::caller());
}

/// [`note`] with the caller's location given (from inside a closure, which has none).
#[inline]
pub(crate) fn note_at(engine: Option<Engine>, tag: &Tag, op: &str, at: &'static Location<'static>) {
    if let Some(engine) = engine {
        if record::active() {
            record::op(engine, Some(tag), op, None, Some(at));
        }
    }
}

/// Re-wraps the guard inside a try-lock result, keeping the poison and would-block states.
pub(crate) fn map_try_lock<G, H>(result: TryLockResult<G>, wrap: impl FnOnce(G) -> H) -> TryLockResult<H> {
    match result {
        Ok(guard) => Ok(wrap(guard)),
        Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
        Err(TryLockError::Poisoned(p)) => Err(TryLockError::Poisoned(PoisonError::new(wrap(p.into_inner())))),
    }
}

/// Dispatches an operation on a facade object to the engine it was created under, after
/// checking (with its `Tag`) that a model-checked object is used in the execution that
/// created it.
macro_rules! dispatch {
    ($value:expr, $tag:expr, $imp:ident, $x:ident => $op:expr) => {
        match $value {
            $imp::Loom($x) => {
                $tag.expect($crate::rt::Engine::Loom);
                $op
            }
            $imp::Shuttle($x) => {
                $tag.expect($crate::rt::Engine::Shuttle);
                $op
            }
            // Objects on real threads are real: one kept across iterations just works; inside
            // a model-checked execution it would act behind the checker's back.
            $imp::Std($x) => {
                $crate::rt::expect_real();
                $op
            }
        }
    };
}
pub(crate) use dispatch;
