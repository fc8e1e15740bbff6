//! Threads, like `std::thread`: spawned as loom or shuttle threads inside a model-checked
//! run, as real threads under the stress engine.
//!
//! - [`spawn`], [`Builder`] (name, stack size), [`scope`] (scoped threads under every engine,
//!   built on the engines' spawn the way std builds them), [`JoinHandle`], [`Thread`] with
//!   [`Thread::id`] and [`Thread::name`], [`current`], [`park`], [`yield_now`].
//! - [`sleep`] and [`park_timeout`]: under loom and shuttle time is not modelled, so both let
//!   the other threads run and return when the scheduler runs the thread again (never a real
//!   sleep); on real threads they wait for real.
//! - [`thread_local!`](crate::thread_local): one value per simulated thread under the model
//!   checkers, std's own on real threads.
//!
//! A panic that escapes a thread's closure is a finding of the run, under every engine (loom
//! and shuttle fail the execution on it; on real threads the stress engine reports it), even
//! if the thread is joined: join it inside a `catch_unwind` of your own to test a panic.

mod local;
mod scope;

pub use local::{AccessError, LocalKey};
// What `thread_local!` expands to names the engines' keys through these.
#[doc(hidden)]
pub use loom as __loom;
pub use scope::{scope, Scope, ScopedJoinHandle};
#[doc(hidden)]
pub use shuttle as __shuttle;
pub use std::thread::panicking;

use crate::rt::blocking::{Entering, ThreadKey, Wait};
use crate::rt::{self, panic, record, std_run, unwind, Engine};
use std::cell::Cell;
use std::fmt;
use std::num::NonZeroUsize;
use std::panic::Location;
use std::time::Duration;

/// Notes a thread operation in the trace being recorded, if any.
#[track_caller]
fn note(op: &str) {
    note_at(op, Location::caller());
}

/// [`note`] at a given call site (a spawn's, carried through the builder).
fn note_at(op: &str, at: &'static Location<'static>) {
    if let Some(engine) = rt::model_engine() {
        if record::active() {
            record::op(engine, None, op, None, Some(at));
        }
    }
}

/// A handle to join a spawned thread.
pub struct JoinHandle<T> {
    imp: JoinImp<T>,
    born: u32,
}

enum JoinImp<T> {
    Loom(loom::thread::JoinHandle<T>),
    Shuttle(shuttle::thread::JoinHandle<T>),
    Std(std::thread::JoinHandle<T>),
}

/// Spawns a thread running `f` under the engine of the current run.
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match Builder::new().spawn_at(f, Location::caller()) {
        Ok(handle) => handle,
        Err(e) => panic!("failed to spawn thread: {e}"),
    }
}

/// Runs a thread's closure: a panic that escapes it is noted as the execution's failure (see
/// `rt::panic`) before it goes on unwinding into the engine.
fn body_of<F: FnOnce() -> T, T>(f: F) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(value) => {
            // Only a thread that returned: one that unwound ends the execution as it fails
            // (and an engine's own failure, a deadlock, takes its thread state down with it).
            if let Some(engine) = rt::model_engine() {
                record::ended(engine);
            }
            if rt::model_engine() == Some(Engine::Loom) {
                rt::loom_lock::release_set_aside();
            }
            value
        }
        Err(payload) => {
            if !unwind::is_teardown(&*payload) {
                panic::escaped_with(Some(&*payload));
                if rt::model_engine() == Some(Engine::Shuttle) {
                    // Ends the execution through lockhound's scheduler: shuttle's failure
                    // path would print a note of its own (see `rt::blocking`).
                    rt::blocking::halt(payload);
                }
            }
            std::panic::resume_unwind(payload)
        }
    }
}

/// Thread factory, like `std::thread::Builder`: a name and a stack size for the new thread.
#[derive(Debug, Default)]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the thread-to-be: `Thread::name` returns it, under every engine.
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name);
        self
    }

    /// Sets the size of the new thread's stack in bytes (under loom and shuttle, of its
    /// coroutine's stack).
    pub fn stack_size(mut self, size: usize) -> Builder {
        self.stack_size = Some(size);
        self
    }

    /// Spawns the thread; `Err` when the system cannot start one (real threads only).
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> std::io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_at(f, Location::caller())
    }

    /// Spawns a scoped thread, like `std::thread::Builder::spawn_scoped`.
    #[track_caller]
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> std::io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        scope.spawn_with(self, f, Location::caller())
    }

    fn spawn_at<F, T>(self, f: F, at: &'static Location<'static>) -> std::io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        note_at("spawn", at);
        let born = rt::execution();
        let imp = match rt::engine() {
            Engine::Loom => {
                let number = rt::limit::before_spawn(at);
                let b = loom_builder(self.name, self.stack_size);
                JoinImp::Loom(b.spawn(move || {
                    rt::record::loom_thread_is(number);
                    body_of(f)
                })?)
            }
            Engine::Shuttle => {
                let mut b = shuttle::thread::Builder::new();
                if let Some(name) = self.name {
                    b = b.name(name);
                }
                if let Some(size) = self.stack_size {
                    b = b.stack_size(size);
                }
                JoinImp::Shuttle(b.spawn(move || body_of(f))?)
            }
            Engine::Std => {
                let mut b = std::thread::Builder::new();
                if let Some(name) = self.name {
                    b = b.name(name);
                }
                if let Some(size) = self.stack_size {
                    b = b.stack_size(size);
                }
                if !rt::in_run() {
                    // Outside any run: std's thread, nothing recorded (its panics print as
                    // any program's do).
                    JoinImp::Std(b.spawn(f)?)
                } else {
                    let run = std_run::current();
                    JoinImp::Std(b.spawn(move || {
                        let _scope = rt::enter_execution(Engine::Std, born);
                        std_run::set_current(run);
                        body_of(f)
                    })?)
                }
            }
        };
        Ok(JoinHandle { imp, born })
    }
}

fn loom_builder(name: Option<String>, stack_size: Option<usize>) -> loom::thread::Builder {
    let mut b = loom::thread::Builder::new();
    if let Some(name) = name {
        b = b.name(name);
    }
    if let Some(size) = stack_size {
        b = b.stack_size(size);
    }
    b
}

impl<T> JoinHandle<T> {
    /// Waits for the thread to finish; `Err` carries its panic.
    #[track_caller]
    pub fn join(self) -> std::thread::Result<T> {
        let at = Location::caller();
        let result = match self.imp {
            JoinImp::Loom(h) => {
                rt::expect(Engine::Loom, self.born);
                let thread = ThreadKey::Loom(h.thread().id());
                let entering = Entering::begin(Engine::Loom, "join", Wait::Join { thread }, at);
                let result = h.join();
                entering.end();
                result
            }
            JoinImp::Shuttle(h) => {
                rt::expect(Engine::Shuttle, self.born);
                let thread = ThreadKey::Shuttle(usize::from(h.thread().id()));
                let entering = Entering::begin(Engine::Shuttle, "join", Wait::Join { thread }, at);
                let result = h.join();
                entering.end();
                result
            }
            JoinImp::Std(h) => {
                rt::expect_real();
                h.join()
            }
        };
        note("joined");
        result
    }

    /// The handle of the spawned thread, to unpark it.
    pub fn thread(&self) -> Thread {
        let imp = match &self.imp {
            JoinImp::Loom(h) => ThreadImp::Loom(h.thread().clone()),
            JoinImp::Shuttle(h) => ThreadImp::Shuttle(h.thread().clone()),
            JoinImp::Std(h) => ThreadImp::Std(h.thread().clone()),
        };
        Thread { imp, born: self.born }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JoinHandle { .. }")
    }
}

/// A handle to a thread, like `std::thread::Thread`.
#[derive(Clone)]
pub struct Thread {
    imp: ThreadImp,
    born: u32,
}

#[derive(Clone)]
enum ThreadImp {
    Loom(loom::thread::Thread),
    Shuttle(shuttle::thread::Thread),
    Std(std::thread::Thread),
}

/// A thread's identity within its run, like `std::thread::ThreadId`: unique among the threads
/// of an execution, and equal for two handles of the same thread.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ThreadId(IdImp);

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum IdImp {
    Loom(loom::thread::ThreadId),
    Shuttle(shuttle::thread::ThreadId),
    Std(std::thread::ThreadId),
}

impl fmt::Debug for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            IdImp::Loom(id) => id.fmt(f),
            IdImp::Shuttle(id) => write!(f, "ThreadId({})", usize::from(*id)),
            IdImp::Std(id) => id.fmt(f),
        }
    }
}

thread_local! {
    /// The loom thread that runs the body of the current execution (loom names it nothing).
    static LOOM_MAIN: Cell<Option<loom::thread::ThreadId>> = const { Cell::new(None) };
}

/// Notes the body's main thread of a loom execution (called as the execution begins).
pub(crate) fn loom_main_is_current() {
    LOOM_MAIN.with(|m| m.set(Some(loom::thread::current().id())));
}

/// The name the body's main thread has under every engine, std's main thread's name.
const MAIN: &str = "main";

impl Thread {
    /// Makes the thread's park token available, waking it if it is parked.
    #[track_caller]
    pub fn unpark(&self) {
        match &self.imp {
            ThreadImp::Loom(t) => {
                rt::expect(Engine::Loom, self.born);
                t.unpark()
            }
            ThreadImp::Shuttle(t) => {
                rt::expect(Engine::Shuttle, self.born);
                t.unpark()
            }
            ThreadImp::Std(t) => t.unpark(),
        }
    }

    /// The thread's identity.
    pub fn id(&self) -> ThreadId {
        ThreadId(match &self.imp {
            ThreadImp::Loom(t) => IdImp::Loom(t.id()),
            ThreadImp::Shuttle(t) => IdImp::Shuttle(t.id()),
            ThreadImp::Std(t) => IdImp::Std(t.id()),
        })
    }

    /// The thread's name: the one given to [`Builder::name`], `"main"` for the body's own
    /// thread under every engine, `None` for other unnamed threads.
    pub fn name(&self) -> Option<&str> {
        match &self.imp {
            ThreadImp::Loom(t) => match t.name() {
                None if LOOM_MAIN.with(Cell::get) == Some(t.id()) => Some(MAIN),
                name => name,
            },
            ThreadImp::Shuttle(t) => match t.name() {
                Some("main-thread") if usize::from(t.id()) == 0 => Some(MAIN),
                name => name,
            },
            ThreadImp::Std(t) => match t.name() {
                Some(std_run::BODY_THREAD) => Some(MAIN),
                name => name,
            },
        }
    }
}

impl fmt::Debug for Thread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Thread").field("id", &self.id()).field("name", &self.name()).finish_non_exhaustive()
    }
}

/// The handle of the calling thread.
#[track_caller]
pub fn current() -> Thread {
    let imp = match rt::engine() {
        Engine::Loom => ThreadImp::Loom(loom::thread::current()),
        Engine::Shuttle => ThreadImp::Shuttle(shuttle::thread::current()),
        Engine::Std => ThreadImp::Std(std::thread::current()),
    };
    Thread { imp, born: rt::execution() }
}

/// Blocks until the thread's park token is available (it may also return spuriously, as
/// std's may).
#[track_caller]
pub fn park() {
    note("park");
    let at = Location::caller();
    match rt::engine() {
        Engine::Loom => {
            let entering = Entering::begin(Engine::Loom, "park", Wait::Park, at);
            loom::thread::park();
            entering.end();
        }
        Engine::Shuttle => {
            let entering = Entering::begin(Engine::Shuttle, "park", Wait::Park, at);
            shuttle::thread::park();
            entering.end();
        }
        Engine::Std => std::thread::park(),
    }
}

/// Blocks until the thread's park token is available or `timeout` passes. Under loom and
/// shuttle the timeout is the scheduler's choice: the thread lets the others run and returns
/// when it is run again, an unpark in between or not (std allows `park` and `park_timeout` to
/// return spuriously, and an unpark that came meanwhile stays for the next `park`). On real
/// threads it waits for real.
#[track_caller]
pub fn park_timeout(timeout: Duration) {
    note("park_timeout");
    match rt::engine() {
        engine @ (Engine::Loom | Engine::Shuttle) => rt::wait::let_others_run(engine),
        Engine::Std => std::thread::park_timeout(timeout),
    }
}

/// Puts the thread to sleep for `duration`. Under loom and shuttle time is not modelled: the
/// thread lets the others run and goes on when the scheduler runs it again, which is as
/// much as a sleep promises about what other threads do meanwhile. On real threads it sleeps.
#[track_caller]
pub fn sleep(duration: Duration) {
    note("sleep");
    match rt::engine() {
        engine @ (Engine::Loom | Engine::Shuttle) => rt::wait::let_others_run(engine),
        Engine::Std => std::thread::sleep(duration),
    }
}

/// Gives other threads a chance to run. Spin loops must call it: under loom and shuttle a
/// spin without it never lets the awaited thread progress.
#[track_caller]
pub fn yield_now() {
    match rt::engine() {
        Engine::Loom => {
            record::gives_way(Engine::Loom);
            rt::limit::yielded();
            loom::thread::yield_now()
        }
        Engine::Shuttle => {
            record::gives_way(Engine::Shuttle);
            shuttle::thread::yield_now()
        }
        Engine::Std => std::thread::yield_now(),
    }
}

/// The parallelism of the machine, as std reports it (under every engine: it describes the
/// machine, not the run; under loom, a body that spawns this many threads may exceed loom's
/// limit of 5 threads per execution).
pub fn available_parallelism() -> std::io::Result<NonZeroUsize> {
    std::thread::available_parallelism()
}
