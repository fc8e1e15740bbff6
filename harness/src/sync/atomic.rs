//! Atomic types, like `std::sync::atomic`. Under loom they explore weak-memory behaviours;
//! under shuttle every operation is a scheduling point.

pub use std::sync::atomic::Ordering;

use super::dispatch;
use crate::rt::{self, Engine};

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
        pub struct $name($imp);

        enum $imp {
            Loom(loom::sync::atomic::$name),
            Shuttle(shuttle::sync::atomic::$name),
            Std(std::sync::atomic::$name),
        }

        impl $name {
            /// Creates the atomic under the engine of the current run.
            #[track_caller]
            pub fn new(value: $t) -> Self {
                $name(match rt::engine() {
                    Engine::Loom => $imp::Loom(loom::sync::atomic::$name::new(value)),
                    Engine::Shuttle => $imp::Shuttle(shuttle::sync::atomic::$name::new(value)),
                    Engine::Std => $imp::Std(std::sync::atomic::$name::new(value)),
                })
            }

            #[track_caller]
            pub fn load(&self, order: Ordering) -> $t {
                dispatch!(&self.0, $imp, a => a.load(order))
            }

            #[track_caller]
            pub fn store(&self, value: $t, order: Ordering) {
                dispatch!(&self.0, $imp, a => a.store(value, order))
            }

            #[track_caller]
            pub fn swap(&self, value: $t, order: Ordering) -> $t {
                dispatch!(&self.0, $imp, a => a.swap(value, order))
            }

            #[track_caller]
            pub fn compare_exchange(
                &self,
                current: $t,
                new: $t,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$t, $t> {
                dispatch!(&self.0, $imp, a => a.compare_exchange(current, new, success, failure))
            }

            #[track_caller]
            pub fn compare_exchange_weak(
                &self,
                current: $t,
                new: $t,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$t, $t> {
                dispatch!(&self.0, $imp, a => a.compare_exchange_weak(current, new, success, failure))
            }

            #[track_caller]
            pub fn fetch_and(&self, value: $t, order: Ordering) -> $t {
                dispatch!(&self.0, $imp, a => a.fetch_and(value, order))
            }

            #[track_caller]
            pub fn fetch_or(&self, value: $t, order: Ordering) -> $t {
                dispatch!(&self.0, $imp, a => a.fetch_or(value, order))
            }

            #[track_caller]
            pub fn fetch_xor(&self, value: $t, order: Ordering) -> $t {
                dispatch!(&self.0, $imp, a => a.fetch_xor(value, order))
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
                dispatch!(&self.0, $imp, a => a.fetch_add(value, order))
            }

            #[track_caller]
            pub fn fetch_sub(&self, value: $t, order: Ordering) -> $t {
                dispatch!(&self.0, $imp, a => a.fetch_sub(value, order))
            }

            #[track_caller]
            pub fn fetch_max(&self, value: $t, order: Ordering) -> $t {
                dispatch!(&self.0, $imp, a => a.fetch_max(value, order))
            }

            #[track_caller]
            pub fn fetch_min(&self, value: $t, order: Ordering) -> $t {
                dispatch!(&self.0, $imp, a => a.fetch_min(value, order))
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
