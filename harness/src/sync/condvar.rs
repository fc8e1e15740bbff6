use super::mutex::MutexGuardImp;
use super::{note, note_at, LockResult, MutexGuard, PoisonError};
use crate::rt::blocking::{Entering, Wait};
use crate::rt::record::Tag;
use crate::rt::wait::{self, Clock, OrderPoint, Sleeper, Stray};
use crate::rt::{self, Engine};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::panic::Location;
use std::time::{Duration, Instant};

/// A condition variable, like `std::sync::Condvar`.
///
/// Under loom and shuttle it is lockhound's own (see `rt::wait`): waiters queue in arrival
/// order, `notify_one` wakes the first, and a timed wait (`wait_timeout`, `wait_timeout_while`)
/// ends by a notification or by its deadline, whichever the scheduler lets happen first; both
/// are explored and replay. On real threads it is parking_lot's, with real timeouts, and the
/// tracker records each wait as a release and a reacquisition of the mutex.
pub struct Condvar {
    imp: CondvarImp,
    tag: Tag,
}

enum CondvarImp {
    Model(ModelCondvar),
    Std(parking_lot::Condvar),
}

/// Whether a timed wait returned because its deadline passed, like std's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// Whether the wait ended by its timeout rather than a notification.
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

/// The condvar of a model-checked execution: a queue of waiters in arrival order.
struct ModelCondvar {
    engine: Engine,
    order: OrderPoint,
    queue: RefCell<Queue>,
}

// SAFETY: a model condvar belongs to one model-checked execution (its tag checks that every
// operation runs in it), whose simulated threads all run on one OS thread, one at a time; its
// queue is only borrowed between two of their scheduling points, never across one.
unsafe impl Send for ModelCondvar {}
// SAFETY: as for `Send`.
unsafe impl Sync for ModelCondvar {}

#[derive(Default)]
struct Queue {
    next_id: u64,
    /// Waiters not yet notified, first come first.
    waiting: VecDeque<(u64, Sleeper)>,
    /// Waiters notified and not yet running, with what the notification carries.
    notified: Vec<(u64, Clock)>,
}

/// How a model-checked wait ended.
enum Woken {
    Notified(Clock),
    TimedOut,
}

impl ModelCondvar {
    fn new(engine: Engine) -> Self {
        ModelCondvar { engine, order: OrderPoint::new(engine), queue: RefCell::default() }
    }

    /// Joins the queue as the calling thread.
    fn enqueue(&self) -> u64 {
        let sleeper = Sleeper::current(self.engine);
        let mut queue = self.queue.borrow_mut();
        let id = queue.next_id;
        queue.next_id += 1;
        queue.waiting.push_back((id, sleeper));
        id
    }

    /// Takes waiter `id`'s notification, if it came.
    fn take_notification(&self, id: u64) -> Option<Clock> {
        let mut queue = self.queue.borrow_mut();
        let at = queue.notified.iter().position(|(w, _)| *w == id)?;
        Some(queue.notified.swap_remove(at).1)
    }

    fn is_notified(&self, id: u64) -> bool {
        self.queue.borrow().notified.iter().any(|(w, _)| *w == id)
    }

    /// The end of a timed wait, when the scheduler runs the waiter again: notified by then,
    /// or it leaves the queue and times out.
    fn leave(&self, id: u64) -> Woken {
        if let Some(clock) = self.take_notification(id) {
            return Woken::Notified(clock);
        }
        self.queue.borrow_mut().waiting.retain(|(w, _)| *w != id);
        Woken::TimedOut
    }

    /// Blocks until waiter `id` is notified.
    fn block_until_notified(&self, id: u64) -> Woken {
        let mut stray = Stray::default();
        let clock = loop {
            if let Some(clock) = self.take_notification(id) {
                break clock;
            }
            wait::block(self.engine);
            if !self.is_notified(id) {
                stray.note();
            }
        };
        stray.give_back(self.engine);
        Woken::Notified(clock)
    }

    fn notify(&self, all: bool) {
        self.order.pass();
        let clock = Clock::now(self.engine);
        loop {
            let Some((id, sleeper)) = self.queue.borrow_mut().waiting.pop_front() else { break };
            self.queue.borrow_mut().notified.push((id, clock.clone()));
            sleeper.wake();
            if !all {
                break;
            }
        }
    }
}

impl Condvar {
    /// Creates a condition variable under the engine of the current run.
    #[track_caller]
    pub fn new() -> Self {
        let imp = match rt::engine() {
            engine @ (Engine::Loom | Engine::Shuttle) => CondvarImp::Model(ModelCondvar::new(engine)),
            Engine::Std => CondvarImp::Std(parking_lot::Condvar::new()),
        };
        Condvar { imp, tag: Tag::new("Condvar", Location::caller()) }
    }

    /// Creates the condvar with a name that traces show instead of its creation site.
    #[track_caller]
    pub fn named(name: &'static str) -> Self {
        let mut condvar = Self::new();
        condvar.tag = condvar.tag.with_name(name);
        condvar
    }

    /// The model-checked engine this condvar belongs to, `None` on real threads.
    fn model(&self) -> Option<Engine> {
        match &self.imp {
            CondvarImp::Model(m) => Some(m.engine),
            CondvarImp::Std(_) => None,
        }
    }

    /// Blocks until notified, releasing the mutex while it waits.
    #[track_caller]
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        self.wait_as(guard, "wait")
    }

    /// [`Condvar::wait`] inside an operation of lockhound's own built on this condvar (a
    /// channel's `recv`, a barrier's `wait`): a deadlock names `op` at the user's call.
    #[track_caller]
    pub(crate) fn wait_as<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        op: &'static str,
    ) -> LockResult<MutexGuard<'a, T>> {
        let (guard, _) = self.wait_for(guard, None, op, Location::caller());
        guard.lock.poison.result(guard)
    }

    /// Blocks while `condition` holds, like `std::sync::Condvar::wait_while`.
    #[track_caller]
    pub fn wait_while<'a, T>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> LockResult<MutexGuard<'a, T>> {
        while condition(&mut guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// Blocks until notified or until `timeout` passes, releasing the mutex while it waits.
    /// Under loom and shuttle the timeout is the scheduler's choice (see [`Condvar`]), whatever
    /// its length; on real threads it is real.
    #[track_caller]
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let (guard, timed_out) = self.wait_for(guard, Some(timeout), "wait_timeout", Location::caller());
        with_poison(guard, WaitTimeoutResult(timed_out))
    }

    /// Blocks while `condition` holds, at most `timeout` in all, like
    /// `std::sync::Condvar::wait_timeout_while`: `timed_out()` says the condition still held
    /// when the deadline passed.
    #[track_caller]
    pub fn wait_timeout_while<'a, T>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timeout: Duration,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let at = Location::caller();
        let start = Instant::now();
        loop {
            if !condition(&mut guard) {
                return with_poison(guard, WaitTimeoutResult(false));
            }
            let left = match self.imp {
                // Model time: each wait may be the one the deadline ends.
                CondvarImp::Model(_) => timeout,
                CondvarImp::Std(_) => match timeout.checked_sub(start.elapsed()) {
                    Some(left) => left,
                    None => return with_poison(guard, WaitTimeoutResult(true)),
                },
            };
            let (woken, timed_out) = self.wait_for(guard, Some(left), "wait_timeout_while", at);
            guard = woken;
            if timed_out && self.model().is_some() {
                let still = condition(&mut guard);
                return with_poison(guard, WaitTimeoutResult(still));
            }
        }
    }

    /// Waits for a notification, or (with a timeout) for whichever of a notification and the
    /// deadline comes first; returns the guard and whether the deadline came first. `op` and
    /// `at` are what a deadlock names the wait by.
    fn wait_for<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Option<Duration>,
        op: &'static str,
        at: &'static Location<'static>,
    ) -> (MutexGuard<'a, T>, bool) {
        let MutexGuard { poison, held, imp, lock } = guard;
        note_at(self.model(), &self.tag, "wait (releases the mutex)", at);
        let (imp, timed_out) = match (&self.imp, imp) {
            (CondvarImp::Model(m), imp @ (MutexGuardImp::Loom(_) | MutexGuardImp::Shuttle(_))) => {
                self.tag.expect(m.engine);
                if m.engine == Engine::Loom {
                    // loom's own condvar makes its wait a scheduling point on the condvar.
                    m.order.pass();
                }
                let id = m.enqueue();
                // In the queue before the mutex is released: a notify by a thread that takes
                // the mutex after this point finds this waiter.
                held.given_back();
                drop(imp);
                let woken = match timeout {
                    None => {
                        let entering =
                            Entering::begin(m.engine, op, Wait::Notification { tag: self.tag }, at);
                        let woken = m.block_until_notified(id);
                        entering.end();
                        woken
                    }
                    Some(_) => {
                        wait::let_others_run(m.engine);
                        m.order.pass();
                        m.leave(id)
                    }
                };
                let timed_out = match woken {
                    Woken::Notified(clock) => {
                        clock.join();
                        false
                    }
                    Woken::TimedOut => true,
                };
                let imp = lock.lock_engine(at);
                held.taken_again();
                (imp, timed_out)
            }
            (CondvarImp::Std(c), MutexGuardImp::Std(mut g)) => {
                // Recorded as a release, a condvar wait on the mutex, and a reacquisition.
                let timed_out = match timeout {
                    None => {
                        crate::tracker::condvar_wait(&mut g, c, at);
                        false
                    }
                    Some(timeout) => crate::tracker::condvar_wait_for(&mut g, c, timeout, at),
                };
                (MutexGuardImp::Std(g), timed_out)
            }
            _ => panic!("Condvar::wait given a guard from a mutex of another run"),
        };
        let woke =
            if timed_out { "timed out (holds the mutex again)" } else { "woken (holds the mutex again)" };
        note_at(self.model(), &self.tag, woke, at);
        (MutexGuard { poison, held, imp, lock }, timed_out)
    }

    /// Wakes one waiting thread.
    #[track_caller]
    pub fn notify_one(&self) {
        note(self.model(), &self.tag, "notify_one");
        match &self.imp {
            CondvarImp::Model(m) => {
                self.tag.expect(m.engine);
                m.notify(false)
            }
            CondvarImp::Std(c) => {
                c.notify_one();
            }
        }
    }

    /// Wakes every waiting thread.
    #[track_caller]
    pub fn notify_all(&self) {
        note(self.model(), &self.tag, "notify_all");
        match &self.imp {
            CondvarImp::Model(m) => {
                self.tag.expect(m.engine);
                m.notify(true)
            }
            CondvarImp::Std(c) => {
                c.notify_all();
            }
        }
    }
}

/// The result of a timed wait: the poison state of the mutex, as std returns it.
fn with_poison<T>(
    guard: MutexGuard<'_, T>,
    result: WaitTimeoutResult,
) -> LockResult<(MutexGuard<'_, T>, WaitTimeoutResult)> {
    if guard.lock.is_poisoned() {
        Err(PoisonError::new((guard, result)))
    } else {
        Ok((guard, result))
    }
}

impl Default for Condvar {
    #[track_caller]
    fn default() -> Self {
        Condvar::new()
    }
}

impl std::fmt::Debug for Condvar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Condvar { .. }")
    }
}

// As std's `Condvar`: it holds no user data, only its waiters, which a panic leaves consistent.
impl std::panic::RefUnwindSafe for Condvar {}
