//! The executor's work clock as task code sees it: count work, sleep, yield.

use super::Units;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// Executor state that task code reaches through a [`Clock`]. Single-threaded (`Rc`): a
/// `Clock` cannot leave the executor's thread, so only its tasks (and the body that built
/// them) can move the clock.
#[derive(Default)]
pub(super) struct State {
    pub(super) now: Cell<Units>,
    /// The task being polled, while a poll runs.
    pub(super) polling: Cell<Option<usize>>,
    /// Pending timers: (deadline, task).
    timers: RefCell<Vec<(Units, usize)>>,
}

impl State {
    /// Removes and returns the timers due by now, earliest first.
    pub(super) fn due_timers(&self) -> Vec<(Units, usize)> {
        let now = self.now.get();
        let mut timers = self.timers.borrow_mut();
        let mut due: Vec<_> = timers.iter().copied().filter(|&(deadline, _)| deadline <= now).collect();
        timers.retain(|&(deadline, _)| deadline > now);
        due.sort_unstable();
        due
    }

    /// The earliest pending deadline.
    pub(super) fn next_deadline(&self) -> Option<Units> {
        self.timers.borrow().iter().map(|&(deadline, _)| deadline).min()
    }
}

/// A handle on an executor's work clock, for its tasks.
#[derive(Clone)]
pub struct Clock {
    state: Rc<State>,
}

impl Clock {
    pub(super) fn new(state: Rc<State>) -> Clock {
        Clock { state }
    }

    /// The executor's clock, in work units.
    pub fn now(&self) -> Units {
        self.state.now.get()
    }

    /// Counts `units` of work done by the task being polled: the clock advances, and the
    /// poll is that much longer. Panics outside a poll, where no task is doing the work.
    #[track_caller]
    pub fn work(&self, units: Units) {
        assert!(
            self.state.polling.get().is_some(),
            "lockhound::executor::Clock::work called outside a task's poll: only task code does work"
        );
        self.state.now.set(self.state.now.get() + units);
    }

    /// A future that completes once `units` have passed on the clock from its first poll.
    /// The task becomes ready exactly at the deadline, which is when its wait is counted from.
    pub fn sleep(&self, units: Units) -> Sleep {
        Sleep { state: self.state.clone(), units, deadline: None }
    }
}

/// The future of [`Clock::sleep`].
pub struct Sleep {
    state: Rc<State>,
    units: Units,
    deadline: Option<Units>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        let now = self.state.now.get();
        let deadline = match self.deadline {
            Some(deadline) => deadline,
            None => {
                let deadline = now + self.units;
                self.deadline = Some(deadline);
                if deadline > now {
                    let task = self.state.polling.get().expect("Sleep polled outside its executor's poll");
                    self.state.timers.borrow_mut().push((deadline, task));
                }
                deadline
            }
        };
        // A timer still pending when the task is polled for another reason stays pending, and
        // its wake later is a spurious poll (futures must tolerate those).
        if now >= deadline {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Returns `Pending` once, waking the task at once: the task goes to the back of the run
/// queue and every task ready before it runs first. Works on any executor.
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
