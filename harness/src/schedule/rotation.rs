//! Strategies taking turns, one execution each. `auto`'s warm-up runs its samplers this way: a
//! bug that any of them finds in a few executions is found within that many turns, whichever
//! of them it suits.

use shuttle::scheduler::{Schedule as ShuttleSchedule, Scheduler, Task, TaskId};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub(crate) struct Rotation {
    members: Vec<Box<dyn Scheduler + Send>>,
    executions: usize,
    /// Which member runs the current execution. Read at every scheduling point, so a plain
    /// field; `current` shares it with the caller.
    turn: usize,
    pub(crate) current: Arc<AtomicUsize>,
}

impl Rotation {
    pub(crate) fn new(members: Vec<Box<dyn Scheduler + Send>>) -> Self {
        assert!(!members.is_empty(), "a rotation needs a member");
        Rotation { members, executions: 0, turn: 0, current: Arc::default() }
    }
}

impl Scheduler for Rotation {
    fn new_execution(&mut self) -> Option<ShuttleSchedule> {
        self.turn = self.executions % self.members.len();
        self.executions += 1;
        self.current.store(self.turn, Ordering::Relaxed);
        self.members[self.turn].new_execution()
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, yielding: bool) -> Option<TaskId> {
        self.members[self.turn].next_task(runnable, current, yielding)
    }

    fn next_u64(&mut self) -> u64 {
        self.members[self.turn].next_u64()
    }
}
