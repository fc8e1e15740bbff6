use super::{map_try_lock, Held, LockResult, TryLockError, TryLockResult};
use crate::rt::loom_lock::{LoomGuard, LoomLock};
use crate::rt::poison;
use crate::rt::record::Tag;
use crate::rt::{self, Engine};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::Location;

/// A mutual exclusion lock, like `std::sync::Mutex`.
pub struct Mutex<T> {
    pub(crate) imp: MutexImp<T>,
    pub(crate) tag: Tag,
    pub(crate) poison: poison::Flag,
}

// shuttle's lock carries a vector clock (lockhound checks cells against it), a few hundred
// bytes inline: boxing it would cost an allocation per lock per execution, while the size only
// costs the copy of a lock when it is moved, which bodies do once, if at all.
#[allow(clippy::large_enum_variant)]
pub(crate) enum MutexImp<T> {
    Loom(LoomLock<loom::sync::Mutex<T>>),
    Shuttle(shuttle::sync::Mutex<T>),
    Std(crate::tracker::Mutex<T>),
}

/// The guard of a locked [`Mutex`].
pub struct MutexGuard<'a, T> {
    // Declared first: the lock is poisoned, if its thread panics, before anyone can take it.
    pub(crate) poison: PoisonOnPanic<'a>,
    // Dropped (and the release recorded) before the engine releases.
    pub(crate) held: Held<'a>,
    pub(crate) imp: MutexGuardImp<'a, T>,
    /// The mutex, for a condvar wait to take again after it released it.
    pub(crate) lock: &'a Mutex<T>,
}

/// Poisons a lock if its guard is dropped by a panic that began while it was held.
pub(crate) struct PoisonOnPanic<'a> {
    flag: &'a poison::Flag,
    taken: poison::Taken,
}

impl<'a> PoisonOnPanic<'a> {
    pub(crate) fn new(flag: &'a poison::Flag) -> Self {
        PoisonOnPanic { flag, taken: poison::Flag::take() }
    }
}

impl Drop for PoisonOnPanic<'_> {
    fn drop(&mut self) {
        self.flag.release(self.taken);
    }
}

pub(crate) enum MutexGuardImp<'a, T> {
    Loom(LoomGuard<loom::sync::MutexGuard<'a, T>>),
    Shuttle(shuttle::sync::MutexGuard<'a, T>),
    Std(crate::tracker::MutexGuard<'a, T>),
}

impl<T> Mutex<T> {
    /// Creates a mutex under the engine of the current run.
    #[track_caller]
    pub fn new(value: T) -> Self {
        let imp = match rt::engine() {
            Engine::Loom => MutexImp::Loom(LoomLock::new(loom::sync::Mutex::new(value))),
            Engine::Shuttle => MutexImp::Shuttle(shuttle::sync::Mutex::new(value)),
            Engine::Std => MutexImp::Std(crate::tracker::Mutex::new(value)),
        };
        Mutex { imp, tag: Tag::new("Mutex", Location::caller()), poison: poison::Flag::new() }
    }

    /// Creates the lock with a name that traces show instead of its creation site. On real
    /// threads the name is also the lock's class in the lock-holder tracker's reports.
    #[track_caller]
    pub fn named(name: &'static str, value: T) -> Self {
        if matches!(rt::engine(), Engine::Std) {
            let imp = MutexImp::Std(crate::tracker::Mutex::named(name, value));
            let tag = Tag::new("Mutex", Location::caller()).with_name(name);
            return Mutex { imp, tag, poison: poison::Flag::new() };
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

    /// Acquires the mutex, blocking the current thread until it is able to do so. `Err` holds
    /// the guard when the mutex is poisoned: a thread panicked while it held it.
    #[track_caller]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        let at = Location::caller();
        let guard = MutexGuard {
            imp: self.lock_engine(at),
            poison: PoisonOnPanic::new(&self.poison),
            held: Held::acquired(self.model(), true, &self.tag, "lock", at),
            lock: self,
        };
        self.poison.result(guard)
    }

    /// Takes the engine's lock, whose own poisoning lockhound replaces with its own (see
    /// `rt::poison`). A condvar wait takes the lock again through it.
    #[track_caller]
    pub(crate) fn lock_engine(&self, at: &'static Location<'static>) -> MutexGuardImp<'_, T> {
        let entering = super::entering(self.model(), "lock", &self.tag, true, at);
        let imp = match &self.imp {
            MutexImp::Loom(m) => {
                self.tag.expect(Engine::Loom);
                MutexGuardImp::Loom(m.guard(m.lock().unwrap_or_else(|p| p.into_inner())))
            }
            MutexImp::Shuttle(m) => {
                self.tag.expect(Engine::Shuttle);
                MutexGuardImp::Shuttle(m.lock().unwrap_or_else(|p| p.into_inner()))
            }
            MutexImp::Std(m) => {
                rt::expect_real();
                MutexGuardImp::Std(m.lock())
            }
        };
        super::entered(entering);
        imp
    }

    /// Attempts to acquire the mutex without blocking.
    #[track_caller]
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        let at = Location::caller();
        let wrap = |imp| MutexGuard {
            imp,
            poison: PoisonOnPanic::new(&self.poison),
            held: Held::acquired(self.model(), true, &self.tag, "try_lock", at),
            lock: self,
        };
        let taken = match &self.imp {
            MutexImp::Loom(m) => {
                self.tag.expect(Engine::Loom);
                map_try_lock(m.try_lock(), |g| wrap(MutexGuardImp::Loom(m.guard(g))))
            }
            MutexImp::Shuttle(m) => {
                self.tag.expect(Engine::Shuttle);
                map_try_lock(m.try_lock(), |g| wrap(MutexGuardImp::Shuttle(g)))
            }
            MutexImp::Std(m) => {
                m.try_lock().map(|g| wrap(MutexGuardImp::Std(g))).ok_or(TryLockError::WouldBlock)
            }
        };
        // The engine's poisoning gives way to lockhound's own (see `rt::poison`).
        let guard = match taken {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(engine_poisoned)) => engine_poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return Err(TryLockError::WouldBlock),
        };
        self.poison.result(guard).map_err(TryLockError::Poisoned)
    }

    /// Whether the mutex is poisoned: a thread panicked while it held it.
    pub fn is_poisoned(&self) -> bool {
        self.poison.get()
    }

    /// Clears the poison, like `std::sync::Mutex::clear_poison`.
    pub fn clear_poison(&self) {
        self.poison.clear()
    }

    /// Consumes the mutex and returns its value (inside a `PoisonError` if it is poisoned).
    pub fn into_inner(self) -> LockResult<T> {
        let value = match self.imp {
            MutexImp::Loom(m) => m.into_inner().into_inner().unwrap_or_else(|p| p.into_inner()),
            MutexImp::Shuttle(m) => m.into_inner().unwrap_or_else(|p| p.into_inner()),
            MutexImp::Std(m) => m.into_inner(),
        };
        self.poison.result(value)
    }

    /// The value, through the mutex's exclusive borrow: no locking needed (inside a
    /// `PoisonError` if it is poisoned).
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let value = match &mut self.imp {
            MutexImp::Loom(m) => m.get_mut().unwrap_or_else(|p| p.into_inner()),
            MutexImp::Shuttle(m) => m.get_mut().unwrap_or_else(|p| p.into_inner()),
            MutexImp::Std(m) => m.get_mut(),
        };
        self.poison.result(value)
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
/// `<unread under loom>`.
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
        out.field("poisoned", &self.is_poisoned()).finish_non_exhaustive()
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

// As std's `Mutex`: a panic while the lock is held poisons it (`PoisonOnPanic`), so code that
// catches the panic sees the broken invariant through the `PoisonError` and not silently.
impl<T> std::panic::UnwindSafe for Mutex<T> {}
impl<T> std::panic::RefUnwindSafe for Mutex<T> {}
