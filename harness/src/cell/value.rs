//! `Cell`, like `std::cell::Cell` (and loom's): built on the facade's [`UnsafeCell`], so that
//! under loom and shuttle every `get` is a checked read and every `set` a checked write. A plain
//! std `Cell` would do on one thread, but a `Cell` that a structure shares between threads
//! (behind its own `unsafe impl Sync`) is exactly where a data race hides.

use super::{SyncNeutral, UnsafeCell};
use std::marker::PhantomData;

/// A mutable value replaced or copied whole, like `std::cell::Cell`; not `Sync`, like std's.
pub struct Cell<T> {
    cell: SyncNeutral<UnsafeCell<T>>,
    /// What makes the cell `!Sync`, as std's is, and what a compiler error names for it.
    _not_sync: PhantomData<std::cell::Cell<T>>,
}

// SAFETY: std's bound: the facade's `UnsafeCell` is `Send` when `T` is; written out so that a
// missing bound is reported on the user's type.
unsafe impl<T: Send> Send for Cell<T> {}

impl<T> Cell<T> {
    /// Creates the cell under the engine of the current run.
    #[track_caller]
    pub fn new(value: T) -> Self {
        Cell { cell: SyncNeutral(UnsafeCell::new(value)), _not_sync: PhantomData }
    }

    /// Creates the cell with a name that traces show instead of its creation site.
    #[track_caller]
    pub fn named(name: &'static str, value: T) -> Self {
        Cell { cell: SyncNeutral(UnsafeCell::named(name, value)), _not_sync: PhantomData }
    }

    fn inner(&self) -> &UnsafeCell<T> {
        &self.cell.0
    }

    /// Sets the value (a write).
    #[track_caller]
    pub fn set(&self, value: T) {
        drop(self.replace(value));
    }

    /// Replaces the value and returns the old one (a write).
    #[track_caller]
    pub fn replace(&self, value: T) -> T {
        // SAFETY: the cell is not `Sync`, and no reference into it outlives a call, so nothing
        // else accesses the value during the write (the checkers check it when a structure
        // claims otherwise).
        self.inner().with_mut(|p| unsafe { std::mem::replace(&mut *p, value) })
    }

    /// Swaps the values of two cells (a write of each).
    #[track_caller]
    pub fn swap(&self, other: &Self) {
        if std::ptr::eq(self, other) {
            return;
        }
        // SAFETY: two distinct cells, neither referenced beyond this call (see `replace`).
        self.inner().with_mut(|mine| other.inner().with_mut(|theirs| unsafe { std::ptr::swap(mine, theirs) }))
    }

    /// Takes the value, leaving `T::default()` (a write).
    #[track_caller]
    pub fn take(&self) -> T
    where
        T: Default,
    {
        self.replace(T::default())
    }

    /// A mutable reference to the value, through the cell's exclusive borrow (a write, which the
    /// model checkers check happens after every other access).
    #[track_caller]
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` excludes every other access for as long as the reference lives.
        self.inner().with_mut(|p| unsafe { &mut *p })
    }

    /// Consumes the cell and returns its value.
    pub fn into_inner(self) -> T {
        self.cell.0.into_inner()
    }
}

impl<T: Copy> Cell<T> {
    /// A copy of the value (a read).
    #[track_caller]
    pub fn get(&self) -> T {
        // SAFETY: see `replace`.
        self.inner().with(|p| unsafe { *p })
    }

    /// Replaces the value by `f` of it: a read, then a write, as std's.
    #[track_caller]
    pub fn update(&self, f: impl FnOnce(T) -> T) {
        self.set(f(self.get()));
    }
}

impl<T: Default> Default for Cell<T> {
    #[track_caller]
    fn default() -> Self {
        Cell::new(T::default())
    }
}

impl<T> From<T> for Cell<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        Cell::new(value)
    }
}

impl<T: Copy> Clone for Cell<T> {
    #[track_caller]
    fn clone(&self) -> Self {
        Cell::new(self.get())
    }
}

/// Like std's: `Cell { value: 5 }` (a read).
impl<T: Copy + std::fmt::Debug> std::fmt::Debug for Cell<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cell").field("value", &self.get()).finish()
    }
}

impl<T: PartialEq + Copy> PartialEq for Cell<T> {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq + Copy> Eq for Cell<T> {}

impl<T: PartialOrd + Copy> PartialOrd for Cell<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.get().partial_cmp(&other.get())
    }
}

impl<T: Ord + Copy> Ord for Cell<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.get().cmp(&other.get())
    }
}
