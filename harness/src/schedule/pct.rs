//! Probabilistic concurrency testing (PCT; Burckhardt, Kothari, Musuvathi, Nagarakatte,
//! ASPLOS 2010): threads run by priority, the highest-priority runnable thread first; each
//! execution draws fresh random priorities and `depth - 1` change points among its choice
//! points (scheduling points where two or more threads could run), and at each change point
//! the running thread drops below every other. A bug that needs `depth - 1` orderings is found
//! with probability at least `1 / (threads * steps^(depth - 1))` per execution. As in
//! shuttle's `PctScheduler`, the first execution runs the oldest thread first to learn how
//! many choice points an execution has, and a thread that yields drops below the others too.
//!
//! lockhound's own rather than shuttle's for its cost on many threads: shuttle keeps the
//! priorities in a `HashMap` and hashes every runnable thread's id at every step (a fifth of
//! all the instructions of a 100-thread execution, docs/performance.md); here they are a
//! `Vec` indexed by thread id.
//!
//! A body whose first execution had no choice point has one schedule only, whatever the
//! strategy: that execution explored it all, so the search ends there, exhausted (shuttle's
//! PCT asserts instead, and a run would report the panic as a finding of a correct body).

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use shuttle::scheduler::{Schedule as ShuttleSchedule, Scheduler, Task, TaskId};

pub(crate) struct Pct {
    rng: SmallRng,
    depth: usize,
    /// Each thread's priority, by thread id: the lowest value runs first.
    priorities: Vec<u64>,
    /// The value a thread that drops below all others gets (then it grows).
    lowest: u64,
    /// The choice points of this execution at which the running thread drops, in order.
    change_points: Vec<usize>,
    /// The next of them to come.
    next_change: usize,
    /// Choice points so far in this execution, and the most any execution had.
    steps: usize,
    max_steps: usize,
    executions: u64,
}

impl Pct {
    pub(crate) fn new(seed: u64, depth: usize) -> Self {
        Pct {
            rng: SmallRng::seed_from_u64(seed),
            depth: depth.max(1),
            priorities: Vec::new(),
            lowest: 0,
            change_points: Vec::new(),
            next_change: 0,
            steps: 0,
            max_steps: 0,
            executions: 0,
        }
    }

    /// Gives a thread seen for the first time its priority: in the first execution, below all
    /// others (oldest first); afterwards a random place, by taking the priority of a random
    /// thread (or the lowest) and sending that one below all others.
    fn admit(&mut self, thread: usize) {
        while self.priorities.len() <= thread {
            let new = self.priorities.len();
            let fresh = self.take_lowest();
            if self.executions <= 1 {
                self.priorities.push(fresh);
                continue;
            }
            let target = self.rng.gen_range(0..=new);
            if target == new {
                self.priorities.push(fresh);
            } else {
                let taken = std::mem::replace(&mut self.priorities[target], fresh);
                self.priorities.push(taken);
            }
        }
    }

    fn take_lowest(&mut self) -> u64 {
        self.lowest += 1;
        self.lowest
    }
}

impl Scheduler for Pct {
    fn new_execution(&mut self) -> Option<ShuttleSchedule> {
        if self.executions == 1 && self.max_steps == 0 {
            return None;
        }
        self.executions += 1;
        self.steps = 0;
        self.next_change = 0;
        if self.executions > 1 {
            // Fresh random priorities for the threads known so far, distinct and above any
            // that a change point hands out.
            let mut order: Vec<u64> = (0..self.priorities.len() as u64).collect();
            order.shuffle(&mut self.rng);
            self.priorities.copy_from_slice(&order);
            self.lowest = self.priorities.len() as u64;
            // Among the choice points after the first (the random priorities already decide the
            // first), counted from 1.
            let points = (self.depth - 1).min(self.max_steps.saturating_sub(1));
            let mut change_points: Vec<usize> =
                rand::seq::index::sample(&mut self.rng, self.max_steps - 1, points)
                    .into_iter()
                    .map(|p| p + 2)
                    .collect();
            change_points.sort_unstable();
            self.change_points = change_points;
        }
        Some(ShuttleSchedule::new(self.rng.gen()))
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, yielding: bool) -> Option<TaskId> {
        let highest = runnable.iter().map(|t| usize::from(t.id())).max()?;
        self.admit(highest);
        if runnable.len() > 1 {
            self.steps += 1;
            self.max_steps = self.max_steps.max(self.steps);
            let at_change = self.change_points.get(self.next_change) == Some(&self.steps);
            if at_change {
                self.next_change += 1;
            }
            if let Some(current) = current.map(usize::from) {
                if at_change || yielding {
                    self.priorities[current] = self.take_lowest();
                }
            }
        }
        runnable.iter().min_by_key(|t| self.priorities[usize::from(t.id())]).map(|t| t.id())
    }

    fn next_u64(&mut self) -> u64 {
        self.rng.gen()
    }
}
