//! The execution context of the current thread: which engine facade objects dispatch to, and
//! the capture of panics raised inside a run.
//!
//! The engine is chosen when a body runs, not when it compiles. loom and shuttle run every
//! simulated thread as a coroutine on the OS thread that started the exploration, so a
//! thread-local set there is seen by all of them; the stress engine runs real threads, and
//! `lockhound::thread::spawn` carries the context into each one it starts.

pub(crate) mod limit;
pub(crate) mod panic;
pub(crate) mod record;
pub(crate) mod std_run;
pub(crate) mod unwind;

use std::cell::Cell;

/// The engine behind facade objects created on this thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Engine {
    Loom,
    Shuttle,
    Std,
}

thread_local! {
    static ENGINE: Cell<Option<Engine>> = const { Cell::new(None) };
}

/// The engine of the run this thread is in. Panics with an explanation outside a run, where a
/// facade object has nothing to dispatch to.
#[track_caller]
#[inline]
pub(crate) fn engine() -> Engine {
    match ENGINE.with(Cell::get) {
        Some(engine) => engine,
        None => outside_run(),
    }
}

/// The model-checked engine of this thread's run, if any (for objects that look the same
/// under shuttle and real threads, like a plain `UnsafeCell`).
#[inline]
pub(crate) fn model_engine() -> Option<Engine> {
    match ENGINE.with(Cell::get) {
        Some(Engine::Std) | None => None,
        model => model,
    }
}

/// Whether this thread is inside a lockhound run.
pub(crate) fn in_run() -> bool {
    ENGINE.with(Cell::get).is_some()
}

/// Panics unless this thread is in a run of `expected`'s engine: loom and shuttle objects
/// are only valid inside the execution that created them, and touching one elsewhere would
/// otherwise fail deep inside the model checker with a message about its internals.
#[track_caller]
#[inline]
pub(crate) fn expect_engine(expected: Engine) {
    if ENGINE.with(Cell::get) != Some(expected) {
        used_elsewhere(expected);
    }
}

#[cold]
#[track_caller]
fn outside_run() -> ! {
    panic!(
        "lockhound facade used outside a run: create and use lockhound::sync and \
         lockhound::thread objects only inside a body run by lockhound::check or a scenario"
    )
}

#[cold]
#[track_caller]
fn used_elsewhere(created_under: Engine) -> ! {
    panic!(
        "lockhound facade object created under the {created_under:?} engine was used outside \
         the execution that created it (objects must not escape the run or be kept in statics)"
    )
}

/// Restores the previous engine when dropped, so nested or failed runs leave no state behind.
pub(crate) struct EngineScope(Option<Engine>);

/// Makes `engine` the current engine of this thread until the returned scope is dropped.
pub(crate) fn enter(engine: Engine) -> EngineScope {
    panic::install_quiet_hook();
    EngineScope(ENGINE.with(|e| e.replace(Some(engine))))
}

impl Drop for EngineScope {
    fn drop(&mut self) {
        ENGINE.with(|e| e.set(self.0));
    }
}
