//! shuttle schedulers that speak lockhound schedules: one records the departures from the
//! default policy made by any strategy, the other follows a schedule to replay it. Both end
//! an execution that reaches the step limit themselves (shuttle then stops it without a
//! failure) and say so in the recording, so that a step limit is known from the scheduler's
//! own count, never from the words of a panic.

use super::{Switch, SwitchList};
use shuttle::scheduler::{Schedule as ShuttleSchedule, Scheduler, Task, TaskId};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

/// The default policy: keep the running thread while it can run and does not yield; otherwise
/// the next runnable thread in id order after it, wrapping around.
fn default_choice(runnable: &[&Task], current: Option<usize>, yielding: bool) -> usize {
    let lowest = ids(runnable).min().expect("shuttle passes a non-empty runnable set");
    let Some(c) = current else { return lowest };
    if !yielding && can_run(runnable, c) {
        return c;
    }
    ids(runnable).filter(|&t| t > c).min().unwrap_or(lowest)
}

/// The ids of the runnable tasks (no allocation: this runs at every scheduling point).
fn ids<'a>(runnable: &'a [&'a Task]) -> impl Iterator<Item = usize> + 'a {
    runnable.iter().map(|t| usize::from(t.id()))
}

fn can_run(runnable: &[&Task], thread: usize) -> bool {
    ids(runnable).any(|t| t == thread)
}

/// Steps a thread may run in a row under the fair policy before the next runnable thread gets
/// its turn. Any bound makes the policy fair (every runnable thread runs within `threads *
/// FAIR_QUANTUM` steps); a large one keeps the schedule of a long fair run short.
pub(crate) const FAIR_QUANTUM: usize = 100;

/// The fair policy: the default one, except that a thread that ran `FAIR_QUANTUM` steps in a
/// row hands over to the next runnable thread in id order, as when it yields.
fn fair_choice(runnable: &[&Task], current: Option<usize>, yielding: bool, run_length: usize) -> usize {
    default_choice(runnable, current, yielding || run_length >= FAIR_QUANTUM)
}

/// The scheduling points of one execution, counted per thread, and its departures from the
/// default policy.
#[derive(Default)]
pub(crate) struct Recording {
    steps_of: Vec<usize>,
    pub(crate) steps: usize,
    pub(crate) switches: Vec<Switch>,
    /// The execution reached the step limit and was stopped there.
    pub(crate) cut: bool,
    /// The thread that ran the last step, and how many steps in a row it ran.
    last: Option<(usize, usize)>,
}

impl Recording {
    /// Counts a scheduling point of `current`; returns its anchor (thread, step).
    fn advance(&mut self, current: Option<usize>) -> Option<(usize, usize)> {
        self.steps += 1;
        let c = current?;
        if self.steps_of.len() <= c {
            self.steps_of.resize(c + 1, 0);
        }
        self.steps_of[c] += 1;
        Some((c, self.steps_of[c]))
    }

    fn note(&mut self, anchor: Option<(usize, usize)>, runnable: &[&Task], chosen: usize, default: usize) {
        self.last = match self.last {
            Some((thread, run)) if thread == chosen => Some((thread, run + 1)),
            _ => Some((chosen, 1)),
        };
        if chosen == default {
            return;
        }
        if let Some((thread, step)) = anchor {
            let preemptive = can_run(runnable, thread);
            self.switches.push(Switch { thread, step, to: chosen, preemptive });
        }
    }

    pub(crate) fn schedule(&self) -> SwitchList {
        SwitchList { switches: self.switches.clone() }
    }

    /// Steps `current` has run in a row, this one included.
    fn run_length(&self, current: Option<usize>) -> usize {
        match (self.last, current) {
            (Some((thread, run)), Some(c)) if thread == c => run,
            _ => 0,
        }
    }

    /// Stops the execution here if it has taken `limit` steps: `true` when it did.
    fn cut_at(&mut self, limit: usize) -> bool {
        self.cut |= self.steps >= limit;
        self.cut
    }
}

/// Executions started, whether the strategy ran out of schedules, and what the executions
/// showed of the body's threads.
#[derive(Default)]
pub(crate) struct Progress {
    pub(crate) executions: Cell<u64>,
    pub(crate) exhausted: Cell<bool>,
    /// The most threads an execution had.
    pub(crate) threads: Cell<usize>,
    /// Some scheduling point had two or more runnable threads.
    pub(crate) interleaved: Cell<bool>,
}

impl Progress {
    fn saw(&self, runnable: &[&Task]) {
        if runnable.len() > 1 {
            self.interleaved.set(true);
        }
        if let Some(highest) = ids(runnable).max() {
            if highest >= self.threads.get() {
                self.threads.set(highest + 1);
            }
        }
    }
}

/// Wraps a shuttle strategy: enforces the budget and records each execution's schedule.
pub(crate) struct Recorder<S> {
    pub(crate) inner: S,
    /// How far the search may go: executions in all, and a deadline. A search that runs in
    /// slices moves them on between slices.
    pub(crate) budget: Rc<Cell<(u64, Instant)>>,
    /// Asked before each execution, by its number from 1: in a parallel run, whether another
    /// lane has already settled the outcome (see `explore::race`).
    pub(crate) may_start: Option<Box<dyn Fn(u64) -> bool>>,
    pub(crate) progress: Rc<Progress>,
    pub(crate) recording: Rc<RefCell<Recording>>,
    /// Steps after which an execution is stopped (`Recording::cut`); the search then pauses
    /// until the caller has looked at it and clears the mark.
    pub(crate) step_limit: usize,
}

impl<S: Scheduler> Scheduler for Recorder<S> {
    fn new_execution(&mut self) -> Option<ShuttleSchedule> {
        if self.recording.borrow().cut {
            return None;
        }
        let next = self.progress.executions.get() + 1;
        let (max_executions, deadline) = self.budget.get();
        if next > max_executions || Instant::now() >= deadline {
            return None;
        }
        if self.may_start.as_ref().is_some_and(|may_start| !may_start(next)) {
            return None;
        }
        let Some(schedule) = self.inner.new_execution() else {
            self.progress.exhausted.set(true);
            return None;
        };
        self.progress.executions.set(next);
        *self.recording.borrow_mut() = Recording::default();
        Some(schedule)
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, yielding: bool) -> Option<TaskId> {
        if self.recording.borrow_mut().cut_at(self.step_limit) {
            return None;
        }
        self.progress.saw(runnable);
        let chosen = self.inner.next_task(runnable, current, yielding)?;
        let current = current.map(usize::from);
        let mut rec = self.recording.borrow_mut();
        let anchor = rec.advance(current);
        rec.note(anchor, runnable, usize::from(chosen), default_choice(runnable, current, yielding));
        Some(chosen)
    }

    fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }
}

/// How a replay went against its schedule.
#[derive(Default)]
pub(crate) struct FollowReport {
    /// Switches of the schedule that were applied.
    pub(crate) applied: usize,
    /// The first switch that could not be applied, said in words.
    pub(crate) mismatch: Option<String>,
    pub(crate) recording: Recording,
}

/// Follows a lockhound schedule for exactly one execution: the planned switches, and where
/// none is planned the default policy, or from step `fair_after` on the fair policy.
pub(crate) struct Follower {
    plan: HashMap<(usize, usize), usize>,
    started: bool,
    random: u64,
    step_limit: usize,
    fair_after: Option<usize>,
    pub(crate) report: Rc<RefCell<FollowReport>>,
}

impl Follower {
    pub(crate) fn new(schedule: &SwitchList, step_limit: usize) -> Self {
        let plan = schedule.switches.iter().map(|s| ((s.thread, s.step), s.to)).collect();
        Follower {
            plan,
            started: false,
            random: 0x9E37_79B9_7F4A_7C15,
            step_limit,
            fair_after: None,
            report: Rc::default(),
        }
    }

    /// Unplanned choices follow the fair policy once the execution has taken `steps` steps.
    pub(crate) fn fair_after(mut self, steps: usize) -> Self {
        self.fair_after = Some(steps);
        self
    }
}

impl Scheduler for Follower {
    fn new_execution(&mut self) -> Option<ShuttleSchedule> {
        if std::mem::replace(&mut self.started, true) {
            return None;
        }
        Some(ShuttleSchedule::new(0))
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, yielding: bool) -> Option<TaskId> {
        let current = current.map(usize::from);
        let default = default_choice(runnable, current, yielding);
        let mut report = self.report.borrow_mut();
        if report.recording.cut_at(self.step_limit) {
            return None;
        }
        let fair = self.fair_after.is_some_and(|after| report.recording.steps >= after);
        let unplanned = if fair {
            fair_choice(runnable, current, yielding, report.recording.run_length(current))
        } else {
            default
        };
        let anchor = report.recording.advance(current);
        let planned = anchor.and_then(|a| self.plan.get(&a).copied());
        let chosen = match (planned, anchor) {
            (Some(to), _) if can_run(runnable, to) => {
                report.applied += 1;
                to
            }
            (Some(to), Some((thread, step))) => {
                if report.mismatch.is_none() {
                    report.mismatch = Some(format!(
                        "at t{thread}@{step} the schedule switches to t{to}, which cannot run there"
                    ));
                }
                unplanned
            }
            _ => unplanned,
        };
        report.recording.note(anchor, runnable, chosen, default);
        Some(TaskId::from(chosen))
    }

    fn next_u64(&mut self) -> u64 {
        // A fixed xorshift stream: replays must not depend on anything but the schedule.
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        self.random
    }
}
