//! shuttle's PCT, safe on bodies with nothing to interleave. shuttle's `PctScheduler` learns
//! how long an execution is from its first one and asserts, when the second starts, that the
//! first made at least one choice (a scheduling point where two threads could run). A correct
//! body whose threads never overlap (a thread spawned and joined at once) fails that
//! assertion, and a run would report the panic as a finding of the body. Such a body has one
//! schedule only, whatever the strategy: the first execution explored it all, so the search
//! ends there, exhausted, as depth-first search ends on it.

use shuttle::scheduler::{PctScheduler, Schedule as ShuttleSchedule, Scheduler, Task, TaskId};

pub(crate) struct Pct {
    inner: PctScheduler,
    executions: u64,
    /// Choices made so far, counted as PCT counts its steps.
    choices: u64,
}

impl Pct {
    pub(crate) fn new(seed: u64, depth: usize) -> Self {
        Pct { inner: PctScheduler::new_from_seed(seed, depth, usize::MAX), executions: 0, choices: 0 }
    }
}

impl Scheduler for Pct {
    fn new_execution(&mut self) -> Option<ShuttleSchedule> {
        if self.executions == 1 && self.choices == 0 {
            return None;
        }
        self.executions += 1;
        self.inner.new_execution()
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, yielding: bool) -> Option<TaskId> {
        if runnable.len() > 1 {
            self.choices += 1;
        }
        self.inner.next_task(runnable, current, yielding)
    }

    fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }
}
