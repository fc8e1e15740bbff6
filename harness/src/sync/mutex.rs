use super::{map_lock, map_try_lock, Held, LockResult, TryLockResult};
use crate::rt::record::Tag;
use crate::rt::unwind::LeakOnUnwind;
use crate::rt::{self, Engine};
use std::fmt;
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

    /// The value, through the mutex's exclusive borrow: no locking needed.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        match &mut self.imp {
            MutexImp::Loom(m) => m.get_mut(),
            MutexImp::Shuttle(m) => m.get_mut(),
            MutexImp::Std(m) => Ok(m.get_mut()),
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    #[track_caller]
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

// SAFETY: std's bounds. Every engine's mutex is Send and Sync under them (`_engines_agree`
// checks it); written out so that a missing bound is reported on the user's type.
unsafe impl<T: Send> Send for Mutex<T> {}
unsafe impl<T: Send> Sync for Mutex<T> {}

#[allow(dead_code)]
fn _engines_agree<T: Send>() {
    fn send_sync<X: Send + Sync>() {}
    send_sync::<MutexImp<T>>();
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

/// Like std's: `Mutex { data: 5, poisoned: false, .. }`, or `"<locked>"` for the data while
/// another guard holds it. Never a scheduling point: shuttle's mutex shows its data the way
/// std's does; on real threads this is a `try_lock` of the tracked lock, as std's is (it adds
/// no lock-order edge); under loom the data cannot be read without one, and shows as
/// `<unread under loom>`. Tracked and loom mutexes do not poison.
impl<T: fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let MutexImp::Shuttle(m) = &self.imp {
            return fmt::Debug::fmt(m, f);
        }
        let mut out = f.debug_struct("Mutex");
        match &self.imp {
            MutexImp::Shuttle(_) => unreachable!("shown above"),
            MutexImp::Loom(_) => out.field("data", &format_args!("<unread under loom>")),
            MutexImp::Std(m) => match m.try_lock() {
                Some(guard) => out.field("data", &&*guard),
                // std's own Mutex shows it quoted (its RwLock does not).
                None => out.field("data", &"<locked>"),
            },
        };
        out.field("poisoned", &false).finish_non_exhaustive()
    }
}

impl<T: fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
