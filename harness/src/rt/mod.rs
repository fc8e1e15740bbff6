//! The execution context of the current thread: which engine facade objects dispatch to,
//! which execution they belong to, and the capture of panics raised inside a run.
//!
//! The engine is chosen when a body runs, not when it compiles. loom and shuttle run every
//! simulated thread as a coroutine on the OS thread that started the exploration, so a
//! thread-local set there is seen by all of them; the stress engine runs real threads, and
//! `lockhound::thread::spawn` carries the context into each one it starts.
//!
//! Every execution (a model checker's, or one iteration on real threads) gets a number of
//! its own when it begins ([`begin_execution`]). Objects remember the number they were created
//! under, so one kept in a `static` and used by a later execution is caught at its first
//! operation, under every engine, instead of failing deep inside a model checker (loom) or
//! passing silently with state from another execution (shuttle).

pub(crate) mod blocking;
pub(crate) mod limit;
pub(crate) mod loom_lock;
pub(crate) mod panic;
pub(crate) mod per_execution;
pub(crate) mod poison;
pub(crate) mod record;
pub(crate) mod std_run;
pub(crate) mod unwind;
pub(crate) mod wait;

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};

/// The engine behind facade objects created on this thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Engine {
    Loom,
    Shuttle,
    Std,
}

/// What a facade operation needs to know about the thread it runs on, read in one go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Context {
    engine: Option<Engine>,
    /// The execution this thread runs, 0 before the first one began.
    execution: u32,
    /// A loom guard waits to be released (see `loom_lock`): the next facade operation's
    /// check takes its slow path, which releases it, so the fast path costs nothing more.
    set_aside: bool,
}

thread_local! {
    static CONTEXT: Cell<Context> =
        const { Cell::new(Context { engine: None, execution: 0, set_aside: false }) };
}

/// Execution numbers, unique in the process: an object from another lane's execution (another
/// OS thread exploring at the same time) is as foreign as one from an earlier execution.
static NEXT_EXECUTION: AtomicU32 = AtomicU32::new(1);

/// Executions begun in this process so far, under every engine, modulo 2^32: what
/// [`crate::progress`] counts (it needs no counter of its own on the hot path).
pub(crate) fn executions_begun() -> u32 {
    NEXT_EXECUTION.load(Ordering::Relaxed).wrapping_sub(1)
}

/// The engine of the run this thread is in. Outside any run (a program's own code, an
/// ordinary test) facade objects are real ones: tracked locks and std's threads, as on the
/// real-thread engine, so a library built on the facade works everywhere, and is explored
/// where a run drives it.
#[inline]
pub(crate) fn engine() -> Engine {
    CONTEXT.with(Cell::get).engine.unwrap_or(Engine::Std)
}

/// Panics if this thread runs a model-checked execution: a real object (created on real
/// threads, or outside any run) used there would block or synchronize behind the model
/// checker's back, which it can neither explore nor see a deadlock in.
#[track_caller]
#[inline]
pub(crate) fn expect_real() {
    if let Some(model @ (Engine::Loom | Engine::Shuttle)) = CONTEXT.with(Cell::get).engine {
        real_object_in_model(model);
    }
}

/// The model-checked engine of this thread's run, if any (for objects that look the same
/// under shuttle and real threads, like a plain `UnsafeCell`).
#[inline]
pub(crate) fn model_engine() -> Option<Engine> {
    match CONTEXT.with(Cell::get).engine {
        Some(Engine::Std) | None => None,
        model => model,
    }
}

/// Whether this thread is inside a lockhound run.
pub(crate) fn in_run() -> bool {
    CONTEXT.with(Cell::get).engine.is_some()
}

/// The number of the execution this thread runs, which objects created now are bound to.
#[inline]
pub(crate) fn execution() -> u32 {
    CONTEXT.with(Cell::get).execution
}

/// Panics unless this thread is in a run of `expected`'s engine: loom and shuttle objects
/// are only valid inside the execution that created them, and touching one elsewhere would
/// otherwise fail deep inside the model checker with a message about its internals.
#[track_caller]
#[inline]
pub(crate) fn expect_engine(expected: Engine) {
    crate::explore::watchdog::facade_call(std::panic::Location::caller());
    if CONTEXT.with(Cell::get).engine != Some(expected) {
        used_elsewhere(expected);
    }
}

/// Panics unless this thread runs execution `born` of `expected`'s engine: the check every
/// operation on a facade object makes (one thread-local read, one comparison).
#[track_caller]
#[inline]
pub(crate) fn expect(expected: Engine, born: u32) {
    // A scheduling point for the watchdog (a beat while a run is watched, else nothing).
    crate::explore::watchdog::facade_call(std::panic::Location::caller());
    if CONTEXT.with(Cell::get) != (Context { engine: Some(expected), execution: born, set_aside: false }) {
        expect_slowly(expected, born);
    }
}

#[cold]
#[track_caller]
fn expect_slowly(expected: Engine, born: u32) {
    let context = CONTEXT.with(Cell::get);
    if context.set_aside {
        loom_lock::release_set_aside();
    }
    if context.engine != Some(expected) || context.execution != born {
        used_elsewhere(expected);
    }
}

/// Whether loom guards wait to be released.
pub(crate) fn any_set_aside() -> bool {
    CONTEXT.with(Cell::get).set_aside
}

/// Notes whether loom guards wait to be released (see [`Context::set_aside`]).
pub(crate) fn set_aside(waiting: bool) {
    CONTEXT.with(|c| c.set(Context { set_aside: waiting, ..c.get() }));
}

#[cold]
#[track_caller]
fn real_object_in_model(model: Engine) -> ! {
    panic!(
        "lockhound facade object created outside this {model:?} execution (on real threads, or \
         before the run began) was used inside it: create the objects a body uses inside the body"
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

/// Restores the previous context when dropped, so nested or failed runs leave no state behind.
pub(crate) struct EngineScope(Context);

/// Makes `engine` the current engine of this thread until the returned scope is dropped.
pub(crate) fn enter(engine: Engine) -> EngineScope {
    let execution = execution();
    enter_execution(engine, execution)
}

/// [`enter`] into a given execution: a real thread the body spawned joins its parent's.
pub(crate) fn enter_execution(engine: Engine, execution: u32) -> EngineScope {
    panic::install_quiet_hook();
    EngineScope(CONTEXT.with(|c| c.replace(Context { engine: Some(engine), execution, set_aside: false })))
}

impl Drop for EngineScope {
    fn drop(&mut self) {
        CONTEXT.with(|c| c.set(self.0));
    }
}

/// Starts a new execution on this thread (the main thread of a model-checked execution, or
/// the body thread of an iteration on real threads): a fresh execution number, no panic
/// recorded yet, and no per-execution state left from the execution before. The execution
/// ends when the returned guard is dropped, at the end of the body's main thread.
pub(crate) fn begin_execution() -> ExecutionGuard {
    let execution = NEXT_EXECUTION.fetch_add(1, Ordering::Relaxed);
    CONTEXT.with(|c| c.set(Context { execution, ..c.get() }));
    panic::clear();
    per_execution::forget();
    blocking::forget();
    record::forget_instances();
    loom_lock::forget_set_aside();
    if model_engine() == Some(Engine::Loom) {
        crate::thread::loom_main_is_current();
    }
    ExecutionGuard(())
}

/// The end of an execution's main thread: drops the state of `Once`, `OnceLock`, `LazyLock`
/// and `lazy_static!` values while the execution can still be called into, and notes a panic
/// that escaped the body.
pub(crate) struct ExecutionGuard(());

impl Drop for ExecutionGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if unwind::engine_failing() {
                per_execution::forget();
                return;
            }
            if !unwind::teardown() {
                panic::escaped();
            }
        } else if model_engine() == Some(Engine::Loom) {
            loom_lock::release_set_aside();
        }
        per_execution::end();
    }
}
