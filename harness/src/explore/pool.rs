//! Lane threads that outlive a run.
//!
//! A parallel run hands its extra lanes to threads of this pool instead of spawning threads of
//! its own. A fresh thread, with its first shuttle coroutine stacks, costs about 60 µs here:
//! as much as ten executions of a small body, paid again by every run, and most runs are short
//! (the catalog's bugs are found in under a millisecond). The pool grows to the largest number
//! of lanes that have run at once; its threads wait between runs, first awake for a moment
//! (`LINGER`), then parked.
//!
//! Not rayon: its pools have a fixed size and are made for short tasks, while a lane blocks a
//! thread for up to its whole budget, so lanes beyond the pool's size would wait for others to
//! finish instead of running side by side.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// How long a thread that has finished a job keeps looking for the next one before it parks.
/// Waking a parked thread usually takes 5-40 µs, but on the development VM about one wake-up
/// in fifty took 1-4.5 ms (the idle virtual CPU has to be scheduled again by the host): a run
/// that needed its loom lane then waited that long, ten times its whole search.
/// Runs come in series (`check`, every variant of a scenario, seeds), so a thread that stays
/// awake between them, yielding the CPU to any other work, is there when the next one starts.
const LINGER: Duration = Duration::from_millis(2);

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    state: Mutex<State>,
    work: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// Threads waiting for work (some perhaps already woken, not yet counted out).
    idle: usize,
}

/// A lock that a panic elsewhere cannot make unusable: the pool's state stays consistent
/// across a panic, since no job runs under a lock.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The process's pool.
fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(Pool::new)
}

impl Pool {
    fn new() -> Pool {
        Pool { state: Mutex::new(State::default()), work: Condvar::new() }
    }

    fn submit(&'static self, job: Job) {
        let mut state = lock(&self.state);
        state.queue.push_back(job);
        if state.idle >= state.queue.len() {
            self.work.notify_one();
            return;
        }
        drop(state);
        // If no thread can be made, the job stays queued, and `Task::join` runs it on the
        // joining thread: slower, never lost.
        let _ = std::thread::Builder::new().name("lockhound-lane".into()).spawn(move || self.serve());
    }

    fn serve(&self) {
        let mut state = lock(&self.state);
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                job();
                state = self.linger();
            } else {
                state.idle += 1;
                state = self.work.wait(state).unwrap_or_else(|e| e.into_inner());
                state.idle -= 1;
            }
        }
    }

    /// Waits for a job for up to `LINGER`, awake; returns the state locked, with a job queued
    /// or not. Counts as idle meanwhile, so `submit` hands it the next job instead of starting
    /// a thread.
    fn linger(&self) -> MutexGuard<'_, State> {
        let deadline = Instant::now() + LINGER;
        lock(&self.state).idle += 1;
        loop {
            let mut state = lock(&self.state);
            if !state.queue.is_empty() || Instant::now() >= deadline {
                state.idle -= 1;
                return state;
            }
            drop(state);
            std::thread::yield_now();
        }
    }
}

/// What a task and the pool share: the job until someone takes it, then its result.
struct Shared<T> {
    job: Mutex<Option<Box<dyn FnOnce() -> T + Send>>>,
    result: Mutex<Option<std::thread::Result<T>>>,
    done: Condvar,
}

impl<T> Shared<T> {
    /// Runs the job if nobody has taken it yet.
    fn run(&self) {
        let Some(job) = lock(&self.job).take() else { return };
        let result = panic::catch_unwind(AssertUnwindSafe(job));
        *lock(&self.result) = Some(result);
        self.done.notify_all();
    }
}

/// A job handed to the pool.
pub(super) struct Task<T> {
    shared: Arc<Shared<T>>,
}

/// Runs `job` on a thread of the process's pool.
pub(super) fn spawn<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> Task<T> {
    spawn_on(pool(), job)
}

fn spawn_on<T: Send + 'static>(pool: &'static Pool, job: impl FnOnce() -> T + Send + 'static) -> Task<T> {
    let shared = Arc::new(Shared {
        job: Mutex::new(Some(Box::new(job))),
        result: Mutex::new(None),
        done: Condvar::new(),
    });
    let queued = shared.clone();
    // A lane of a watched run is watched with it.
    let watch = super::watchdog::current();
    // The run's subscriber too (see `dispatch`).
    let subscriber = super::dispatch::Lent::take();
    pool.submit(Box::new(move || {
        let _watched = watch.map(super::watchdog::enter);
        let _subscriber = subscriber.lend();
        queued.run()
    }));
    Task { shared }
}

impl<T> Task<T> {
    /// Waits for the job's result, running the job on this thread if no pool thread has
    /// started it yet (so a job that turned out not to be needed costs no wake-up). A panic
    /// in the job is resumed here.
    pub(super) fn join(self) -> T {
        self.shared.run();
        // Blocked on another lane, which the watchdog watches instead.
        let _waiting = super::watchdog::waiting();
        let mut result = lock(&self.shared.result);
        loop {
            match result.take() {
                Some(Ok(value)) => return value,
                Some(Err(payload)) => panic::resume_unwind(payload),
                None => result = self.shared.done.wait(result).unwrap_or_else(|e| e.into_inner()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn tasks_run_side_by_side_and_return_their_results() {
        // Two tasks that each wait for the other: they finish only if both run at once.
        let (to_b, from_a) = mpsc::channel();
        let (to_a, from_b) = mpsc::channel();
        let a = spawn(move || {
            to_b.send(1).unwrap();
            from_b.recv().unwrap() + 10
        });
        let b = spawn(move || {
            to_a.send(2).unwrap();
            from_a.recv().unwrap() + 20
        });
        assert_eq!((a.join(), b.join()), (12, 21));
    }

    /// Runs a task on a thread of `pool` (the test waits until the job has started before
    /// joining, so it cannot run on the joining thread) and returns that thread.
    fn pool_thread_of_a_task(pool: &'static Pool) -> std::thread::ThreadId {
        let (started, has_started) = mpsc::channel();
        let task = spawn_on(pool, move || {
            started.send(()).unwrap();
            std::thread::current().id()
        });
        has_started.recv().unwrap();
        task.join()
    }

    fn wait_until_idle(pool: &Pool, threads: usize) {
        while lock(&pool.state).idle < threads {
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_parked_thread_takes_the_next_task() {
        let pool: &'static Pool = Box::leak(Box::new(Pool::new()));
        let first = pool_thread_of_a_task(pool);
        for _ in 0..5 {
            wait_until_idle(pool, 1);
            assert_eq!(pool_thread_of_a_task(pool), first, "a parked thread was not reused");
        }
    }

    #[test]
    fn a_task_no_thread_has_taken_runs_on_the_joining_thread() {
        // Never handed to a pool: the state of a task whose pool thread has not reached it.
        let shared = Arc::new(Shared::<std::thread::ThreadId> {
            job: Mutex::new(Some(Box::new(|| std::thread::current().id()))),
            result: Mutex::new(None),
            done: Condvar::new(),
        });
        assert_eq!(Task { shared }.join(), std::thread::current().id());
    }

    #[test]
    fn a_panicking_job_panics_in_join_and_the_pool_keeps_working() {
        let task = spawn(|| -> u32 { panic!("lane failed") });
        let caught = panic::catch_unwind(AssertUnwindSafe(|| task.join())).unwrap_err();
        assert_eq!(caught.downcast_ref::<&str>(), Some(&"lane failed"));
        assert_eq!(spawn(|| 7).join(), 7);
    }
}
