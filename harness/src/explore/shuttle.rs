//! The shuttle engines: random, PCT, URW and depth-first strategies, each wrapped in
//! lockhound's recorder so that every failure comes with a lockhound schedule.

use super::livelock::{self, Verdict};
use super::{finding_from_panic, Body, EngineRun, ReplayOutcome, Seat};
use crate::backend::{Backend, Budget, RunConfig};
use crate::finding::Concurrency;
use crate::rt::{self, panic, Engine};
use crate::schedule::follow::{FollowReport, Follower, Progress, Recorder, Recording};
use crate::schedule::pct::Pct;
use crate::schedule::random::Random;
use crate::schedule::rotation::Rotation;
use crate::schedule::{Schedule, SwitchList};
use ::shuttle::scheduler::{DfsScheduler, Scheduler, UrwRandomScheduler};
use ::shuttle::{Config, FailurePersistence, MaxSteps};
use shuttle_engine::runtime::execution::Execution;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Instant;

fn shuttle_config(config: &RunConfig) -> Config {
    let mut c = Config::new();
    c.failure_persistence = FailurePersistence::None;
    // A safety net only: lockhound's schedulers stop an execution at `max_steps` (and a
    // livelock check's fair continuation at twice that) before shuttle's own bound, which
    // still bounds destructors at the end of a stopped execution.
    c.max_steps = MaxSteps::FailAfter(config.max_steps.saturating_mul(4).saturating_add(10_000));
    c.silence_warnings = true;
    c
}

/// A scheduler shared between the runs of one search: a search pauses at an execution cut at
/// the step limit, and goes on with the same strategy state once it has been judged.
type Shared = Rc<RefCell<dyn Scheduler>>;

/// Runs `scheduler` over `body`, one execution after another until the scheduler stops;
/// `Err` carries the failing execution's panic payload.
///
/// This is shuttle's `Runner::run` loop over shuttle-engine's public `Execution`, run inside
/// the calling thread's continuation pool (see `stacks`): `Runner::run` would map the
/// coroutine stacks of every run afresh.
#[track_caller]
fn run_under(
    scheduler: Shared,
    body: &Body,
    config: &RunConfig,
) -> Result<(), Box<dyn std::any::Any + Send>> {
    let _scope = rt::enter(Engine::Shuttle);
    let body = body.clone();
    let shuttle_config = shuttle_config(config);
    let caller = std::panic::Location::caller();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        super::stacks::with_kept_continuations(|| loop {
            let Some(schedule) = scheduler.borrow_mut().new_execution() else { break };
            let body = body.clone();
            Execution::new(scheduler.clone(), schedule).run(
                &shuttle_config,
                move || {
                    panic::clear();
                    body()
                },
                caller,
            );
        })
    }))
}

/// A shuttle strategy with its settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Sampler {
    Random,
    Pct { depth: usize },
    Urw,
    Dfs,
}

impl Sampler {
    /// The strategy `backend` stands for, with `config`'s settings.
    pub(super) fn of(backend: Backend, config: &RunConfig) -> Sampler {
        match backend {
            Backend::ShuttleRandom => Sampler::Random,
            Backend::ShuttlePct => Sampler::Pct { depth: config.pct_depth },
            Backend::ShuttleUrw => Sampler::Urw,
            Backend::ShuttleDfs => Sampler::Dfs,
            other => unreachable!("{other} is not a shuttle strategy"),
        }
    }

    pub(super) fn backend(self) -> Backend {
        match self {
            Sampler::Random => Backend::ShuttleRandom,
            Sampler::Pct { .. } => Backend::ShuttlePct,
            Sampler::Urw => Backend::ShuttleUrw,
            Sampler::Dfs => Backend::ShuttleDfs,
        }
    }

    /// The strategy in words, as attempts and coverage name it.
    pub(super) fn label(self) -> String {
        match self {
            Sampler::Pct { depth } => format!("shuttle-pct d={depth}"),
            other => other.backend().name().to_string(),
        }
    }

    fn scheduler(self, seed: u64) -> Box<dyn Scheduler + Send> {
        match self {
            Sampler::Random => Box::new(Random::new(seed)),
            Sampler::Pct { depth } => Box::new(Pct::new(seed, depth)),
            Sampler::Urw => Box::new(UrwRandomScheduler::new_from_seed(seed, usize::MAX)),
            Sampler::Dfs => Box::new(DfsScheduler::new(None, false)),
        }
    }
}

pub(super) fn explore(
    backend: Backend,
    body: &Body,
    config: &RunConfig,
    budget: Budget,
    seat: &Seat,
) -> EngineRun {
    sample(Sampler::of(backend, config), body, config, budget, seat)
}

/// Runs one strategy for its share of a run.
pub(super) fn sample(
    sampler: Sampler,
    body: &Body,
    config: &RunConfig,
    budget: Budget,
    seat: &Seat,
) -> EngineRun {
    let inner = sampler.scheduler(seat.seed);
    explore_under(sampler.backend(), sampler.label(), inner, body, config, budget, seat)
}

/// `auto`'s warm-up: `samplers` taking turns, one execution each (see `schedule::rotation`);
/// the finding names the one whose execution failed.
pub(super) fn warm_up(
    samplers: &[Sampler],
    body: &Body,
    config: &RunConfig,
    budget: Budget,
    seat: &Seat,
) -> EngineRun {
    let rotation = Rotation::new(samplers.iter().map(|s| s.scheduler(seat.seed)).collect());
    let turn = rotation.current.clone();
    let names: Vec<String> = samplers.iter().map(|s| s.label()).collect();
    let strategy = format!("warm-up: {} taking turns", names.join(", "));
    let first = samplers.first().map_or(Backend::ShuttleRandom, |s| s.backend());
    let mut run = explore_under(first, strategy, Box::new(rotation), body, config, budget, seat);
    run.rotation = names;
    if let Some(finding) = &mut run.finding {
        if let Some(sampler) = samplers.get(turn.load(Ordering::Relaxed)) {
            finding.backend = sampler.backend();
            run.backend = sampler.backend();
        }
    }
    run
}

/// Runs `inner` (wrapped in the recorder) for `backend`'s share of a run. An execution that
/// reaches the step limit pauses the search while `livelock` judges it: a livelock (or a
/// failure its fair continuation runs into) ends the search as a finding; a strategy's
/// unfairness is counted and the search goes on.
fn explore_under(
    backend: Backend,
    strategy: String,
    inner: Box<dyn Scheduler + Send>,
    body: &Body,
    config: &RunConfig,
    budget: Budget,
    seat: &Seat,
) -> EngineRun {
    let start = Instant::now();
    let progress = Rc::new(Progress::default());
    let recording = Rc::new(RefCell::new(Recording::default()));
    let recorder: Shared = Rc::new(RefCell::new(Recorder {
        inner,
        max_executions: budget.executions,
        deadline: start + budget.time,
        may_start: seat.clock.is_some().then(|| {
            let seat = seat.clone();
            Box::new(move |n| seat.may_start(n)) as Box<dyn Fn(u64) -> bool>
        }),
        progress: progress.clone(),
        recording: recording.clone(),
        step_limit: config.max_steps,
    }));
    let mut unfair_cuts = 0;
    let mut finding = None;
    loop {
        let result = run_under(recorder.clone(), body, config);
        let executions = progress.executions.get();
        if let Err(payload) = result {
            let recording = recording.borrow();
            let schedule = Schedule::Shuttle(recording.schedule());
            let mut found = finding_from_panic(backend, payload, executions, start.elapsed(), Some(schedule));
            found.steps = Some(recording.steps);
            finding = Some(found);
            break;
        }
        if !recording.borrow().cut {
            break;
        }
        let cut = recording.borrow().schedule();
        match livelock::judge(body, config, &cut, backend) {
            Verdict::Ended => {
                unfair_cuts += 1;
                recording.borrow_mut().cut = false;
            }
            Verdict::Failed(mut found) => {
                found.executions = executions;
                found.elapsed = start.elapsed();
                finding = Some(found);
                break;
            }
        }
    }
    let executions = progress.executions.get();
    let exhaustive = finding.is_none() && progress.exhausted.get();
    if finding.is_some() || exhaustive {
        seat.post(executions);
    }
    EngineRun {
        executions,
        elapsed: start.elapsed(),
        exhaustive,
        finding,
        unfair_cuts,
        concurrency: Some(Concurrency {
            threads: progress.threads.get(),
            interleaved: progress.interleaved.get(),
        }),
        ..EngineRun::new(backend, strategy)
    }
}

/// One execution that `follower` steers, and how it went.
pub(super) struct Followed {
    pub result: Result<(), Box<dyn std::any::Any + Send>>,
    pub report: FollowReport,
}

pub(super) fn follow(follower: Follower, body: &Body, config: &RunConfig) -> Followed {
    let report = follower.report.clone();
    let result = run_under(Rc::new(RefCell::new(follower)), body, config);
    let report = report.take();
    Followed { result, report }
}

pub(super) fn replay(body: &Body, list: &SwitchList, config: &RunConfig) -> ReplayOutcome {
    replay_recorded(body, list, config).0
}

/// Replays `list` once; also returns the departures the replay really made (a switch that
/// could not apply is not among them) and its step count. A replay that reaches the step
/// limit is judged as an exploring run's execution would be: continued fairly, it is a
/// livelock or it ends.
pub(super) fn replay_recorded(
    body: &Body,
    list: &SwitchList,
    config: &RunConfig,
) -> (ReplayOutcome, SwitchList, usize) {
    let start = Instant::now();
    let Followed { result, report } = follow(Follower::new(list, config.max_steps), body, config);
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
        Ok(()) if report.recording.cut => {
            match livelock::continue_fairly(body, config, list, Backend::ShuttleRandom) {
                Verdict::Failed(finding) => {
                    let (schedule, steps) = match &finding.schedule {
                        Some(Schedule::Shuttle(list)) => (list.clone(), finding.steps.unwrap_or(steps)),
                        _ => (actual, steps),
                    };
                    return (ReplayOutcome::Failed(finding), schedule, steps);
                }
                Verdict::Ended => ReplayOutcome::Passed,
            }
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
