//! Two strategies taking turns, one execution each. `auto`'s warm-up runs PCT and uniform
//! random this way: a bug that either of them finds in a few executions is found in about
//! twice that many, whichever of the two it suits.

use shuttle::scheduler::{Schedule as ShuttleSchedule, Scheduler, Task, TaskId};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub(crate) struct Alternate<A, B> {
    first: A,
    second: B,
    executions: usize,
    /// Which strategy runs the current execution: 0 for the first, 1 for the second. Read at
    /// every scheduling point, so a plain field; `current` shares it with the caller.
    turn: usize,
    pub(crate) current: Arc<AtomicUsize>,
}

impl<A: Scheduler, B: Scheduler> Alternate<A, B> {
    pub(crate) fn new(first: A, second: B) -> Self {
        Alternate { first, second, executions: 0, turn: 0, current: Arc::default() }
    }
}

impl<A: Scheduler, B: Scheduler> Scheduler for Alternate<A, B> {
    fn new_execution(&mut self) -> Option<ShuttleSchedule> {
        self.turn = self.executions % 2;
        self.executions += 1;
        self.current.store(self.turn, Ordering::Relaxed);
        if self.turn == 0 {
            self.first.new_execution()
        } else {
            self.second.new_execution()
        }
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, yielding: bool) -> Option<TaskId> {
        if self.turn == 0 {
            self.first.next_task(runnable, current, yielding)
        } else {
            self.second.next_task(runnable, current, yielding)
        }
    }

    fn next_u64(&mut self) -> u64 {
        if self.turn == 0 {
            self.first.next_u64()
        } else {
            self.second.next_u64()
        }
    }
}
