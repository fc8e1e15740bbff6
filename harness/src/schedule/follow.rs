//! shuttle schedulers that speak lockhound schedules: one records the departures from the
//! default policy made by any strategy, the other follows a schedule to replay it.

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

/// The scheduling points of one execution, counted per thread, and its departures from the
/// default policy.
#[derive(Default)]
pub(crate) struct Recording {
    steps_of: Vec<usize>,
    pub(crate) steps: usize,
    pub(crate) switches: Vec<Switch>,
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
}

/// Executions started and whether the strategy ran out of schedules.
#[derive(Default)]
pub(crate) struct Progress {
    pub(crate) executions: Cell<u64>,
    pub(crate) exhausted: Cell<bool>,
}

/// Wraps a shuttle strategy: enforces the budget and records each execution's schedule.
pub(crate) struct Recorder<S> {
    pub(crate) inner: S,
    pub(crate) max_executions: u64,
    pub(crate) deadline: Instant,
    /// Asked before each execution, by its number from 1: in a parallel run, whether another
    /// lane has already settled the outcome (see `explore::race`).
    pub(crate) may_start: Option<Box<dyn Fn(u64) -> bool>>,
    pub(crate) progress: Rc<Progress>,
    pub(crate) recording: Rc<RefCell<Recording>>,
}

impl<S: Scheduler> Scheduler for Recorder<S> {
    fn new_execution(&mut self) -> Option<ShuttleSchedule> {
        let next = self.progress.executions.get() + 1;
        if next > self.max_executions || Instant::now() >= self.deadline {
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

/// Follows a lockhound schedule for exactly one execution.
pub(crate) struct Follower {
    plan: HashMap<(usize, usize), usize>,
    started: bool,
    random: u64,
    pub(crate) report: Rc<RefCell<FollowReport>>,
}

impl Follower {
    pub(crate) fn new(schedule: &SwitchList) -> Self {
        let plan = schedule.switches.iter().map(|s| ((s.thread, s.step), s.to)).collect();
        Follower { plan, started: false, random: 0x9E37_79B9_7F4A_7C15, report: Rc::default() }
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
                default
            }
            _ => default,
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
