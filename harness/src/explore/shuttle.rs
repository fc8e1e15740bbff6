//! The shuttle engines: random, PCT and depth-first strategies, each wrapped in lockhound's
//! recorder so that every failure comes with a lockhound schedule.

use super::{finding_from_panic, Body, EngineRun, ReplayOutcome, Seat};
use crate::backend::{Backend, Budget, RunConfig};
use crate::rt::{self, Engine};
use crate::schedule::alternate::Alternate;
use crate::schedule::follow::{Follower, Progress, Recorder, Recording};
use crate::schedule::pct::Pct;
use crate::schedule::random::Random;
use crate::schedule::{Schedule, SwitchList};
use ::shuttle::scheduler::{DfsScheduler, Scheduler};
use ::shuttle::{Config, FailurePersistence, MaxSteps};
use shuttle_engine::runtime::execution::Execution;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Instant;

fn shuttle_config(config: &RunConfig) -> Config {
    let mut c = Config::new();
    c.failure_persistence = FailurePersistence::None;
    c.max_steps = MaxSteps::FailAfter(config.max_steps);
    c.silence_warnings = true;
    c
}

/// Runs `scheduler` over `body`, one execution after another until the scheduler stops;
/// `Err` carries the failing execution's panic payload.
///
/// This is shuttle's `Runner::run` loop over shuttle-engine's public `Execution`, run inside
/// the calling thread's continuation pool (see `stacks`): `Runner::run` would map the
/// coroutine stacks of every run afresh.
#[track_caller]
fn run_under<S: Scheduler + 'static>(
    scheduler: S,
    body: &Body,
    config: &RunConfig,
) -> Result<(), Box<dyn std::any::Any + Send>> {
    let _scope = rt::enter(Engine::Shuttle);
    let body = body.clone();
    let shuttle_config = shuttle_config(config);
    let scheduler: Rc<RefCell<dyn Scheduler>> = Rc::new(RefCell::new(scheduler));
    let caller = std::panic::Location::caller();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        super::stacks::with_kept_continuations(|| loop {
            let Some(schedule) = scheduler.borrow_mut().new_execution() else { break };
            let body = body.clone();
            Execution::new(scheduler.clone(), schedule).run(
                &shuttle_config,
                move || {
                    let _execution = rt::begin_execution();
                    body()
                },
                caller,
            );
        })
    }))
}

pub(super) fn explore(
    backend: Backend,
    body: &Body,
    config: &RunConfig,
    budget: Budget,
    seat: &Seat,
) -> EngineRun {
    let inner: Box<dyn Scheduler + Send> = match backend {
        Backend::ShuttleRandom => Box::new(Random::new(seat.seed)),
        Backend::ShuttlePct => Box::new(pct(seat.seed, config)),
        Backend::ShuttleDfs => Box::new(DfsScheduler::new(None, false)),
        other => unreachable!("{other} is not a shuttle strategy"),
    };
    explore_under(backend, inner, body, config, budget, seat)
}

fn pct(seed: u64, config: &RunConfig) -> Pct {
    Pct::new(seed, config.pct_depth)
}

/// `auto`'s warm-up: uniform random and PCT taking turns, one execution each (see
/// `schedule::alternate`); the finding names the one whose execution failed.
pub(super) fn warm_up(body: &Body, config: &RunConfig, budget: Budget, seat: &Seat) -> EngineRun {
    // Random first: a bug that almost any schedule hits is then found by the first execution.
    let alternate = Alternate::new(Random::new(seat.seed), pct(seat.seed, config));
    let turn = alternate.current.clone();
    let mut run = explore_under(Backend::ShuttleRandom, Box::new(alternate), body, config, budget, seat);
    if let Some(finding) = &mut run.finding {
        if turn.load(Ordering::Relaxed) == 1 {
            finding.backend = Backend::ShuttlePct;
            run.backend = Backend::ShuttlePct;
        }
    }
    run
}

/// Runs `inner` (wrapped in the recorder) for `backend`'s share of a run.
fn explore_under(
    backend: Backend,
    inner: Box<dyn Scheduler + Send>,
    body: &Body,
    config: &RunConfig,
    budget: Budget,
    seat: &Seat,
) -> EngineRun {
    let start = Instant::now();
    let progress = Rc::new(Progress::default());
    let recording = Rc::new(RefCell::new(Recording::default()));
    let recorder = Recorder {
        inner,
        max_executions: budget.executions,
        deadline: start + budget.time,
        may_start: seat.clock.is_some().then(|| {
            let seat = seat.clone();
            Box::new(move |n| seat.may_start(n)) as Box<dyn Fn(u64) -> bool>
        }),
        progress: progress.clone(),
        recording: recording.clone(),
    };
    let result = run_under(recorder, body, config);
    let elapsed = start.elapsed();
    let executions = progress.executions.get();
    let finding = result.err().map(|payload| {
        let recording = recording.borrow();
        let schedule = Schedule::Shuttle(recording.schedule());
        let mut finding = finding_from_panic(backend, payload, executions, elapsed, Some(schedule));
        finding.steps = Some(recording.steps);
        finding
    });
    let exhaustive = finding.is_none() && progress.exhausted.get();
    if finding.is_some() || exhaustive {
        seat.post(executions);
    }
    EngineRun { backend, executions, elapsed, exhaustive, finding, loom_path: None }
}

pub(super) fn replay(body: &Body, list: &SwitchList, config: &RunConfig) -> ReplayOutcome {
    replay_recorded(body, list, config).0
}

/// Replays `list` once; also returns the departures the replay really made (a switch that
/// could not apply is not among them) and its step count.
pub(super) fn replay_recorded(
    body: &Body,
    list: &SwitchList,
    config: &RunConfig,
) -> (ReplayOutcome, SwitchList, usize) {
    let start = Instant::now();
    let follower = Follower::new(list);
    let report = follower.report.clone();
    let result = run_under(follower, body, config);
    let report = report.borrow();
    let actual = report.recording.schedule();
    let steps = report.recording.steps;
    let outcome = match result {
        Err(payload) => {
            let schedule = Schedule::Shuttle(actual.clone());
            let mut finding =
                finding_from_panic(Backend::ShuttleRandom, payload, 1, start.elapsed(), Some(schedule));
            finding.steps = Some(steps);
            ReplayOutcome::Failed(finding)
        }
        Ok(()) => {
            if let Some(mismatch) = &report.mismatch {
                ReplayOutcome::NotApplicable(format!("schedule no longer applies: {mismatch}"))
            } else if report.applied < list.switches.len() {
                ReplayOutcome::NotApplicable(format!(
                    "schedule no longer applies: {} of its {} switches were never reached",
                    list.switches.len() - report.applied,
                    list.switches.len()
                ))
            } else {
                ReplayOutcome::Passed
            }
        }
    };
    (outcome, actual, steps)
}
