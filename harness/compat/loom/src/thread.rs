//! `loom::thread`: lockhound's threads, with loom's `spawn`, which takes closures that are
//! not `Send`.
//!
//! loom runs every thread of a model on the one OS thread that runs the model, so its `spawn`
//! asks only for `'static`; tests rely on it (an `Rc` shared between model threads, say).
//! lockhound's own `spawn` asks for `Send`, because under its stress engine a spawned closure
//! really moves to another OS thread. This `spawn` has loom's bound and runs only where that
//! is sound: under lockhound's model checkers (loom and shuttle), which run every simulated
//! thread of an execution as a coroutine on the OS thread of that execution, one at a time.
//! On real threads it refuses with a message saying so, and [`crate::model()`] never picks them.

pub use lockhound::thread::*;

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

std::thread_local! {
    // The body's own thread in the current execution, noted as the execution begins. One per
    // OS thread: every simulated thread of an execution runs on the OS thread of the execution.
    static MAIN: Cell<Option<ThreadId>> = const { Cell::new(None) };
}

/// Notes the calling thread as the body's own thread of the execution that begins.
pub(crate) fn begin_execution() {
    MAIN.with(|m| m.set(Some(lockhound::thread::current().id())));
}

/// A handle to a thread, like loom's: as lockhound's, except that the body's own thread has no
/// name, as in loom (lockhound calls it `"main"` under every engine, as std does).
#[derive(Clone)]
pub struct Thread {
    inner: lockhound::thread::Thread,
}

impl Thread {
    /// The thread's identity.
    pub fn id(&self) -> ThreadId {
        self.inner.id()
    }

    /// The name given to `Builder::name`; `None` for unnamed threads and the body's own.
    pub fn name(&self) -> Option<&str> {
        if MAIN.with(Cell::get) == Some(self.inner.id()) {
            return None;
        }
        self.inner.name()
    }

    /// Makes the thread's park token available, waking it if it is parked.
    #[track_caller]
    pub fn unpark(&self) {
        self.inner.unpark()
    }
}

impl fmt::Debug for Thread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Thread").field("id", &self.id()).field("name", &self.name()).finish_non_exhaustive()
    }
}

/// The handle of the calling thread, as loom's [`Thread`].
#[track_caller]
pub fn current() -> Thread {
    Thread { inner: lockhound::thread::current() }
}

/// A handle to join a thread started by [`spawn`]. Like loom's, it stays on the thread of the
/// model it was made in (it is neither `Send` nor `Sync`):
///
/// ```compile_fail
/// fn leaves<T: Send>(_: T) {}
/// fn to_a_real_thread(handle: lockhound_loom::thread::JoinHandle<()>) {
///     leaves(handle);
/// }
/// ```
pub struct JoinHandle<T> {
    inner: lockhound::thread::JoinHandle<SameOsThread<T>>,
    thread: Thread,
    /// The result may be of a type that is not `Send`: the handle must not leave the OS thread
    /// of its execution either.
    _stays: PhantomData<*const ()>,
}

impl<T> JoinHandle<T> {
    /// Waits for the thread to finish; `Err` carries its panic.
    #[track_caller]
    pub fn join(self) -> std::thread::Result<T> {
        self.inner.join().map(|result| result.0)
    }

    /// The handle of the spawned thread.
    pub fn thread(&self) -> &Thread {
        &self.thread
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").finish_non_exhaustive()
    }
}

/// Spawns a thread running `f` in the current model-checked execution, with loom's bounds:
/// `f` and its result need not be `Send`.
///
/// Panics under lockhound's stress engine (real threads), where a closure that is not `Send`
/// cannot be moved to the thread that would run it, and outside a lockhound run.
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    if !lockhound::is_model_checked() {
        panic!(
            "lockhound-loom: thread::spawn takes closures that are not Send, as loom's does, so it runs \
             only under lockhound's model checkers (loom, shuttle), never on real threads: run the test \
             through loom::model, or use lockhound::thread::spawn (which asks for Send) with the stress \
             backend"
        );
    }
    let f = SameOsThread(f);
    let inner = lockhound::thread::spawn(move || {
        let f = f.into_inner();
        SameOsThread(f())
    });
    let thread = Thread { inner: inner.thread() };
    JoinHandle { inner, thread, _stays: PhantomData }
}

/// A value taken into a simulated thread of a model-checked execution, which may not be
/// `Send`. Built only by [`spawn`], after it checked that the run is model-checked.
struct SameOsThread<T>(T);

impl<T> SameOsThread<T> {
    /// Takes the value out as a whole, so that a closure moves the wrapper, not its field
    /// (edition 2021 closures capture disjoint fields).
    fn into_inner(self) -> T {
        self.0
    }
}

// SAFETY: a `SameOsThread` is made by `spawn` only inside a model-checked execution (checked
// there), holding the spawned closure or its result. lockhound's model checkers, loom and
// shuttle, run every simulated thread of an execution as a coroutine on the one OS thread
// that runs the execution, one at a time, and end the execution (dropping what is left) on
// that thread too; the `JoinHandle` that receives a result is neither `Send` nor `Sync`. So
// the value is created, used and dropped on one OS thread, never by two at once, which is
// all that `Send` is there to guarantee.
unsafe impl<T> Send for SameOsThread<T> {}
