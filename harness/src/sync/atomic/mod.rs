//! Atomic types, like `std::sync::atomic`: every integer width std has on 64-bit targets,
//! `AtomicBool` and `AtomicPtr`. Under loom they explore weak-memory behaviours; under shuttle
//! every operation is a scheduling point.
//!
//! Where loom lacks what std has, the facade adds it with the same semantics:
//! - `get_mut` (loom has only `with_mut`): see `loom_cell`;
//! - `Debug` showing the value: loom's atomics cannot be read without a scheduling point, so
//!   the facade keeps the value of the latest store beside each one (see `loom_cell`); under
//!   shuttle and on real threads `Debug` reads the value the way their own `Debug` does;
//! - `AtomicBool::fetch_not` is loom's `fetch_xor(true)`, the same single read-modify-write;
//! - `AtomicPtr`'s `fetch_ptr_add`, `fetch_byte_add`, `fetch_or` and the like are, under loom,
//!   loom's own load and compare-exchange loop (`update`): the same outcomes, with the window
//!   between the load and the exchange explored as well.
//!
//! **`SeqCst` under loom.** loom models `SeqCst` loads and stores more weakly than C++20, whose
//! `SeqCst` operations are in one total order that every `SeqCst` load reads the latest store
//! of (or a non-`SeqCst` one that does not happen before it): loom's modification order is
//! partial, and a `SeqCst` load skips an older store only when a newer one is ordered after it
//! and both are `SeqCst`. So loom let a `SeqCst` load read a value another thread's `SeqCst`
//! store had already replaced, and failed correct `SeqCst` code: store buffering, Dekker's and
//! Peterson's locks. Two changes make loom's `SeqCst` loads read the latest `SeqCst` store, in
//! the order loom ran them, which is a total order as C++ requires:
//! - A `SeqCst` store is loom's `SeqCst` swap: a read-modify-write, which loom orders after the
//!   store it replaces, so the `SeqCst` stores of one atomic form a chain in the order they
//!   ran. (It also acquires the store it replaced, as a store would not: the one thing this
//!   adds beyond C++.)
//! - The initial value is stored once more, as a `SeqCst` store, right after loom creates the
//!   atomic: the value an atomic is created with is not `SeqCst`, so without it a `SeqCst` load
//!   could read the initial value after another thread's first `SeqCst` store. It writes the
//!   same value from the thread that made the atomic, which every thread that reaches the
//!   atomic has synchronized with; no other thread has touched a new atomic, so loom's
//!   partial-order reduction adds no schedules for it.
//!
//! What loom still models weaker than C++: a `SeqCst` load may read a non-`SeqCst` store that
//! happens before a later `SeqCst` store of the same atomic.
//!
//! `fetch_update`, `try_update` and `update` are a load and a `compare_exchange_weak` loop, as
//! std documents them, made of the facade's own operations: a trace shows every attempt.

pub use std::sync::atomic::{compiler_fence, Ordering};

mod loom_cell;

use super::dispatch;
use crate::rt::record::{self, Tag};
use crate::rt::{self, Engine};
use crate::trace::{Scalar, Value};
use loom_cell::{LoomAtomic, LoomCell, Shadow};
use std::panic::Location;

/// A value as a trace records it (the reports crate renders it).
pub(crate) trait TraceValue: Copy {
    fn scalar(self) -> Scalar;
}

macro_rules! unsigned_trace_value {
    ($($t:ty),*) => {$(
        impl TraceValue for $t {
            fn scalar(self) -> Scalar {
                Scalar::Unsigned(self as u64)
            }
        }
    )*};
}
unsigned_trace_value!(u8, u16, u32, u64, usize);

impl TraceValue for bool {
    fn scalar(self) -> Scalar {
        Scalar::Bool(self)
    }
}

macro_rules! signed_trace_value {
    ($($t:ty),*) => {$(
        impl TraceValue for $t {
            fn scalar(self) -> Scalar {
                Scalar::Signed(self as i64)
            }
        }
    )*};
}
signed_trace_value!(i8, i16, i32, i64, isize);

/// Pointers are their address (0 for null).
impl<T> TraceValue for *mut T {
    fn scalar(self) -> Scalar {
        Scalar::Address(self.addr() as u64)
    }
}

/// An atomic fence, like `std::sync::atomic::fence`.
#[track_caller]
pub fn fence(order: Ordering) {
    match rt::engine() {
        Engine::Loom => loom::sync::atomic::fence(order),
        Engine::Shuttle => shuttle::sync::atomic::fence(order),
        Engine::Std => std::sync::atomic::fence(order),
    }
}

/// Signals a busy-wait loop, like loom's `spin_loop_hint`: [`crate::hint::spin_loop`], a
/// scheduling point under the model checkers. (std deprecated its own in favour of
/// `std::hint::spin_loop`.)
#[track_caller]
pub fn spin_loop_hint() {
    crate::hint::spin_loop();
}

/// The load ordering of a read-modify-write that is emulated by a load and a compare-exchange
/// (a load cannot be `Release`).
fn load_order(order: Ordering) -> Ordering {
    match order {
        Ordering::Release => Ordering::Relaxed,
        Ordering::AcqRel => Ordering::Acquire,
        order => order,
    }
}

macro_rules! loom_and_shadow {
    ($name:ident, $t:ty $(, $gen:ident)?) => {
        loom_and_shadow!(@loom $name, $t, |a| a.with_mut(|v| *v), |a, f| a.with_mut(f) $(, $gen)?);
        loom_and_shadow!(@shadow $name, $t $(, $gen)?);
    };
    (@loom $name:ident, $t:ty, |$a:ident| $exclusive_read:expr, |$b:ident, $f:ident| $access:expr $(, $gen:ident)?) => {
        impl<$($gen)?> LoomAtomic for loom::sync::atomic::$name<$($gen)?> {
            type Value = $t;
            #[track_caller]
            fn exclusive_read(&mut self) -> $t {
                let $a = self;
                $exclusive_read
            }
            #[track_caller]
            fn exclusive_access<R>(&mut self, f: impl FnOnce(&mut $t) -> R) -> R {
                let ($b, $f) = (self, f);
                $access
            }
            #[track_caller]
            fn finish(self) -> $t {
                self.into_inner()
            }
            #[track_caller]
            unsafe fn read_unsynchronized(&self) -> $t {
                // SAFETY: the caller's promise; loom checks it.
                unsafe { self.unsync_load() }
            }
        }
    };
    (@shadow $name:ident, $t:ty $(, $gen:ident)?) => {
        impl<$($gen)?> Shadow for std::sync::atomic::$name<$($gen)?> {
            type Value = $t;
            fn create(value: $t) -> Self {
                Self::new(value)
            }
            #[inline]
            fn get(&self) -> $t {
                self.load(std::sync::atomic::Ordering::Relaxed)
            }
            #[inline]
            fn set(&self, value: $t) {
                self.store(value, std::sync::atomic::Ordering::Relaxed)
            }
            fn get_mut(&mut self) -> &mut $t {
                self.get_mut()
            }
        }
    };
}

// loom's AtomicBool has no `with_mut`: its exclusive read is an `unsync_load`, which loom checks
// happens after every store (though not after every load), and a changed value is a new
// atomic, whose creation loom counts as a plain write of the thread that makes it.
loom_and_shadow!(@loom AtomicBool, bool, |a| unsafe {
    // SAFETY: `&mut` excludes any concurrent access.
    a.unsync_load()
}, |a, f| {
    // SAFETY: `&mut` excludes any concurrent access.
    let mut value = unsafe { a.unsync_load() };
    let before = value;
    let result = f(&mut value);
    if value != before {
        *a = loom::sync::atomic::AtomicBool::new(value);
    }
    result
});
loom_and_shadow!(@shadow AtomicBool, bool);

macro_rules! atomic_common {
    ($name:ident, $imp:ident, $t:ty, $default:expr $(, $gen:ident)?) => {

        /// An atomic value, like its namesake in `std::sync::atomic`.
        pub struct $name<$($gen)?>($imp<$($gen)?>, Tag);

        enum $imp<$($gen)?> {
            Loom(LoomCell<loom::sync::atomic::$name<$($gen)?>, std::sync::atomic::$name<$($gen)?>>),
            Shuttle(shuttle::sync::atomic::$name<$($gen)?>),
            Std(std::sync::atomic::$name<$($gen)?>),
        }

        impl<$($gen)?> $name<$($gen)?> {
            /// Creates the atomic under the engine of the current run. (std's `new` is a `const
            /// fn`; this one cannot be: it asks which engine the run is in.)
            #[track_caller]
            pub fn new(value: $t) -> Self {
                let imp = match rt::engine() {
                    Engine::Loom => {
                        let atomic = loom::sync::atomic::$name::new(value);
                        // The initial value once more, as a `SeqCst` store: see the module's
                        // docs, `SeqCst` under loom.
                        atomic.store(value, Ordering::SeqCst);
                        $imp::Loom(LoomCell::new(atomic, value))
                    }
                    Engine::Shuttle => $imp::Shuttle(shuttle::sync::atomic::$name::new(value)),
                    Engine::Std => $imp::Std(std::sync::atomic::$name::new(value)),
                };
                $name(imp, Tag::new(stringify!($name), Location::caller()))
            }

            /// Creates the atomic with a name that traces show instead of its creation site.
            #[track_caller]
            pub fn named(name: &'static str, value: $t) -> Self {
                let mut atomic = Self::new(value);
                atomic.1 = atomic.1.with_name(name);
                atomic
            }

            /// Records `op` with the values `value` shows, when a failure is being replayed.
            #[track_caller]
            #[inline]
            fn note(&self, op: &str, value: impl FnOnce() -> Value) {
                let engine = match self.0 {
                    $imp::Loom(_) => Engine::Loom,
                    $imp::Shuttle(_) => Engine::Shuttle,
                    $imp::Std(_) => return,
                };
                if record::active() {
                    record::op(engine, Some(&self.1), op, Some(value()), Some(Location::caller()));
                }
            }

            /// Records `value` as the latest store (what loom's cell shows and lends).
            #[inline]
            fn stored(&self, value: $t) {
                if let $imp::Loom(cell) = &self.0 {
                    cell.stored(value);
                }
            }

            /// Notes a read-modify-write that replaced `old` by `new`.
            #[track_caller]
            #[inline]
            fn modified(&self, op: &str, old: $t, new: $t) -> $t {
                self.stored(new);
                self.note(op, || Value::Replaced { old: old.scalar(), new: new.scalar() });
                old
            }

            /// The value, without a scheduling point (for `Debug`).
            fn peek(&self) -> $t {
                match &self.0 {
                    $imp::Loom(cell) => cell.peek(),
                    // SAFETY: `raw_load` reads the value without a context switch; shuttle's
                    // own `Debug` does the same.
                    $imp::Shuttle(a) => unsafe { a.raw_load() },
                    $imp::Std(a) => a.load(Ordering::Relaxed),
                }
            }

            #[track_caller]
            pub fn load(&self, order: Ordering) -> $t {
                let v = dispatch!(&self.0, self.1, $imp, a => a.load(order));
                self.note("load", || Value::Read(v.scalar()));
                v
            }

            #[track_caller]
            pub fn store(&self, value: $t, order: Ordering) {
                match &self.0 {
                    // A swap, which loom orders after the store it replaces: see the module's
                    // docs, `SeqCst` under loom.
                    $imp::Loom(a) if order == Ordering::SeqCst => {
                        self.1.expect(Engine::Loom);
                        a.swap(value, order);
                    }
                    _ => dispatch!(&self.0, self.1, $imp, a => a.store(value, order)),
                }
                self.stored(value);
                self.note("store", || Value::Written(value.scalar()));
            }

            #[track_caller]
            pub fn swap(&self, value: $t, order: Ordering) -> $t {
                let old = dispatch!(&self.0, self.1, $imp, a => a.swap(value, order));
                self.modified("swap", old, value)
            }

            #[track_caller]
            pub fn compare_exchange(
                &self,
                current: $t,
                new: $t,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$t, $t> {
                let result = dispatch!(&self.0, self.1, $imp, a => a.compare_exchange(current, new, success, failure));
                self.exchanged("compare_exchange", result, current, new)
            }

            #[track_caller]
            pub fn compare_exchange_weak(
                &self,
                current: $t,
                new: $t,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$t, $t> {
                let result = dispatch!(&self.0, self.1, $imp, a => a.compare_exchange_weak(current, new, success, failure));
                self.exchanged("compare_exchange_weak", result, current, new)
            }

            /// `compare_exchange` with one ordering, as loom and shuttle still offer it (std
            /// deprecated it in favour of `compare_exchange`). Returns the previous value.
            #[track_caller]
            pub fn compare_and_swap(&self, current: $t, new: $t, order: Ordering) -> $t {
                match self.compare_exchange(current, new, order, load_order(order)) {
                    Ok(v) | Err(v) => v,
                }
            }

            #[track_caller]
            #[inline]
            fn exchanged(&self, op: &str, result: Result<$t, $t>, current: $t, new: $t) -> Result<$t, $t> {
                if result.is_ok() {
                    self.stored(new);
                }
                self.note(op, || match result {
                    Ok(old) => Value::Replaced { old: old.scalar(), new: new.scalar() },
                    Err(seen) => Value::ExchangeFailed { seen: seen.scalar(), expected: current.scalar() },
                });
                result
            }

            /// Applies `f` to the value until a `compare_exchange_weak` installs its result, or
            /// `f` returns `None`: `Ok` with the value replaced, `Err` with the last value seen.
            /// Every load and attempt is an operation of its own, as in std.
            #[track_caller]
            pub fn fetch_update<F>(&self, set_order: Ordering, fetch_order: Ordering, f: F) -> Result<$t, $t>
            where
                F: FnMut($t) -> Option<$t>,
            {
                self.try_update(set_order, fetch_order, f)
            }

            /// std's new name for [`Self::fetch_update`].
            #[track_caller]
            pub fn try_update(
                &self,
                set_order: Ordering,
                fetch_order: Ordering,
                mut f: impl FnMut($t) -> Option<$t>,
            ) -> Result<$t, $t> {
                let mut prev = self.load(fetch_order);
                while let Some(next) = f(prev) {
                    match self.compare_exchange_weak(prev, next, set_order, fetch_order) {
                        Ok(old) => return Ok(old),
                        Err(seen) => prev = seen,
                    }
                }
                Err(prev)
            }

            /// Like [`Self::try_update`] with an `f` that always gives a value: returns the
            /// value it replaced.
            #[track_caller]
            pub fn update(&self, set_order: Ordering, fetch_order: Ordering, mut f: impl FnMut($t) -> $t) -> $t {
                match self.try_update(set_order, fetch_order, |v| Some(f(v))) {
                    Ok(old) | Err(old) => old,
                }
            }

            /// A mutable reference to the value: no other thread can access it meanwhile.
            /// Under loom, the access is checked to happen after every other (as loom's
            /// `with_mut` does).
            #[track_caller]
            pub fn get_mut(&mut self) -> &mut $t {
                match &mut self.0 {
                    $imp::Loom(cell) => {
                        self.1.expect(Engine::Loom);
                        cell.get_mut()
                    }
                    $imp::Shuttle(a) => {
                        self.1.expect(Engine::Shuttle);
                        a.get_mut()
                    }
                    $imp::Std(a) => a.get_mut(),
                }
            }

            /// loom's form of [`Self::get_mut`]: runs `f` on the value. Under loom it is loom's
            /// own exclusive access, exact however the atomic is shared afterwards.
            #[track_caller]
            pub fn with_mut<R>(&mut self, f: impl FnOnce(&mut $t) -> R) -> R {
                match &mut self.0 {
                    $imp::Loom(cell) => {
                        self.1.expect(Engine::Loom);
                        cell.with_mut(f)
                    }
                    _ => f(self.get_mut()),
                }
            }

            /// Consumes the atomic and returns its value.
            #[track_caller]
            pub fn into_inner(self) -> $t {
                match self.0 {
                    $imp::Loom(cell) => {
                        self.1.expect(Engine::Loom);
                        cell.into_inner()
                    }
                    $imp::Shuttle(a) => {
                        self.1.expect(Engine::Shuttle);
                        a.into_inner()
                    }
                    $imp::Std(a) => a.into_inner(),
                }
            }

            /// Reads the value without synchronization, like loom's `unsync_load`: under loom
            /// a read that does not happen after every store is a finding.
            ///
            /// # Safety
            ///
            /// No other thread may store to the atomic concurrently (a non-atomic read of a
            /// value being written is undefined behaviour on real threads).
            #[track_caller]
            pub unsafe fn unsync_load(&self) -> $t {
                match &self.0 {
                    $imp::Loom(cell) => {
                        self.1.expect(Engine::Loom);
                        // SAFETY: the caller's promise; loom checks it.
                        unsafe { cell.unsync_load() }
                    }
                    $imp::Shuttle(a) => {
                        self.1.expect(Engine::Shuttle);
                        // SAFETY: the caller's promise; shuttle reads without a switch.
                        unsafe { a.raw_load() }
                    }
                    // SAFETY: the caller promises no concurrent store, so the plain read of the
                    // atomic's memory does not race.
                    $imp::Std(a) => unsafe { std::ptr::read(a.as_ptr()) },
                }
            }
        }

        impl<$($gen)?> Default for $name<$($gen)?> {
            #[track_caller]
            fn default() -> Self {
                Self::new($default)
            }
        }

        impl<$($gen)?> From<$t> for $name<$($gen)?> {
            #[track_caller]
            fn from(value: $t) -> Self {
                Self::new(value)
            }
        }

        /// Shows the value like std's `Debug`, read without a scheduling point: under loom the
        /// value of the latest store, under shuttle and on real threads what their own `Debug`
        /// reads.
        impl<$($gen)?> std::fmt::Debug for $name<$($gen)?> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&self.peek(), f)
            }
        }
    };
}

macro_rules! atomic_int {
    ($name:ident, $imp:ident, $t:ty) => {
        loom_and_shadow!($name, $t);
        atomic_common!($name, $imp, $t, 0);

        impl $name {
            #[track_caller]
            pub fn fetch_add(&self, value: $t, order: Ordering) -> $t {
                let old = dispatch!(&self.0, self.1, $imp, a => a.fetch_add(value, order));
                self.modified("fetch_add", old, old.wrapping_add(value))
            }

            #[track_caller]
            pub fn fetch_sub(&self, value: $t, order: Ordering) -> $t {
                let old = dispatch!(&self.0, self.1, $imp, a => a.fetch_sub(value, order));
                self.modified("fetch_sub", old, old.wrapping_sub(value))
            }

            #[track_caller]
            pub fn fetch_and(&self, value: $t, order: Ordering) -> $t {
                let old = dispatch!(&self.0, self.1, $imp, a => a.fetch_and(value, order));
                self.modified("fetch_and", old, old & value)
            }

            #[track_caller]
            pub fn fetch_nand(&self, value: $t, order: Ordering) -> $t {
                let old = dispatch!(&self.0, self.1, $imp, a => a.fetch_nand(value, order));
                self.modified("fetch_nand", old, !(old & value))
            }

            #[track_caller]
            pub fn fetch_or(&self, value: $t, order: Ordering) -> $t {
                let old = dispatch!(&self.0, self.1, $imp, a => a.fetch_or(value, order));
                self.modified("fetch_or", old, old | value)
            }

            #[track_caller]
            pub fn fetch_xor(&self, value: $t, order: Ordering) -> $t {
                let old = dispatch!(&self.0, self.1, $imp, a => a.fetch_xor(value, order));
                self.modified("fetch_xor", old, old ^ value)
            }

            #[track_caller]
            pub fn fetch_max(&self, value: $t, order: Ordering) -> $t {
                let old = dispatch!(&self.0, self.1, $imp, a => a.fetch_max(value, order));
                self.modified("fetch_max", old, old.max(value))
            }

            #[track_caller]
            pub fn fetch_min(&self, value: $t, order: Ordering) -> $t {
                let old = dispatch!(&self.0, self.1, $imp, a => a.fetch_min(value, order));
                self.modified("fetch_min", old, old.min(value))
            }
        }
    };
}

atomic_common!(AtomicBool, AtomicBoolImp, bool, false);
atomic_int!(AtomicU8, AtomicU8Imp, u8);
atomic_int!(AtomicI8, AtomicI8Imp, i8);
atomic_int!(AtomicU16, AtomicU16Imp, u16);
atomic_int!(AtomicI16, AtomicI16Imp, i16);
atomic_int!(AtomicU32, AtomicU32Imp, u32);
atomic_int!(AtomicI32, AtomicI32Imp, i32);
atomic_int!(AtomicU64, AtomicU64Imp, u64);
atomic_int!(AtomicI64, AtomicI64Imp, i64);
atomic_int!(AtomicUsize, AtomicUsizeImp, usize);
atomic_int!(AtomicIsize, AtomicIsizeImp, isize);
loom_and_shadow!(AtomicPtr, *mut T, T);
atomic_common!(AtomicPtr, AtomicPtrImp, *mut T, std::ptr::null_mut(), T);

impl AtomicBool {
    #[track_caller]
    pub fn fetch_and(&self, value: bool, order: Ordering) -> bool {
        let old = dispatch!(&self.0, self.1, AtomicBoolImp, a => a.fetch_and(value, order));
        self.modified("fetch_and", old, old & value)
    }

    #[track_caller]
    pub fn fetch_nand(&self, value: bool, order: Ordering) -> bool {
        let old = dispatch!(&self.0, self.1, AtomicBoolImp, a => a.fetch_nand(value, order));
        self.modified("fetch_nand", old, !(old & value))
    }

    #[track_caller]
    pub fn fetch_or(&self, value: bool, order: Ordering) -> bool {
        let old = dispatch!(&self.0, self.1, AtomicBoolImp, a => a.fetch_or(value, order));
        self.modified("fetch_or", old, old | value)
    }

    #[track_caller]
    pub fn fetch_xor(&self, value: bool, order: Ordering) -> bool {
        let old = dispatch!(&self.0, self.1, AtomicBoolImp, a => a.fetch_xor(value, order));
        self.modified("fetch_xor", old, old ^ value)
    }

    /// Negates the value, returning the previous one.
    #[track_caller]
    pub fn fetch_not(&self, order: Ordering) -> bool {
        let old = match &self.0 {
            AtomicBoolImp::Loom(a) => {
                self.1.expect(Engine::Loom);
                // loom has no fetch_not; xor with true is the same read-modify-write.
                a.fetch_xor(true, order)
            }
            AtomicBoolImp::Shuttle(a) => {
                self.1.expect(Engine::Shuttle);
                a.fetch_not(order)
            }
            AtomicBoolImp::Std(a) => a.fetch_not(order),
        };
        self.modified("fetch_not", old, !old)
    }
}

/// The read-modify-writes of `AtomicPtr` that std has: one operation under shuttle and on real
/// threads, loom's load and compare-exchange loop under loom (loom has none of them).
macro_rules! pointer_rmw {
    ($($(#[$doc:meta])* $op:ident($arg:ident) => |$p:ident| $new:expr;)*) => {
        impl<T> AtomicPtr<T> {
            $(
                $(#[$doc])*
                #[track_caller]
                pub fn $op(&self, $arg: usize, order: Ordering) -> *mut T {
                    let old = match &self.0 {
                        AtomicPtrImp::Loom(a) => {
                            self.1.expect(Engine::Loom);
                            a.update(order, load_order(order), |$p: *mut T| $new)
                        }
                        AtomicPtrImp::Shuttle(a) => {
                            self.1.expect(Engine::Shuttle);
                            a.$op($arg, order)
                        }
                        AtomicPtrImp::Std(a) => a.$op($arg, order),
                    };
                    let $p = old;
                    self.modified(stringify!($op), old, $new)
                }
            )*
        }
    };
}

pointer_rmw! {
    /// Offsets the pointer by `val` elements of `T` (wrapping), returning the previous pointer.
    fetch_ptr_add(val) => |p| p.wrapping_add(val);
    /// Offsets the pointer back by `val` elements of `T` (wrapping), returning the previous one.
    fetch_ptr_sub(val) => |p| p.wrapping_sub(val);
    /// Offsets the pointer by `val` bytes (wrapping), returning the previous pointer.
    fetch_byte_add(val) => |p| p.wrapping_byte_add(val);
    /// Offsets the pointer back by `val` bytes (wrapping), returning the previous pointer.
    fetch_byte_sub(val) => |p| p.wrapping_byte_sub(val);
    /// Ors `val` into the pointer's address, keeping its provenance (tag bits).
    fetch_or(val) => |p| p.map_addr(|a| a | val);
    /// Ands `val` into the pointer's address, keeping its provenance (tag bits).
    fetch_and(val) => |p| p.map_addr(|a| a & val);
    /// Xors `val` into the pointer's address, keeping its provenance (tag bits).
    fetch_xor(val) => |p| p.map_addr(|a| a ^ val);
}

impl<T> std::fmt::Pointer for AtomicPtr<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Pointer::fmt(&self.peek(), f)
    }
}
