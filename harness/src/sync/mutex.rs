use super::{map_lock, map_try_lock, Held, LockResult, TryLockResult};
use crate::rt::record::Tag;
use crate::rt::unwind::LeakOnUnwind;
use crate::rt::{self, Engine};
use std::ops::{Deref, DerefMut};
use std::panic::Location;

/// A mutual exclusion lock, like `std::sync::Mutex`.
pub struct Mutex<T> {
    pub(crate) imp: MutexImp<T>,
    tag: Tag,
}

// shuttle's lock carries a vector clock (lockhound checks cells against it), a few hundred
// bytes inline: boxing it would cost an allocation per lock per execution, while the size only
// costs the copy of a lock when it is moved, which bodies do once, if at all.
#[allow(clippy::large_enum_variant)]
pub(crate) enum MutexImp<T> {
    Loom(loom::sync::Mutex<T>),
    Shuttle(shuttle::sync::Mutex<T>),
    Std(crate::tracker::Mutex<T>),
}

/// The guard of a locked [`Mutex`].
pub struct MutexGuard<'a, T> {
    // Declared first: dropped (and the release recorded) before the engine releases.
    pub(crate) held: Held,
    pub(crate) imp: MutexGuardImp<'a, T>,
}

pub(crate) enum MutexGuardImp<'a, T> {
    Loom(LeakOnUnwind<loom::sync::MutexGuard<'a, T>>),
    Shuttle(shuttle::sync::MutexGuard<'a, T>),
    Std(crate::tracker::MutexGuard<'a, T>),
}

impl<T> Mutex<T> {
    /// Creates a mutex under the engine of the current run.
    #[track_caller]
    pub fn new(value: T) -> Self {
        let imp = match rt::engine() {
            Engine::Loom => MutexImp::Loom(loom::sync::Mutex::new(value)),
            Engine::Shuttle => MutexImp::Shuttle(shuttle::sync::Mutex::new(value)),
            Engine::Std => MutexImp::Std(crate::tracker::Mutex::new(value)),
        };
        Mutex { imp, tag: Tag::new("Mutex", Location::caller()) }
    }

    /// Creates the lock with a name that traces show instead of its creation site. On real
    /// threads the name is also the lock's class in the lock-holder tracker's reports.
    #[track_caller]
    pub fn named(name: &'static str, value: T) -> Self {
        if matches!(rt::engine(), Engine::Std) {
            let imp = MutexImp::Std(crate::tracker::Mutex::named(name, value));
            return Mutex { imp, tag: Tag::new("Mutex", Location::caller()).with_name(name) };
        }
        let mut lock = Self::new(value);
        lock.tag = lock.tag.with_name(name);
        lock
    }

    /// The model-checked engine this mutex belongs to, `None` on real threads.
    fn model(&self) -> Option<Engine> {
        match self.imp {
            MutexImp::Loom(_) => Some(Engine::Loom),
            MutexImp::Shuttle(_) => Some(Engine::Shuttle),
            MutexImp::Std(_) => None,
        }
    }

    /// Acquires the mutex, blocking the current thread until it is able to do so.
    #[track_caller]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        let at = Location::caller();
        let wrap = |imp| MutexGuard { held: Held::acquired(self.model(), &self.tag, "lock", at), imp };
        match &self.imp {
            MutexImp::Loom(m) => {
                rt::expect_engine(Engine::Loom);
                map_lock(m.lock(), |g| wrap(MutexGuardImp::Loom(LeakOnUnwind::new(g))))
            }
            MutexImp::Shuttle(m) => {
                rt::expect_engine(Engine::Shuttle);
                map_lock(m.lock(), |g| wrap(MutexGuardImp::Shuttle(g)))
            }
            MutexImp::Std(m) => Ok(wrap(MutexGuardImp::Std(m.lock()))),
        }
    }

    /// Attempts to acquire the mutex without blocking.
    #[track_caller]
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        let at = Location::caller();
        let wrap = |imp| MutexGuard { held: Held::acquired(self.model(), &self.tag, "try_lock", at), imp };
        match &self.imp {
            MutexImp::Loom(m) => {
                rt::expect_engine(Engine::Loom);
                map_try_lock(m.try_lock(), |g| wrap(MutexGuardImp::Loom(LeakOnUnwind::new(g))))
            }
            MutexImp::Shuttle(m) => {
                rt::expect_engine(Engine::Shuttle);
                map_try_lock(m.try_lock(), |g| wrap(MutexGuardImp::Shuttle(g)))
            }
            MutexImp::Std(m) => {
                m.try_lock().map(|g| wrap(MutexGuardImp::Std(g))).ok_or(super::TryLockError::WouldBlock)
            }
        }
    }

    /// Consumes the mutex and returns its value.
    pub fn into_inner(self) -> LockResult<T> {
        match self.imp {
            MutexImp::Loom(m) => m.into_inner(),
            MutexImp::Shuttle(m) => m.into_inner(),
            MutexImp::Std(m) => Ok(m.into_inner()),
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    #[track_caller]
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.imp {
            MutexGuardImp::Loom(g) => g,
            MutexGuardImp::Shuttle(g) => g,
            MutexGuardImp::Std(g) => g,
        }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match &mut self.imp {
            MutexGuardImp::Loom(g) => &mut *g,
            MutexGuardImp::Shuttle(g) => &mut *g,
            MutexGuardImp::Std(g) => &mut *g,
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mutex { .. }")
    }
}
