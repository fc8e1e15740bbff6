//! Atomic types, like `std::sync::atomic`. Under loom they explore weak-memory behaviours;
//! under shuttle every operation is a scheduling point.

pub use std::sync::atomic::Ordering;

use super::dispatch;
use crate::rt::record::{self, Tag};
use crate::rt::{self, Engine};
use std::panic::Location;

/// How a value shows in a trace.
pub(crate) trait TraceValue: Copy {
    fn show(self) -> String;
}

macro_rules! unsigned_trace_value {
    ($($t:ty),*) => {$(
        impl TraceValue for $t {
            fn show(self) -> String {
                record::show(self)
            }
        }
    )*};
}
unsigned_trace_value!(u32, u64);

impl TraceValue for usize {
    fn show(self) -> String {
        record::show(self as u64)
    }
}

impl TraceValue for bool {
    fn show(self) -> String {
        self.to_string()
    }
}

macro_rules! signed_trace_value {
    ($($t:ty),*) => {$(
        impl TraceValue for $t {
            fn show(self) -> String {
                self.to_string()
            }
        }
    )*};
}
signed_trace_value!(isize, i32, i64);

/// An atomic fence, like `std::sync::atomic::fence`.
#[track_caller]
pub fn fence(order: Ordering) {
    match rt::engine() {
        Engine::Loom => loom::sync::atomic::fence(order),
        Engine::Shuttle => shuttle::sync::atomic::fence(order),
        Engine::Std => std::sync::atomic::fence(order),
    }
}

macro_rules! atomic_common {
    ($name:ident, $imp:ident, $t:ty) => {
        /// An atomic value, like its namesake in `std::sync::atomic`.
        pub struct $name($imp, Tag);

        enum $imp {
            Loom(loom::sync::atomic::$name),
            Shuttle(shuttle::sync::atomic::$name),
            Std(std::sync::atomic::$name),
        }

        impl $name {
            /// Creates the atomic under the engine of the current run.
            #[track_caller]
            pub fn new(value: $t) -> Self {
                let imp = match rt::engine() {
                    Engine::Loom => $imp::Loom(loom::sync::atomic::$name::new(value)),
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
            fn note(&self, op: &str, value: impl FnOnce() -> String) {
                let engine = match self.0 {
                    $imp::Loom(_) => Engine::Loom,
                    $imp::Shuttle(_) => Engine::Shuttle,
                    $imp::Std(_) => return,
                };
                if record::active() {
                    record::op(engine, Some(&self.1), op, value(), Some(Location::caller()));
                }
            }

            #[track_caller]
            pub fn load(&self, order: Ordering) -> $t {
                let v = dispatch!(&self.0, self.1, $imp, a => a.load(order));
                self.note("load", || v.show());
                v
            }

            #[track_caller]
            pub fn store(&self, value: $t, order: Ordering) {
                dispatch!(&self.0, self.1, $imp, a => a.store(value, order));
                self.note("store", || value.show());
            }

            #[track_caller]
            pub fn swap(&self, value: $t, order: Ordering) -> $t {
                let old = dispatch!(&self.0, self.1, $imp, a => a.swap(value, order));
                self.note("swap", || format!("{} -> {}", old.show(), value.show()));
                old
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
                self.note("compare_exchange", || match result {
                    Ok(old) => format!("{} -> {}", old.show(), new.show()),
                    Err(seen) => format!("failed: saw {}, expected {}", seen.show(), current.show()),
                });
                result
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
                self.note("compare_exchange_weak", || match result {
                    Ok(old) => format!("{} -> {}", old.show(), new.show()),
                    Err(seen) => format!("failed: saw {}, expected {}", seen.show(), current.show()),
                });
                result
            }

            #[track_caller]
            pub fn fetch_and(&self, value: $t, order: Ordering) -> $t {
                let old = dispatch!(&self.0, self.1, $imp, a => a.fetch_and(value, order));
                self.note("fetch_and", || format!("{} -> {}", old.show(), (old & value).show()));
                old
            }

            #[track_caller]
            pub fn fetch_or(&self, value: $t, order: Ordering) -> $t {
                let old = dispatch!(&self.0, self.1, $imp, a => a.fetch_or(value, order));
                self.note("fetch_or", || format!("{} -> {}", old.show(), (old | value).show()));
                old
            }

            #[track_caller]
            pub fn fetch_xor(&self, value: $t, order: Ordering) -> $t {
                let old = dispatch!(&self.0, self.1, $imp, a => a.fetch_xor(value, order));
                self.note("fetch_xor", || format!("{} -> {}", old.show(), (old ^ value).show()));
                old
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($name))
            }
        }
    };
}

macro_rules! atomic_int {
    ($name:ident, $imp:ident, $t:ty) => {
        atomic_common!($name, $imp, $t);

        impl $name {
            #[track_caller]
            pub fn fetch_add(&self, value: $t, order: Ordering) -> $t {
                let old = dispatch!(&self.0, self.1, $imp, a => a.fetch_add(value, order));
                self.note("fetch_add", || format!("{} -> {}", old.show(), (old.wrapping_add(value)).show()));
                old
            }

            #[track_caller]
            pub fn fetch_sub(&self, value: $t, order: Ordering) -> $t {
                let old = dispatch!(&self.0, self.1, $imp, a => a.fetch_sub(value, order));
                self.note("fetch_sub", || format!("{} -> {}", old.show(), (old.wrapping_sub(value)).show()));
                old
            }

            #[track_caller]
            pub fn fetch_max(&self, value: $t, order: Ordering) -> $t {
                let old = dispatch!(&self.0, self.1, $imp, a => a.fetch_max(value, order));
                self.note("fetch_max", || format!("{} -> {}", old.show(), (old.max(value)).show()));
                old
            }

            #[track_caller]
            pub fn fetch_min(&self, value: $t, order: Ordering) -> $t {
                let old = dispatch!(&self.0, self.1, $imp, a => a.fetch_min(value, order));
                self.note("fetch_min", || format!("{} -> {}", old.show(), (old.min(value)).show()));
                old
            }
        }
    };
}

atomic_common!(AtomicBool, AtomicBoolImp, bool);
atomic_int!(AtomicUsize, AtomicUsizeImp, usize);
atomic_int!(AtomicIsize, AtomicIsizeImp, isize);
atomic_int!(AtomicU32, AtomicU32Imp, u32);
atomic_int!(AtomicU64, AtomicU64Imp, u64);
atomic_int!(AtomicI32, AtomicI32Imp, i32);
atomic_int!(AtomicI64, AtomicI64Imp, i64);
