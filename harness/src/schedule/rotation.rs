//! Strategies taking turns, one execution each, in a fixed order of turns in which a strategy
//! may come more than once. Each keeps its own state between its turns, so it runs exactly
//! the executions it would run alone. `auto`'s shuttle rotation runs this way: a bug that any
//! of them finds in a few executions is found within that many turns, whichever it suits.

use shuttle::scheduler::{Schedule as ShuttleSchedule, Scheduler, Task, TaskId};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub(crate) struct Rotation {
    members: Vec<Box<dyn Scheduler + Send>>,
    /// The member of each turn, in order, over and over.
    turns: Vec<usize>,
    executions: usize,
    /// Which member runs the current execution. Read at every scheduling point, so a plain
    /// field; `current` shares it with the caller.
    turn: usize,
    pub(crate) current: Arc<AtomicUsize>,
}

impl Rotation {
    /// `turns` lists, by index into `members`, who runs each execution of a round.
    pub(crate) fn new(members: Vec<Box<dyn Scheduler + Send>>, turns: Vec<usize>) -> Self {
        assert!(!turns.is_empty() && turns.iter().all(|&m| m < members.len()), "turns name members");
        Rotation { members, turns, executions: 0, turn: 0, current: Arc::default() }
    }
}

impl Scheduler for Rotation {
    fn new_execution(&mut self) -> Option<ShuttleSchedule> {
        self.turn = self.turns[self.executions % self.turns.len()];
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
