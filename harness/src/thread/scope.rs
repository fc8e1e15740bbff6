//! Scoped threads, like `std::thread::scope`, under every engine. loom has no scope of its
//! own, so lockhound builds one on the engines' `spawn` the way std builds its own: a scoped
//! thread's closure borrows from outside the scope, its lifetime is erased to spawn it, and
//! [`scope`] does not return, or unwind, before every thread it spawned has finished, which
//! is what makes the erasure sound. The waiting is a facade mutex and condvar, so under a
//! model checker the scope's end is a scheduling point like any other.
//!
//! A panic in a scoped thread is the thread's result: [`ScopedJoinHandle::join`] returns it,
//! and a panic no one joined makes [`scope`] panic once every thread is done, as std does.
//!
//! One case is outside the guarantee: when a model checker fails an execution while scoped
//! threads are still running (a deadlock, a panic that escaped another thread), it tears the
//! threads down itself, and loom unwinds the scope's owner before the threads it spawned.
//! lockhound's own objects are not touched during that teardown (see `rt::unwind`), but a
//! destructor of the body's own, run by the teardown in a scoped thread, must not use data it
//! borrowed from the scope's owner.

use super::{Builder, JoinHandle, Thread};
use crate::rt::{panic, unwind};
use crate::sync::{Condvar, Mutex};
use std::marker::PhantomData;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A scope to spawn scoped threads in; see [`scope`].
pub struct Scope<'scope, 'env: 'scope> {
    data: Arc<ScopeData>,
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

struct ScopeData {
    /// Scoped threads still running.
    running: Mutex<usize>,
    all_done: Condvar,
    /// A scoped thread panicked and no one took its result.
    unjoined_panic: AtomicBool,
    /// The message of the first such panic.
    first_message: std::sync::Mutex<Option<String>>,
}

/// A handle to join a scoped thread.
pub struct ScopedJoinHandle<'scope, T> {
    handle: JoinHandle<()>,
    packet: Arc<Packet<'scope, T>>,
}

/// Where a scoped thread leaves its result.
struct Packet<'scope, T> {
    scope: Arc<ScopeData>,
    result: std::sync::Mutex<Option<std::thread::Result<T>>>,
    _scope: PhantomData<&'scope ()>,
}

impl<T> Drop for Packet<'_, T> {
    fn drop(&mut self) {
        let result = self.result.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(Err(payload)) = result {
            self.scope.unjoined_panic.store(true, Ordering::Relaxed);
            let mut first = self.scope.first_message.lock().unwrap_or_else(|p| p.into_inner());
            first.get_or_insert_with(|| panic::payload_message(&**payload));
        }
    }
}

/// Creates a scope for spawning scoped threads, like `std::thread::scope`: every thread
/// spawned in it is joined before `scope` returns.
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let data = Arc::new(ScopeData {
        running: Mutex::named("thread::scope", 0),
        all_done: Condvar::named("thread::scope"),
        unjoined_panic: AtomicBool::new(false),
        first_message: std::sync::Mutex::new(None),
    });
    let scope = Scope { data, scope: PhantomData, env: PhantomData };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&scope)));
    // Every scoped thread finishes before the scope's borrows end, whatever `f` did.
    let mut running = scope.data.running.lock().unwrap_or_else(|p| p.into_inner());
    while *running > 0 {
        running = scope.data.all_done.wait_as(running, "scope").unwrap_or_else(|p| p.into_inner());
    }
    drop(running);
    match result {
        Err(payload) => std::panic::resume_unwind(payload),
        Ok(_) if scope.data.unjoined_panic.load(Ordering::Relaxed) => {
            let message = scope.data.first_message.lock().unwrap_or_else(|p| p.into_inner()).take();
            panic!("a scoped thread panicked: {}", message.unwrap_or_default())
        }
        Ok(value) => value,
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Spawns a scoped thread that may borrow from outside the scope.
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        match self.spawn_with(Builder::new(), f, Location::caller()) {
            Ok(handle) => handle,
            Err(e) => panic!("failed to spawn scoped thread: {e}"),
        }
    }

    pub(super) fn spawn_with<F, T>(
        &'scope self,
        builder: Builder,
        f: F,
        at: &'static Location<'static>,
    ) -> std::io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let packet = Arc::new(Packet {
            scope: self.data.clone(),
            result: std::sync::Mutex::new(None),
            _scope: PhantomData,
        });
        let their_packet = packet.clone();
        let data = self.data.clone();
        *data.running.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        let main = move || {
            let finished = Finished(data);
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            match result {
                // Not the thread's result: the engine fails or tears down the execution.
                Err(payload) if unwind::is_engine_unwinding(&*payload) => std::panic::resume_unwind(payload),
                result => *their_packet.result.lock().unwrap_or_else(|p| p.into_inner()) = Some(result),
            }
            // The packet goes before the count: the scope's owner may return right after.
            drop(their_packet);
            drop(finished);
        };
        let main: Box<dyn FnOnce() + Send + 'scope> = Box::new(main);
        // SAFETY: the closure borrows for 'scope, and `scope` does not return or unwind before
        // the thread has run it to the end (`Finished` counts the thread out only then), so no
        // borrow outlives its data. The one exception, an engine tearing down a failed
        // execution, runs no closure code further; see the module's documentation.
        let main: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(main) };
        match builder.spawn_at(main, at) {
            Ok(handle) => Ok(ScopedJoinHandle { handle, packet }),
            Err(e) => {
                *self.data.running.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
                Err(e)
            }
        }
    }
}

/// Counts a scoped thread out of its scope when the thread is done, waking the owner at the
/// last one (not while an engine tears the execution down: no one waits then).
struct Finished(Arc<ScopeData>);

impl Drop for Finished {
    fn drop(&mut self) {
        if unwind::engine_gone() {
            return;
        }
        let mut running = self.0.running.lock().unwrap_or_else(|p| p.into_inner());
        *running -= 1;
        if *running == 0 {
            self.0.all_done.notify_all();
        }
    }
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the thread to finish; `Err` carries its panic (which then no longer makes
    /// [`scope`] panic).
    #[track_caller]
    pub fn join(self) -> std::thread::Result<T> {
        // The thread's own closure never panics (it catches its body's panic), so its result
        // is always in the packet once it has finished.
        let _ = self.handle.join();
        let result = self.packet.result.lock().unwrap_or_else(|p| p.into_inner()).take();
        result.expect("a finished scoped thread left its result")
    }

    /// The handle of the scoped thread.
    pub fn thread(&self) -> Thread {
        self.handle.thread()
    }

    /// Whether the thread has finished running its closure.
    pub fn is_finished(&self) -> bool {
        self.packet.result.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }
}

impl std::fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scope { .. }")
    }
}

impl<T> std::fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScopedJoinHandle { .. }")
    }
}
