//! A loom atomic with what std's atomics have and loom's lack.
//!
//! - **The value of the latest store**, kept beside the loom atomic. Every facade operation that
//!   stores records it (loom's stores to one atomic are ordered the way they run, so this is the
//!   value loom's own `unsync_load` would return), and `Debug` shows it without asking loom,
//!   which would be a scheduling point.
//! - **`get_mut`**: loom has only `with_mut`, a closure, while std hands out `&mut T`. The facade
//!   checks the exclusive access with loom and lends out the kept value instead; the atomic's
//!   next operation settles the loan, writing back a changed value with loom's `with_mut`, as a
//!   plain write of the thread making that operation (only an operation on the atomic itself is
//!   sure to come after the borrow has ended). That is exact when the next operation comes
//!   before the atomic is shared with another thread again: in a `Drop`, after a join, before it
//!   is moved to another thread or after it was moved. When the changed atomic is shared first,
//!   loom sees the write where the next operation is, later than it was made, and may report it
//!   as racing with another thread's access: a write followed by sharing should use `with_mut`,
//!   which is loom's own and exact.

use std::cell::UnsafeCell;
use std::panic::RefUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// What a [`LoomCell`] needs of a loom atomic beyond its operations.
pub(crate) trait LoomAtomic {
    type Value: Copy + PartialEq;
    /// Reads the value as an exclusive access, which loom checks happens after every other.
    fn exclusive_read(&mut self) -> Self::Value;
    /// Runs `f` on the value inside an exclusive access of the current thread.
    fn exclusive_access<R>(&mut self, f: impl FnOnce(&mut Self::Value) -> R) -> R;
    /// Consumes the atomic; loom checks the read happens after every store.
    fn finish(self) -> Self::Value;
    /// loom's `unsync_load`.
    ///
    /// # Safety
    ///
    /// As loom's: no concurrent store (loom checks it).
    unsafe fn read_unsynchronized(&self) -> Self::Value;
}

/// What a [`LoomCell`] needs of the std atomic that keeps a loom atomic's value: plain relaxed
/// accesses (no body synchronizes through it).
pub(crate) trait Shadow {
    type Value: Copy;
    fn create(value: Self::Value) -> Self;
    fn get(&self) -> Self::Value;
    fn set(&self, value: Self::Value);
    fn get_mut(&mut self) -> &mut Self::Value;
}

/// A loom atomic `A` and its kept value, in a std atomic `S`.
pub(crate) struct LoomCell<A, S> {
    atomic: UnsafeCell<A>,
    latest: S,
    /// The value `get_mut` lent, to tell whether the borrower changed it.
    lent: S,
    on_loan: AtomicBool,
}

impl<A: LoomAtomic, S: Shadow<Value = A::Value>> LoomCell<A, S> {
    pub(crate) fn new(atomic: A, value: A::Value) -> Self {
        LoomCell {
            atomic: UnsafeCell::new(atomic),
            latest: S::create(value),
            lent: S::create(value),
            on_loan: AtomicBool::new(false),
        }
    }

    /// The loom atomic, once any loan is settled. Only called after the engine check (`Tag::expect`): on the
    /// OS thread that runs the loom execution.
    #[inline]
    fn atomic(&self) -> &A {
        if self.on_loan.load(Relaxed) {
            self.settle();
        }
        // SAFETY: the atomic is written only while settling a loan, when no reference to it
        // exists (see `settle`).
        unsafe { &*self.atomic.get() }
    }

    /// Writes back what the borrower of a `get_mut` changed, as a plain write of the current
    /// thread.
    #[cold]
    fn settle(&self) {
        self.on_loan.store(false, Relaxed);
        let value = self.latest.get();
        if value != self.lent.get() {
            // SAFETY: `on_loan` is set only through `&mut self` (`get_mut`), so when it is found
            // set, no operation that began before the loan is still running on the atomic, and
            // every one that began after it settles the loan first, before its first scheduling
            // point. loom runs one simulated thread at a time on this OS thread (callers check
            // that this is that thread), and a write makes no scheduling point: no other
            // reference to the atomic exists while it is written.
            let atomic = unsafe { &mut *self.atomic.get() };
            atomic.exclusive_access(|v| *v = value);
        }
    }

    /// Records the value a facade operation stored.
    #[inline]
    pub(crate) fn stored(&self, value: A::Value) {
        self.latest.set(value);
    }

    /// The value of the latest store, without a scheduling point.
    pub(crate) fn peek(&self) -> A::Value {
        self.latest.get()
    }

    /// Lends the value out, after loom checked this exclusive access happens after every other;
    /// the next operation settles the loan (see the module's doc).
    pub(crate) fn get_mut(&mut self) -> &mut A::Value {
        if *self.on_loan.get_mut() {
            self.settle();
        }
        let value = self.atomic.get_mut().exclusive_read();
        *self.lent.get_mut() = value;
        *self.latest.get_mut() = value;
        *self.on_loan.get_mut() = true;
        self.latest.get_mut()
    }

    /// loom's `with_mut`: `f` runs inside loom's exclusive access, exact under loom.
    pub(crate) fn with_mut<R>(&mut self, f: impl FnOnce(&mut A::Value) -> R) -> R {
        if *self.on_loan.get_mut() {
            self.settle();
        }
        let latest = &mut self.latest;
        self.atomic.get_mut().exclusive_access(|v| {
            let result = f(v);
            *latest.get_mut() = *v;
            result
        })
    }

    pub(crate) fn into_inner(mut self) -> A::Value {
        if *self.on_loan.get_mut() {
            // The loan's exclusive access was checked, and nothing accessed the atomic since,
            // so the lent value is the value.
            self.latest.get()
        } else {
            self.atomic.into_inner().finish()
        }
    }

    /// loom's `unsync_load`, once any loan is settled.
    ///
    /// # Safety
    ///
    /// As loom's: no concurrent store (loom checks it).
    pub(crate) unsafe fn unsync_load(&self) -> A::Value {
        // SAFETY: the caller's promise.
        unsafe { self.atomic().read_unsynchronized() }
    }
}

/// Operations of the loom atomic, once any loan is settled.
impl<A: LoomAtomic, S: Shadow<Value = A::Value>> std::ops::Deref for LoomCell<A, S> {
    type Target = A;
    #[inline]
    fn deref(&self) -> &A {
        self.atomic()
    }
}

// SAFETY: the loom atomic is Send and Sync, and the kept values are std atomics. The one access
// that is not thread-safe by itself, settling a loan, happens only on the OS thread running the
// loom execution, one simulated thread at a time (see `settle`).
unsafe impl<A: Send, S: Send> Send for LoomCell<A, S> {}
unsafe impl<A: Sync, S: Sync> Sync for LoomCell<A, S> {}
// A panic cannot leave the cell half-updated: a loan is settled by one write.
impl<A, S> RefUnwindSafe for LoomCell<A, S> {}
