//! Threads, like `std::thread`: spawned as loom or shuttle tasks inside a model-checked run,
//! as real threads under the stress engine.

use crate::rt::{self, record, std_run, Engine};
use std::panic::Location;

/// Notes a thread operation in the trace being recorded, if any.
#[track_caller]
fn note(op: &str) {
    if let Some(engine) = rt::model_engine() {
        if record::active() {
            record::op(engine, None, op, String::new(), Some(Location::caller()));
        }
    }
}

/// A handle to join a spawned thread.
pub struct JoinHandle<T> {
    imp: JoinImp<T>,
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
    note("spawn");
    let imp = match rt::engine() {
        Engine::Loom => {
            rt::limit::before_spawn();
            JoinImp::Loom(loom::thread::spawn(f))
        }
        Engine::Shuttle => JoinImp::Shuttle(shuttle::thread::spawn(f)),
        Engine::Std => {
            let run = std_run::current();
            JoinImp::Std(std::thread::spawn(move || {
                let _scope = rt::enter(Engine::Std);
                std_run::set_current(run);
                f()
            }))
        }
    };
    JoinHandle { imp }
}

impl<T> JoinHandle<T> {
    /// Waits for the thread to finish; `Err` carries its panic.
    #[track_caller]
    pub fn join(self) -> std::thread::Result<T> {
        let result = match self.imp {
            JoinImp::Loom(h) => {
                rt::expect_engine(Engine::Loom);
                h.join()
            }
            JoinImp::Shuttle(h) => {
                rt::expect_engine(Engine::Shuttle);
                h.join()
            }
            JoinImp::Std(h) => h.join(),
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
        Thread { imp }
    }
}

/// A handle to a thread, like `std::thread::Thread`.
#[derive(Clone)]
pub struct Thread {
    imp: ThreadImp,
}

#[derive(Clone)]
enum ThreadImp {
    Loom(loom::thread::Thread),
    Shuttle(shuttle::thread::Thread),
    Std(std::thread::Thread),
}

impl Thread {
    /// Makes the thread's park token available, waking it if it is parked.
    #[track_caller]
    pub fn unpark(&self) {
        match &self.imp {
            ThreadImp::Loom(t) => {
                rt::expect_engine(Engine::Loom);
                t.unpark()
            }
            ThreadImp::Shuttle(t) => {
                rt::expect_engine(Engine::Shuttle);
                t.unpark()
            }
            ThreadImp::Std(t) => t.unpark(),
        }
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
    Thread { imp }
}

/// Blocks until the thread's park token is available.
#[track_caller]
pub fn park() {
    match rt::engine() {
        Engine::Loom => loom::thread::park(),
        Engine::Shuttle => shuttle::thread::park(),
        Engine::Std => std::thread::park(),
    }
}

/// Gives other threads a chance to run. Spin loops must call it: under loom and shuttle a
/// spin without it never lets the awaited thread progress.
#[track_caller]
pub fn yield_now() {
    match rt::engine() {
        Engine::Loom => {
            rt::limit::yielded();
            loom::thread::yield_now()
        }
        Engine::Shuttle => shuttle::thread::yield_now(),
        Engine::Std => std::thread::yield_now(),
    }
}
