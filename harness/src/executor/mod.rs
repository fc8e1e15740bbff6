//! A small single-threaded async executor built on the facade, so that futures run the same
//! under loom, shuttle and real threads, and a starvation check on a deterministic clock.
//!
//! [`Executor::run`] polls its tasks on the calling facade thread, like a current-thread
//! runtime. Wakers may be called from any facade thread: they push the task onto a run queue
//! behind a facade [`Mutex`] and notify a facade [`Condvar`], so an executor with nothing to
//! do blocks until another thread wakes one of its tasks (and a model checker sees that as
//! the scheduling point it is).
//!
//! Time is counted in work units, not measured: task code calls [`Clock::work`] for the
//! work it does, [`Clock::sleep`] waits on that clock, and when nothing is ready but a timer
//! is pending the clock jumps to the timer's deadline (virtual time). Every quantity is a
//! function of the schedule alone, so a replayed schedule gives the same numbers.
//!
//! Starvation: the executor notes when each task becomes ready (woken, or its timer due) and,
//! when it polls it, how long it waited. Past [`Executor::starvation_bound`] units the run
//! fails with a finding of kind [`FindingKind::Starvation`] naming the task that waited, by
//! how much, and the poll that kept it waiting. A cooperative executor cannot interrupt a
//! poll: a future that keeps finding work and never returns `Pending` holds the thread.
//!
//! Task code reaches the clock through a [`Clock`] handle rather than a thread-local "current
//! executor": under loom and shuttle every facade thread runs on one OS thread, so a
//! thread-local set during a poll would also be seen by whichever simulated thread runs while
//! the poll waits on a lock.

mod clock;
#[cfg(test)]
mod tests;

pub use clock::{yield_now, Clock, Sleep, YieldNow};

use crate::finding::FindingKind;
use crate::rt::{self, record};
use crate::sync::{Condvar, Mutex};
use clock::State;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Wake, Waker};

/// Work units: the executor's measure of time.
pub type Units = u64;

/// The part of an executor that wakers reach from other threads.
struct Shared {
    /// Tasks woken since the executor last looked, in wake order (duplicates allowed).
    woken: Mutex<Vec<usize>>,
    /// Notified on every wake, for an executor blocked with nothing to do.
    idle: Condvar,
}

/// A task's waker: pushes the task onto its executor's run queue. A std `Arc` is fine here:
/// it holds no facade state of its own, only the facade objects inside `Shared`.
struct TaskWaker {
    task: usize,
    shared: std::sync::Arc<Shared>,
}

impl Wake for TaskWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.shared.woken.lock().unwrap_or_else(|p| p.into_inner()).push(self.task);
        self.shared.idle.notify_one();
    }
}

struct Task {
    future: Pin<Box<dyn Future<Output = ()>>>,
    waker: Waker,
}

/// A task that is ready to be polled, since `at` on the clock.
#[derive(Clone, Copy)]
struct Ready {
    task: usize,
    at: Units,
    /// Order of arrival, to break ties between equal `at`.
    seq: u64,
}

/// One poll that ran: which task, from when to when on the clock.
#[derive(Clone, Copy)]
struct Span {
    task: usize,
    start: Units,
    end: Units,
}

/// What a run of the executor saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// The clock when the last task completed.
    pub now: Units,
    /// Polls made, all tasks together.
    pub polls: u64,
    /// The longest a ready task waited to be polled, in units, and which task that was.
    pub max_wait: Units,
    pub max_wait_task: Option<String>,
    /// The most units one poll ran, and whose poll it was.
    pub longest_poll: Units,
    pub longest_poll_task: Option<String>,
}

/// A single-threaded executor on the facade: see the module documentation.
pub struct Executor {
    shared: std::sync::Arc<Shared>,
    state: Rc<State>,
    /// Unfinished tasks by id; `None` once a task completed.
    tasks: Vec<Option<Task>>,
    /// Task names by id, kept after they finish (a finding may name a finished task).
    names: Vec<String>,
    ready: Vec<Ready>,
    seq: u64,
    /// Polls that may still explain a ready task's wait (see `trim_history`).
    history: Vec<Span>,
    starvation_bound: Option<Units>,
    stats: Stats,
}

impl Executor {
    /// Creates an executor bound to the engine of the current run (it holds facade objects).
    #[track_caller]
    pub fn new() -> Self {
        Executor {
            shared: std::sync::Arc::new(Shared {
                woken: Mutex::named("run queue", Vec::new()),
                idle: Condvar::named("executor idle"),
            }),
            state: Rc::new(State::default()),
            tasks: Vec::new(),
            names: Vec::new(),
            ready: Vec::new(),
            seq: 0,
            history: Vec::new(),
            starvation_bound: None,
            stats: Stats::default(),
        }
    }

    /// Fails the run with a starvation finding when a ready task waits more than `units`
    /// before it is polled.
    pub fn starvation_bound(mut self, units: Units) -> Self {
        self.starvation_bound = Some(units);
        self
    }

    /// The handle task code uses to count its work and to sleep.
    pub fn clock(&self) -> Clock {
        Clock::new(self.state.clone())
    }

    /// Adds a task, ready at once. Tasks run when [`Executor::run`] is called.
    pub fn spawn(&mut self, name: impl Into<String>, future: impl Future<Output = ()> + 'static) {
        let task = self.tasks.len();
        let waker = Waker::from(std::sync::Arc::new(TaskWaker { task, shared: self.shared.clone() }));
        self.tasks.push(Some(Task { future: Box::pin(future), waker }));
        self.names.push(name.into());
        let at = self.state.now.get();
        self.make_ready(task, at);
    }

    /// Runs every task to completion on the calling thread and returns what it saw.
    ///
    /// Panics with a starvation finding past the bound (reported at the caller's line).
    /// Blocks while every unfinished task waits on another thread; if nobody wakes one, that
    /// is a deadlock, and model checkers report it as one.
    #[track_caller]
    pub fn run(&mut self) -> Stats {
        loop {
            // Due timers first: on a tie they were ready no later than a task that yielded.
            for (deadline, task) in self.state.due_timers() {
                self.make_ready(task, deadline);
            }
            let woken = std::mem::take(&mut *self.shared.woken.lock().unwrap_or_else(|p| p.into_inner()));
            let now = self.state.now.get();
            for task in woken {
                self.make_ready(task, now);
            }
            self.trim_history();
            if let Some(next) = self.pop_ready() {
                self.poll(next);
                continue;
            }
            if self.tasks.iter().all(Option::is_none) {
                break;
            }
            if let Some(deadline) = self.state.next_deadline() {
                // Idle with a timer pending: time passes at no cost until it is due.
                self.state.now.set(deadline.max(now));
                continue;
            }
            let woken = self.shared.woken.lock().unwrap_or_else(|p| p.into_inner());
            drop(self.shared.idle.wait_while(woken, |w| w.is_empty()).unwrap_or_else(|p| p.into_inner()));
        }
        self.stats.now = self.state.now.get();
        self.stats.clone()
    }

    /// Queues `task` as ready since `at`, unless it is finished or already queued (then it
    /// keeps its earlier time: it has been waiting since then).
    fn make_ready(&mut self, task: usize, at: Units) {
        if self.tasks.get(task).is_none_or(Option::is_none) || self.ready.iter().any(|r| r.task == task) {
            return;
        }
        self.seq += 1;
        self.ready.push(Ready { task, at, seq: self.seq });
    }

    /// The task that has been ready longest (first come, first served on ties).
    fn pop_ready(&mut self) -> Option<Ready> {
        let i = (0..self.ready.len()).min_by_key(|&i| (self.ready[i].at, self.ready[i].seq))?;
        Some(self.ready.swap_remove(i))
    }

    /// Forgets polls that ended before every ready task became ready: they cannot explain
    /// any wait still to be measured (timers not yet due become ready later than now).
    fn trim_history(&mut self) {
        match self.ready.iter().map(|r| r.at).min() {
            Some(since) => self.history.retain(|s| s.end > since),
            None => self.history.clear(),
        }
    }

    /// Polls `ready` once, after checking how long it waited. Called by `run` only, and
    /// tracks its caller so that notes and a finding point at the line that ran the executor.
    #[track_caller]
    fn poll(&mut self, ready: Ready) {
        let at = Location::caller();
        let name = self.names[ready.task].as_str();
        let start = self.state.now.get();
        let waited = start.saturating_sub(ready.at);
        if waited > self.stats.max_wait || self.stats.max_wait_task.is_none() {
            self.stats.max_wait = waited;
            self.stats.max_wait_task = Some(name.to_string());
        }
        if self.starvation_bound.is_some_and(|bound| waited > bound) {
            self.starved(ready, waited);
        }
        let Some(task) = self.tasks[ready.task].as_mut() else { return };
        note(&format!("poll '{name}'"), format!("clock {start}"), at);
        self.state.polling.set(Some(ready.task));
        let waker = task.waker.clone();
        let result = task.future.as_mut().poll(&mut Context::from_waker(&waker));
        self.state.polling.set(None);
        let end = self.state.now.get();
        let outcome = if result.is_ready() { "Ready" } else { "Pending" };
        note(&format!("'{name}' returned {outcome}"), format!("clock {end} (+{})", end - start), at);
        self.stats.polls += 1;
        if end - start > self.stats.longest_poll || self.stats.longest_poll_task.is_none() {
            self.stats.longest_poll = end - start;
            self.stats.longest_poll_task = Some(name.to_string());
        }
        self.history.push(Span { task: ready.task, start, end });
        if result.is_ready() {
            self.tasks[ready.task] = None;
        }
    }

    /// Raises the starvation finding for `ready`, polled `waited` units after it was ready.
    #[track_caller]
    fn starved(&self, ready: Ready, waited: Units) -> ! {
        let now = self.state.now.get();
        let name = &self.names[ready.task];
        let bound = self.starvation_bound.unwrap_or_default();
        let mut message = format!(
            "starvation: task '{name}' was ready at work unit {} but not polled until unit {now}, \
             {waited} units later (bound {bound})",
            ready.at
        );
        // The poll that covered most of the wait is the one that kept the task waiting.
        let culprit =
            self.history.iter().max_by_key(|s| s.end.min(now).saturating_sub(s.start.max(ready.at)));
        if let Some(s) = culprit {
            let who = &self.names[s.task];
            message.push_str(&format!(
                ": task '{who}' held the executor for a single poll of {} units (units {} to {})",
                s.end - s.start,
                s.start,
                s.end
            ));
        }
        rt::panic::raise(FindingKind::Starvation, message)
    }
}

impl Default for Executor {
    #[track_caller]
    fn default() -> Self {
        Executor::new()
    }
}

/// Notes an executor step in the trace being recorded, under a model-checked engine.
fn note(op: &str, value: String, at: &'static Location<'static>) {
    if let Some(engine) = rt::model_engine() {
        if record::active() {
            let value = (!value.is_empty()).then_some(crate::trace::Value::Note(value));
            record::op(engine, None, op, value, Some(at));
        }
    }
}
