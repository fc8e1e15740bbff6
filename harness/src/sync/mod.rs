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

use crate::rt::record::{self, Tag};
use crate::rt::Engine;
use std::panic::Location;

/// A held lock as a trace sees it: records the acquisition when it is made and the release
/// when dropped. Guards declare it before the engine's guard, so the release is recorded
/// just before the engine releases (and may switch threads).
pub(crate) struct Held {
    note: Option<(Engine, Tag)>,
}

impl Held {
    /// Notes `op` on `tag`'s lock, under a model-checked `engine` while recording.
    #[inline]
    pub(crate) fn acquired(
        engine: Option<Engine>,
        tag: &Tag,
        op: &str,
        at: &'static Location<'static>,
    ) -> Held {
        match engine {
            Some(engine) if record::active() => {
                record::op(engine, Some(tag), op, String::new(), Some(at));
                Held { note: Some((engine, *tag)) }
            }
            _ => Held { note: None },
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some((engine, tag)) = self.note {
            if record::active() && !std::thread::panicking() {
                // A drop has no caller location to show.
                record::op(engine, Some(&tag), "unlock", String::new(), None);
            }
        }
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
            record::op(engine, Some(tag), op, String::new(), Some(at));
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
