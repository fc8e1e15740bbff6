//! Hints, like `std::hint` (and `loom::hint`): `spin_loop` is a scheduling point under the
//! model checkers, and the unchecked assertions check.

pub use std::hint::black_box;

use crate::rt::{self, Engine};

/// Signals a busy-wait loop. Under loom and shuttle it yields to the other threads (as their
/// own `spin_loop` does): a spin loop that calls it lets the awaited thread run, where one
/// that does not would never end under a model checker. On real threads it is std's.
#[track_caller]
pub fn spin_loop() {
    match rt::engine() {
        Engine::Loom => loom::hint::spin_loop(),
        Engine::Shuttle => shuttle::hint::spin_loop(),
        Engine::Std => std::hint::spin_loop(),
    }
}

/// std's promise that this point is never reached, checked: reaching it panics, on every
/// engine (as loom's does), so the body fails there instead of running into undefined
/// behaviour.
///
/// # Safety
///
/// Calling it is safe in fact; it is `unsafe` to keep std's signature, so that code written
/// against std compiles unchanged.
#[track_caller]
pub unsafe fn unreachable_unchecked() -> ! {
    panic!("unreachable_unchecked was reached: the code promised this point is never reached")
}

/// std's promise that `cond` holds, checked: a false `cond` panics, on every engine.
///
/// # Safety
///
/// As for [`unreachable_unchecked`]: safe in fact, `unsafe` for std's signature.
#[track_caller]
pub unsafe fn assert_unchecked(cond: bool) {
    if !cond {
        panic!("assert_unchecked was given false: the code promised the condition holds")
    }
}
