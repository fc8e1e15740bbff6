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

/// What one pass over the runnable threads says about them (this runs at every scheduling
/// point, over as many threads as the body has: one pass, no allocation).
struct Choices {
    lowest: usize,
    /// The lowest runnable id above the current thread's.
    next: Option<usize>,
    current_runs: bool,
}

impl Choices {
    fn of(runnable: &[&Task], current: Option<usize>) -> Choices {
        let mut choices = Choices { lowest: usize::MAX, next: None, current_runs: false };
        for t in ids(runnable) {
            choices.lowest = choices.lowest.min(t);
            match current {
                Some(c) if t == c => choices.current_runs = true,
                Some(c) if t > c => choices.next = Some(choices.next.map_or(t, |n| n.min(t))),
                _ => {}
            }
        }
        choices
    }

    /// The default policy: keep the running thread while it can run and does not yield;
    /// otherwise the next runnable thread in id order after it, wrapping around.
    fn default(&self, current: Option<usize>, yielding: bool) -> usize {
        match current {
            Some(c) if !yielding && self.current_runs => c,
            Some(_) => self.next.unwrap_or(self.lowest),
            None => self.lowest,
        }
    }
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
/// FAIR_QUANTUM` steps); a large one keeps the schedule of a long fair run short. The fair
/// policy is the default one, except that a thread that ran `FAIR_QUANTUM` steps in a row
/// hands over to the next runnable thread in id order, as when it yields.
pub(crate) const FAIR_QUANTUM: usize = 100;

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

    /// Notes the choice made at `anchor`; `current_runs`: the thread at the anchor could have
    /// gone on (a switch away from it is a preemption).
    fn note(&mut self, anchor: Option<(usize, usize)>, current_runs: bool, chosen: usize, default: usize) {
        self.last = match self.last {
            Some((thread, run)) if thread == chosen => Some((thread, run + 1)),
            _ => Some((chosen, 1)),
        };
        if chosen == default {
            return;
        }
        if let Some((thread, step)) = anchor {
            self.switches.push(Switch { thread, step, to: chosen, preemptive: current_runs });
        }
    }

    /// The departures so far; which strategy made them is the search's to say (`found_by`).
    pub(crate) fn schedule(&self) -> SwitchList {
        SwitchList { switches: self.switches.clone(), found_by: None }
    }

    /// Starts over for a new execution, keeping the memory (an execution of a body with many
    /// threads records hundreds of switches).
    fn reset(&mut self) {
        self.steps_of.clear();
        self.switches.clear();
        self.steps = 0;
        self.cut = false;
        self.last = None;
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
    /// Notes a scheduling point: every thread is chosen at its first step, so the highest
    /// chosen id counts the threads.
    fn saw(&self, runnable: &[&Task], chosen: usize) {
        if runnable.len() > 1 {
            self.interleaved.set(true);
        }
        if chosen >= self.threads.get() {
            self.threads.set(chosen + 1);
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
        self.recording.borrow_mut().reset();
        Some(schedule)
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, yielding: bool) -> Option<TaskId> {
        // The facade ends a failing execution here (see `rt::blocking`).
        if crate::rt::blocking::halting() {
            return None;
        }
        if self.recording.borrow_mut().cut_at(self.step_limit) {
            return None;
        }
        let chosen = self.inner.next_task(runnable, current, yielding)?;
        crate::explore::watchdog::scheduled(usize::from(chosen));
        crate::fault::running(usize::from(chosen));
        self.progress.saw(runnable, usize::from(chosen));
        let current = current.map(usize::from);
        let mut rec = self.recording.borrow_mut();
        let anchor = rec.advance(current);
        let choices = Choices::of(runnable, current);
        rec.note(anchor, choices.current_runs, usize::from(chosen), choices.default(current, yielding));
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
        if crate::rt::blocking::halting() {
            return None;
        }
        let current = current.map(usize::from);
        let choices = Choices::of(runnable, current);
        let default = choices.default(current, yielding);
        let mut report = self.report.borrow_mut();
        if report.recording.cut_at(self.step_limit) {
            return None;
        }
        let fair = self.fair_after.is_some_and(|after| report.recording.steps >= after);
        let unplanned = if fair {
            choices.default(current, yielding || report.recording.run_length(current) >= FAIR_QUANTUM)
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
        report.recording.note(anchor, choices.current_runs, chosen, default);
        crate::explore::watchdog::scheduled(chosen);
        crate::fault::running(chosen);
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
