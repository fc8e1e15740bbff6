//! Who is unwinding, and what may be dropped meanwhile.
//!
//! A panic the body raises (an assertion, or a panic it catches itself) unwinds like any
//! other: loom's guards and `Arc`s are dropped as usual, so a mutex locked by the panicking
//! code is released (and poisoned) and a body that catches the panic goes on with it.
//!
//! loom itself cannot be called into while it fails an execution: when loom panics from inside
//! one of its calls (a deadlock, a data race, a branch limit) its state is mid-update, and when
//! it tears down the threads of a failed execution (cancelling their coroutines, which unwinds
//! them) the execution is gone. A loom guard or `Arc` dropped then panics inside loom again,
//! and a panic in a destructor during cleanup aborts the whole process. Drops of loom's values
//! are skipped in exactly those unwindings ([`loom_values_droppable`]): the execution has failed, so the
//! lock it leaves held or the count it leaves raised is never looked at again. The panic hook
//! tells them apart ([`super::panic`]): a cancelled coroutine's payload is generator's
//! `Cancel`, and loom's own panics are raised in loom's sources.

use std::cell::Cell;

/// Who raised the panic that this thread's unwinding (if any) began with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The body: user code, or the harness on its behalf.
    Body,
    /// The engine, failing the execution from inside one of its own calls.
    Engine,
    /// The engine, tearing down the threads of a failed execution.
    Teardown,
}

thread_local! {
    static ORIGIN: Cell<Origin> = const { Cell::new(Origin::Body) };
}

/// Notes who raised the panic that starts now (from the panic hook).
pub(crate) fn set_origin(origin: Origin) {
    ORIGIN.with(|o| o.set(origin));
}

/// Whether this thread is unwinding because loom fails or tears down the execution: loom must
/// not be called into.
pub(crate) fn engine_failing() -> bool {
    std::thread::panicking() && ORIGIN.with(Cell::get) != Origin::Body
}

/// Whether this thread unwinds because an engine tears down a failed execution rather than
/// because a panic of the body unwinds: loom cancelling a thread's coroutine, or shuttle
/// unwinding a task's stack at teardown (which it does without a panic). Nothing that happens
/// then is the body's doing: no lock is poisoned, no panic escapes.
pub(crate) fn teardown() -> bool {
    std::thread::panicking()
        && match super::model_engine() {
            Some(super::Engine::Loom) => ORIGIN.with(Cell::get) == Origin::Teardown,
            Some(super::Engine::Shuttle) => {
                shuttle_engine::runtime::execution::ExecutionState::unwinding_for_teardown()
            }
            _ => false,
        }
}

/// Whether the engine is gone for this thread: it fails or tears down the execution, or the
/// value is dropped outside the execution altogether (loom drops the closure of a thread that
/// never started after the execution is over, on the scheduler's own stack). Drop impls that
/// would call into the engine (a loom guard, a channel end, a scoped thread's count) do
/// nothing then: no one is left to see it.
pub(crate) fn engine_gone() -> bool {
    engine_failing() || teardown() || !inside_execution()
}

/// Whether the calling code runs inside the model-checked execution of its engine: in one of
/// loom's coroutines (outside them loom's state is not set), or while shuttle's state is set.
fn inside_execution() -> bool {
    match super::model_engine() {
        Some(super::Engine::Loom) => generator::is_generator(),
        Some(super::Engine::Shuttle) => {
            shuttle_engine::runtime::execution::ExecutionState::try_with(|_| ()).is_ok()
        }
        _ => true,
    }
}

/// [`teardown`] for an unwinding a `catch_unwind` stopped (the thread no longer panics then):
/// whether `payload` is an engine's teardown rather than a panic of the body.
pub(crate) fn is_teardown(payload: &(dyn std::any::Any + Send)) -> bool {
    matches!(payload.downcast_ref::<generator::Error>(), Some(generator::Error::Cancel))
        || (super::model_engine() == Some(super::Engine::Shuttle)
            && shuttle_engine::runtime::execution::ExecutionState::unwinding_for_teardown())
}

/// Whether a panic a `catch_unwind` stopped is the engine's (loom failing the execution from
/// inside a call, or an engine's teardown) rather than the body's: it must go on unwinding.
pub(crate) fn is_engine_unwinding(payload: &(dyn std::any::Any + Send)) -> bool {
    is_teardown(payload) || ORIGIN.with(Cell::get) != Origin::Body
}

/// Whether loom's values (a guard, an `Arc`'s count) may be dropped now: not while loom fails
/// or tears down the execution, nor outside loom's coroutines. Otherwise they are leaked: the
/// execution has failed, so the lock left held or the count left raised is never looked at
/// again.
pub(crate) fn loom_values_droppable() -> bool {
    !engine_failing() && inside_execution()
}

#[cfg(test)]
mod tests {
    use super::{engine_failing, set_origin, Origin};

    #[test]
    fn the_body_unwinding_is_not_the_engine_failing() {
        assert!(!engine_failing(), "not unwinding at all");
        for (origin, failing) in [(Origin::Body, false), (Origin::Engine, true), (Origin::Teardown, true)] {
            struct Probe(std::rc::Rc<std::cell::Cell<Option<bool>>>);
            impl Drop for Probe {
                fn drop(&mut self) {
                    self.0.set(Some(engine_failing()));
                }
            }
            let seen = std::rc::Rc::new(std::cell::Cell::new(None));
            let probe = Probe(seen.clone());
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                let _probe = probe;
                // What the panic hook notes when a panic of this origin starts.
                set_origin(origin);
                std::panic::resume_unwind(Box::new("unwinding"));
            }));
            set_origin(Origin::Body);
            assert!(result.is_err());
            assert_eq!(seen.get(), Some(failing), "{origin:?}");
        }
    }
}
