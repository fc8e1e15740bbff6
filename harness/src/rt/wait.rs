//! Blocking, waking and timeouts under the model checkers, for the waits lockhound implements
//! itself (`Condvar`, and what is built on it: channels, barriers, `Once`).
//!
//! **Timeouts are scheduler choices.** loom and shuttle have no clock, and their own timed
//! waits never time out. A timed wait here never blocks: it registers as a waiter, lets the
//! other threads run ([`let_others_run`], a yield), and when the scheduler runs it again it
//! has either been woken by then (the notify won) or it leaves the queue and times out (the
//! deadline passed first). Which one happens is the scheduler's choice of when the waiting
//! thread runs again, so both are explored, and both replay from the schedule that chose them
//! (a lockhound shuttle schedule, or loom's path), with no thread of its own and no real sleep:
//! under loom a timed wait costs none of loom's 5 threads. When every other thread is blocked
//! the waiting thread runs and times out, as a real one would once its deadline passes, so a
//! timed wait is never part of a deadlock. loom runs a thread that yielded again only after
//! another thread took a step (its rule for spin loops), so under loom the timeout is explored
//! from the first step another thread takes on.
//!
//! An untimed wait blocks: loom parks the thread, shuttle blocks its task, and the waker
//! unparks or unblocks it. The wake-up carries happens-before from the waker, as the engines'
//! own condvars do: loom's unpark joins the waker's causality, and under shuttle the waker's
//! vector clock travels with the wake-up ([`Clock`]).
//!
//! Each operation on a wait queue first passes its [`OrderPoint`]: under loom an atomic
//! read-modify-write (relaxed: it orders nothing), which tells loom's partial-order reduction
//! that two operations on the same queue do not commute, so it explores both orders of a
//! notify and a timeout. The queue's own bookkeeping is plain memory: a model checker runs one
//! simulated thread at a time, and the bookkeeping that follows an order point runs before the
//! thread's next scheduling point.

use super::Engine;

/// A simulated thread that a wait blocked, to wake.
#[derive(Clone, Debug)]
pub(crate) enum Sleeper {
    Loom(loom::thread::Thread),
    Shuttle(shuttle_engine::runtime::task::TaskId),
}

impl Sleeper {
    /// The calling simulated thread.
    pub(crate) fn current(engine: Engine) -> Sleeper {
        match engine {
            Engine::Loom => Sleeper::Loom(loom::thread::current()),
            Engine::Shuttle => Sleeper::Shuttle(shuttle::current::me()),
            Engine::Std => unreachable!("real threads wait with std's own primitives"),
        }
    }

    /// Makes the thread runnable again (it may not have blocked yet: loom keeps the unpark for
    /// its next park, shuttle's task simply stays runnable).
    pub(crate) fn wake(&self) {
        match self {
            Sleeper::Loom(thread) => thread.unpark(),
            Sleeper::Shuttle(task) => {
                shuttle_engine::runtime::execution::ExecutionState::with(|s| s.get_mut(*task).unblock())
            }
        }
    }
}

/// Blocks the calling simulated thread until a [`Sleeper::wake`], or (loom) returns at once if
/// one came already. May return without a wake of the caller's (a stray loom unpark): callers
/// check their own state in a loop, and say whether they saw such a return ([`Stray`]).
pub(crate) fn block(engine: Engine) {
    match engine {
        Engine::Loom => loom::thread::park(),
        Engine::Shuttle => {
            use shuttle_engine::runtime::execution::ExecutionState;
            // The last thread that could run: a deadlock, found here rather than by shuttle.
            super::blocking::check_last_runnable();
            ExecutionState::with(|s| s.current_mut().block(false));
            shuttle_engine::runtime::thread::switch();
        }
        Engine::Std => unreachable!("real threads wait with std's own primitives"),
    }
}

/// Lets the other threads run: the scheduling point at which a timed wait's deadline may pass.
#[track_caller]
pub(crate) fn let_others_run(engine: Engine) {
    super::record::gives_way(engine);
    match engine {
        Engine::Loom => loom::thread::yield_now(),
        Engine::Shuttle => shuttle::thread::yield_now(),
        Engine::Std => std::thread::yield_now(),
    }
}

/// Unparks the calling thread once more if a wait consumed an unpark that was not the wait's
/// (loom's park tokens are shared with `thread::park`): the body's own `park` then finds it.
#[derive(Default)]
pub(crate) struct Stray(bool);

impl Stray {
    pub(crate) fn note(&mut self) {
        self.0 = true;
    }

    pub(crate) fn give_back(self, engine: Engine) {
        if self.0 && engine == Engine::Loom {
            loom::thread::current().unpark();
        }
    }
}

/// Where operations on one wait queue meet, so that loom explores their orders.
pub(crate) enum OrderPoint {
    Loom(loom::sync::atomic::AtomicUsize),
    Shuttle,
}

impl OrderPoint {
    pub(crate) fn new(engine: Engine) -> OrderPoint {
        match engine {
            Engine::Loom => OrderPoint::Loom(loom::sync::atomic::AtomicUsize::new(0)),
            Engine::Shuttle => OrderPoint::Shuttle,
            Engine::Std => unreachable!("real threads wait with std's own primitives"),
        }
    }

    /// A scheduling point that loom sees as an access to this queue (shuttle: a scheduling
    /// point; shuttle explores every interleaving of its scheduling points anyway).
    pub(crate) fn pass(&self) {
        match self {
            OrderPoint::Loom(order) => {
                order.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            OrderPoint::Shuttle => shuttle_engine::runtime::thread::switch(),
        }
    }
}

/// What a wake-up carries under shuttle: the waker's vector clock, joined by the woken thread,
/// so that what the waker did before happens before what the woken thread does after (loom's
/// unpark does this itself).
#[derive(Clone, Debug, Default)]
pub(crate) struct Clock(Option<shuttle_engine::runtime::task::clock::VectorClock>);

impl Clock {
    /// The calling thread's clock, under shuttle.
    pub(crate) fn now(engine: Engine) -> Clock {
        match engine {
            Engine::Shuttle => Clock(Some(shuttle::current::clock())),
            _ => Clock(None),
        }
    }

    /// Joins the clock into the calling thread's.
    pub(crate) fn join(&self) {
        if let Some(clock) = &self.0 {
            shuttle_engine::runtime::execution::ExecutionState::with(|s| s.update_clock(clock));
        }
    }
}
