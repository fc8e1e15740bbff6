use super::mutex::PoisonOnPanic;
use super::{entered, entering, map_try_lock, Held, LockResult, TryLockError, TryLockResult};
use crate::rt::loom_lock::{LoomGuard, LoomLock};
use crate::rt::poison;
use crate::rt::record::Tag;
use crate::rt::{self, Engine};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::Location;

/// A reader-writer lock, like `std::sync::RwLock`.
pub struct RwLock<T> {
    imp: RwLockImp<T>,
    tag: Tag,
    poison: poison::Flag,
}

// shuttle's lock carries a vector clock (lockhound checks cells against it), a few hundred
// bytes inline: boxing it would cost an allocation per lock per execution, while the size only
// costs the copy of a lock when it is moved, which bodies do once, if at all.
#[allow(clippy::large_enum_variant)]
enum RwLockImp<T> {
    Loom(LoomLock<loom::sync::RwLock<T>>),
    Shuttle(shuttle::sync::RwLock<T>),
    Std(crate::tracker::RwLock<T>),
}

/// Shared access to a read-locked [`RwLock`].
pub struct RwLockReadGuard<'a, T> {
    // Declared first: dropped (and the release recorded) before the engine releases.
    _held: Held<'a>,
    imp: ReadImp<'a, T>,
}

enum ReadImp<'a, T> {
    Loom(LoomGuard<loom::sync::RwLockReadGuard<'a, T>>),
    Shuttle(shuttle::sync::RwLockReadGuard<'a, T>),
    Std(crate::tracker::RwLockReadGuard<'a, T>),
}

/// Exclusive access to a write-locked [`RwLock`].
pub struct RwLockWriteGuard<'a, T> {
    // Declared first: the lock is poisoned, if its thread panics, before anyone can take it.
    _poison: PoisonOnPanic<'a>,
    // Dropped (and the release recorded) before the engine releases.
    _held: Held<'a>,
    imp: WriteImp<'a, T>,
}

enum WriteImp<'a, T> {
    Loom(LoomGuard<loom::sync::RwLockWriteGuard<'a, T>>),
    Shuttle(shuttle::sync::RwLockWriteGuard<'a, T>),
    Std(crate::tracker::RwLockWriteGuard<'a, T>),
}

impl<T> RwLock<T> {
    /// Creates a reader-writer lock under the engine of the current run.
    #[track_caller]
    pub fn new(value: T) -> Self {
        let imp = match rt::engine() {
            Engine::Loom => RwLockImp::Loom(LoomLock::new(loom::sync::RwLock::new(value))),
            Engine::Shuttle => RwLockImp::Shuttle(shuttle::sync::RwLock::new(value)),
            Engine::Std => RwLockImp::Std(crate::tracker::RwLock::new(value)),
        };
        RwLock { imp, tag: Tag::new("RwLock", Location::caller()), poison: poison::Flag::new() }
    }

    /// Creates the lock with a name that traces show instead of its creation site. On real
    /// threads the name is also the lock's class in the lock-holder tracker's reports.
    #[track_caller]
    pub fn named(name: &'static str, value: T) -> Self {
        if matches!(rt::engine(), Engine::Std) {
            let imp = RwLockImp::Std(crate::tracker::RwLock::named(name, value));
            let tag = Tag::new("RwLock", Location::caller()).with_name(name);
            return RwLock { imp, tag, poison: poison::Flag::new() };
        }
        let mut lock = Self::new(value);
        lock.tag = lock.tag.with_name(name);
        lock
    }

    /// The model-checked engine this lock belongs to, `None` on real threads.
    fn model(&self) -> Option<Engine> {
        match self.imp {
            RwLockImp::Loom(_) => Some(Engine::Loom),
            RwLockImp::Shuttle(_) => Some(Engine::Shuttle),
            RwLockImp::Std(_) => None,
        }
    }

    /// Locks for shared read access, blocking until it can. `Err` holds the guard when the
    /// lock is poisoned: a thread panicked while it held it for writing.
    #[track_caller]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        let at = Location::caller();
        let entering = entering(self.model(), "read", &self.tag, false, at);
        let imp = match &self.imp {
            RwLockImp::Loom(l) => {
                self.tag.expect(Engine::Loom);
                ReadImp::Loom(l.guard(l.read().unwrap_or_else(|p| p.into_inner())))
            }
            RwLockImp::Shuttle(l) => {
                self.tag.expect(Engine::Shuttle);
                ReadImp::Shuttle(l.read().unwrap_or_else(|p| p.into_inner()))
            }
            RwLockImp::Std(l) => {
                rt::expect_real();
                ReadImp::Std(l.read())
            }
        };
        entered(entering);
        let held = Held::acquired(self.model(), false, &self.tag, "read-lock", at);
        let guard = RwLockReadGuard { _held: held, imp };
        self.poison.result(guard)
    }

    /// Locks for exclusive write access, blocking until it can. `Err` holds the guard when the
    /// lock is poisoned.
    #[track_caller]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        let at = Location::caller();
        let entering = entering(self.model(), "write", &self.tag, true, at);
        let imp = match &self.imp {
            RwLockImp::Loom(l) => {
                self.tag.expect(Engine::Loom);
                WriteImp::Loom(l.guard(l.write().unwrap_or_else(|p| p.into_inner())))
            }
            RwLockImp::Shuttle(l) => {
                self.tag.expect(Engine::Shuttle);
                WriteImp::Shuttle(l.write().unwrap_or_else(|p| p.into_inner()))
            }
            RwLockImp::Std(l) => {
                rt::expect_real();
                WriteImp::Std(l.write())
            }
        };
        entered(entering);
        self.poison.result(self.write_guard(imp, "write-lock", at))
    }

    fn write_guard<'a>(
        &'a self,
        imp: WriteImp<'a, T>,
        op: &str,
        at: &'static Location<'static>,
    ) -> RwLockWriteGuard<'a, T> {
        RwLockWriteGuard {
            _poison: PoisonOnPanic::new(&self.poison),
            _held: Held::acquired(self.model(), true, &self.tag, op, at),
            imp,
        }
    }

    /// Attempts shared read access without blocking.
    #[track_caller]
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        let at = Location::caller();
        let wrap = |imp| RwLockReadGuard {
            _held: Held::acquired(self.model(), false, &self.tag, "try_read", at),
            imp,
        };
        let taken = match &self.imp {
            RwLockImp::Loom(l) => {
                self.tag.expect(Engine::Loom);
                map_try_lock(l.try_read(), |g| wrap(ReadImp::Loom(l.guard(g))))
            }
            RwLockImp::Shuttle(l) => {
                self.tag.expect(Engine::Shuttle);
                map_try_lock(l.try_read(), |g| wrap(ReadImp::Shuttle(g)))
            }
            RwLockImp::Std(l) => l.try_read().map(|g| wrap(ReadImp::Std(g))).ok_or(TryLockError::WouldBlock),
        };
        self.poisoned_unless_blocked(taken)
    }

    /// Attempts exclusive write access without blocking.
    #[track_caller]
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        let at = Location::caller();
        let wrap = |imp| self.write_guard(imp, "try_write", at);
        let taken = match &self.imp {
            RwLockImp::Loom(l) => {
                self.tag.expect(Engine::Loom);
                map_try_lock(l.try_write(), |g| wrap(WriteImp::Loom(l.guard(g))))
            }
            RwLockImp::Shuttle(l) => {
                self.tag.expect(Engine::Shuttle);
                map_try_lock(l.try_write(), |g| wrap(WriteImp::Shuttle(g)))
            }
            RwLockImp::Std(l) => {
                l.try_write().map(|g| wrap(WriteImp::Std(g))).ok_or(TryLockError::WouldBlock)
            }
        };
        self.poisoned_unless_blocked(taken)
    }

    /// The engine's poisoning gives way to lockhound's own (see `rt::poison`).
    fn poisoned_unless_blocked<G>(&self, taken: TryLockResult<G>) -> TryLockResult<G> {
        let guard = match taken {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(engine_poisoned)) => engine_poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return Err(TryLockError::WouldBlock),
        };
        self.poison.result(guard).map_err(TryLockError::Poisoned)
    }

    /// Whether the lock is poisoned: a thread panicked while it held it for writing.
    pub fn is_poisoned(&self) -> bool {
        self.poison.get()
    }

    /// Clears the poison, like `std::sync::RwLock::clear_poison`.
    pub fn clear_poison(&self) {
        self.poison.clear()
    }
}

impl<T> RwLock<T> {
    /// Consumes the lock and returns its value.
    /// (inside a `PoisonError` if it is poisoned).
    pub fn into_inner(self) -> LockResult<T> {
        // The engine's poisoning gives way to lockhound's own (see `rt::poison`).
        let value = match self.imp {
            RwLockImp::Loom(l) => l.into_inner().into_inner().unwrap_or_else(|p| p.into_inner()),
            RwLockImp::Shuttle(l) => l.into_inner().unwrap_or_else(|p| p.into_inner()),
            RwLockImp::Std(l) => l.into_inner(),
        };
        self.poison.result(value)
    }

    /// The value, through the lock's exclusive borrow: no locking needed (inside a
    /// `PoisonError` if it is poisoned).
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let value = match &mut self.imp {
            RwLockImp::Loom(l) => l.get_mut().unwrap_or_else(|p| p.into_inner()),
            RwLockImp::Shuttle(l) => l.get_mut().unwrap_or_else(|p| p.into_inner()),
            RwLockImp::Std(l) => l.get_mut(),
        };
        self.poison.result(value)
    }
}

impl<T: Default> Default for RwLock<T> {
    #[track_caller]
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

// SAFETY: std's bounds. Every engine's lock is Send and Sync under them (`_engines_agree`
// checks it); written out so that a missing bound is reported on the user's type.
unsafe impl<T: Send> Send for RwLock<T> {}
unsafe impl<T: Send + Sync> Sync for RwLock<T> {}

#[allow(dead_code)]
fn _engines_agree<T: Send + Sync>() {
    fn send_sync<X: Send + Sync>() {}
    send_sync::<RwLockImp<T>>();
}

/// Like std's: `RwLock { data: 5, poisoned: false, .. }`, or `<locked>` for the data while a
/// writer holds it. Never a scheduling point, as for [`super::Mutex`]'s: shuttle's lock shows
/// its data the way std's does, on real threads a `try_read` of the tracked lock, under loom
/// `<unread under loom>`.
impl<T: fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let RwLockImp::Shuttle(l) = &self.imp {
            return fmt::Debug::fmt(l, f);
        }
        let mut out = f.debug_struct("RwLock");
        match &self.imp {
            RwLockImp::Shuttle(_) => unreachable!("shown above"),
            RwLockImp::Loom(_) => out.field("data", &format_args!("<unread under loom>")),
            RwLockImp::Std(l) => match l.try_read() {
                Some(guard) => out.field("data", &&*guard),
                None => out.field("data", &format_args!("<locked>")),
            },
        };
        out.field("poisoned", &self.is_poisoned()).finish_non_exhaustive()
    }
}

impl<T: fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Display> fmt::Display for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Display> fmt::Display for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.imp {
            ReadImp::Loom(g) => g,
            ReadImp::Shuttle(g) => g,
            ReadImp::Std(g) => g,
        }
    }
}

impl<T> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.imp {
            WriteImp::Loom(g) => g,
            WriteImp::Shuttle(g) => g,
            WriteImp::Std(g) => g,
        }
    }
}

impl<T> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match &mut self.imp {
            WriteImp::Loom(g) => &mut *g,
            WriteImp::Shuttle(g) => &mut *g,
            WriteImp::Std(g) => &mut *g,
        }
    }
}

// As std's `RwLock`: a panic while the write lock is held poisons it, so a caught panic cannot
// leave a broken value behind unnoticed.
impl<T> std::panic::UnwindSafe for RwLock<T> {}
impl<T> std::panic::RefUnwindSafe for RwLock<T> {}
