//! The shuttle engines: random, PCT, URW and depth-first strategies, each wrapped in
//! lockhound's recorder so that every failure comes with a lockhound schedule.

use super::livelock::{self, Verdict};
use super::{finding_from_panic, Body, EngineRun, ReplayOutcome, Seat};
use crate::backend::{Backend, Budget, RunConfig};
use crate::finding::{Concurrency, Finding};
use crate::rt::{self, Engine};
use crate::schedule::follow::{FollowReport, Follower, Progress, Recorder, Recording};
use crate::schedule::pct::Pct;
use crate::schedule::random::Random;
use crate::schedule::rotation::Rotation;
use crate::schedule::{Schedule, SwitchList};
use ::shuttle::scheduler::{DfsScheduler, Scheduler, UrwRandomScheduler};
use ::shuttle::{Config, FailurePersistence, MaxSteps};
use shuttle_engine::runtime::execution::Execution;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
///
/// A failing execution never takes shuttle's failure path, which prints on stderr: the facade
/// catches what escapes a thread (here, what escapes the body's main thread), or finds the
/// deadlock itself, and lockhound's scheduler ends the execution (see `rt::blocking`); the
/// failure's payload comes back from there.
#[track_caller]
fn run_under(
    backend: Backend,
    scheduler: Shared,
    body: &Body,
    config: &RunConfig,
) -> Result<(), Box<dyn std::any::Any + Send>> {
    let _scope = rt::enter(Engine::Shuttle);
    super::watchdog::searching(backend);
    let body = body.clone();
    let shuttle_config = shuttle_config(config);
    // An overflow of a coroutine stack is said in words (then the process aborts), not a bare
    // SIGSEGV.
    let _fault = crate::fault::ShuttleRun::enter(shuttle_config.stack_size);
    let caller = std::panic::Location::caller();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        super::stacks::with_kept_continuations(|| loop {
            let Some(schedule) = scheduler.borrow_mut().new_execution() else { break };
            let body = body.clone();
            Execution::new(scheduler.clone(), schedule).run(
                &shuttle_config,
                move || {
                    let execution = rt::begin_execution();
                    super::watchdog::execution_starts();
                    crate::fault::running(0);
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body()));
                    match result {
                        Ok(()) => drop(execution),
                        Err(payload) if rt::unwind::is_teardown(&*payload) => {
                            drop(execution);
                            std::panic::resume_unwind(payload)
                        }
                        Err(payload) => {
                            rt::panic::escaped_with(Some(&*payload));
                            drop(execution);
                            rt::blocking::halt(payload)
                        }
                    }
                },
                caller,
            );
            if let Some(payload) = rt::blocking::take_halted() {
                std::panic::resume_unwind(payload);
            }
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

/// Runs `inner` (wrapped in the recorder) for `backend`'s share of a run.
fn explore_under(
    backend: Backend,
    strategy: String,
    inner: Box<dyn Scheduler + Send>,
    body: &Body,
    config: &RunConfig,
    budget: Budget,
    seat: &Seat,
) -> EngineRun {
    let mut search = ShuttleSearch::new(backend, strategy, inner, config, seat);
    search.run(body, config, budget.executions, budget.time);
    search.into_run()
}

/// A shuttle strategy's search, which may run slice by slice: the strategy keeps its state
/// (PCT's learned length, URW's estimates, the random stream) from one slice to the next.
/// An execution that reaches the step limit pauses the search while `livelock` judges it: a
/// livelock (or a failure its fair continuation runs into) ends the search as a finding; a
/// strategy's unfairness is counted and the search goes on.
pub(super) struct ShuttleSearch {
    recorder: Shared,
    budget: Rc<Cell<(u64, Instant)>>,
    progress: Rc<Progress>,
    recording: Rc<RefCell<Recording>>,
    seat: Seat,
    run: EngineRun,
    /// With strategies taking turns: each turn's backend, and whose turn it is.
    turns: Option<(Vec<Backend>, Arc<AtomicUsize>)>,
}

impl ShuttleSearch {
    pub(super) fn new(
        backend: Backend,
        strategy: String,
        inner: Box<dyn Scheduler + Send>,
        config: &RunConfig,
        seat: &Seat,
    ) -> Self {
        let progress = Rc::new(Progress::default());
        let recording = Rc::new(RefCell::new(Recording::default()));
        let budget = Rc::new(Cell::new((0, Instant::now())));
        let recorder: Shared = Rc::new(RefCell::new(Recorder {
            inner,
            budget: budget.clone(),
            may_start: seat.clock.is_some().then(|| {
                let seat = seat.clone();
                Box::new(move |n| seat.may_start(n)) as Box<dyn Fn(u64) -> bool>
            }),
            progress: progress.clone(),
            recording: recording.clone(),
            step_limit: config.max_steps,
        }));
        ShuttleSearch {
            recorder,
            budget,
            progress,
            recording,
            seat: seat.clone(),
            run: EngineRun::new(backend, strategy),
            turns: None,
        }
    }

    /// `samplers` taking `turns` (indices into `samplers`), one execution each (see
    /// `schedule::rotation`), each with its own state seeded by the seat's seed; a finding
    /// names the sampler whose turn it was.
    pub(super) fn taking_turns(
        strategy: String,
        samplers: &[Sampler],
        turns: &[usize],
        config: &RunConfig,
        seat: &Seat,
    ) -> Self {
        let members = samplers.iter().map(|s| s.scheduler(seat.seed)).collect();
        let rotation = Rotation::new(members, turns.to_vec());
        let turn = rotation.current.clone();
        let first =
            turns.first().and_then(|&t| samplers.get(t)).map_or(Backend::ShuttleRandom, |s| s.backend());
        let mut search = ShuttleSearch::new(first, strategy, Box::new(rotation), config, seat);
        search.run.rotation = turns.iter().map(|&t| samplers[t].label()).collect();
        search.turns = Some((samplers.iter().map(|s| s.backend()).collect(), turn));
        search
    }

    pub(super) fn executions(&self) -> u64 {
        self.progress.executions.get()
    }

    /// A finding, or the strategy has no schedule left.
    pub(super) fn done(&self) -> bool {
        self.run.finding.is_some() || self.progress.exhausted.get()
    }

    /// What the executions so far showed of the body's threads.
    pub(super) fn concurrency(&self) -> Concurrency {
        Concurrency { threads: self.progress.threads.get(), interleaved: self.progress.interleaved.get() }
    }

    /// Runs up to `executions` more executions, within `time`.
    pub(super) fn run(&mut self, body: &Body, config: &RunConfig, executions: u64, time: Duration) {
        let start = Instant::now();
        self.budget.set((self.executions().saturating_add(executions), crate::limits::deadline(start, time)));
        let backend = self.run.backend;
        while !self.done() {
            let result = run_under(backend, self.recorder.clone(), body, config);
            let executions = self.executions();
            if let Err(payload) = result {
                let recording = self.recording.borrow();
                let schedule = Schedule::Shuttle(recording.schedule());
                let elapsed = self.run.elapsed + start.elapsed();
                let mut found = finding_from_panic(backend, payload, executions, elapsed, Some(schedule));
                found.steps = Some(recording.steps);
                self.run.finding = Some(found);
                break;
            }
            if !self.recording.borrow().cut {
                break;
            }
            let cut = self.recording.borrow().schedule();
            match livelock::judge(body, config, &cut, backend) {
                Verdict::Ended => {
                    self.run.unfair_cuts += 1;
                    self.recording.borrow_mut().cut = false;
                }
                Verdict::Failed(mut found) => {
                    found.executions = executions;
                    found.elapsed = self.run.elapsed + start.elapsed();
                    self.run.finding = Some(*found);
                    break;
                }
            }
        }
        self.run.elapsed += start.elapsed();
        // A finding, or the end of the strategy's schedules, belongs to the sampler whose turn
        // it was (PCT ends a rotation on a body with one schedule).
        if let Some((backends, turn)) = &self.turns {
            if let (Some(&backend), true) = (backends.get(turn.load(Ordering::Relaxed)), self.done()) {
                self.run.backend = backend;
                if let Some(finding) = &mut self.run.finding {
                    finding.backend = backend;
                }
            }
        }
        if self.done() {
            self.seat.post(self.executions());
        }
    }

    /// What the search did, as an engine run of the portfolio.
    pub(super) fn into_run(self) -> EngineRun {
        let concurrency = self.concurrency();
        let executions = self.executions();
        let exhaustive = self.run.finding.is_none() && self.progress.exhausted.get();
        EngineRun { executions, exhaustive, concurrency: Some(concurrency), ..self.run }
    }
}

/// One execution that `follower` steers, and how it went.
pub(super) struct Followed {
    pub result: Result<(), Box<dyn std::any::Any + Send>>,
    pub report: FollowReport,
}

pub(super) fn follow(follower: Follower, body: &Body, config: &RunConfig) -> Followed {
    let report = follower.report.clone();
    let result = run_under(Backend::ShuttleRandom, Rc::new(RefCell::new(follower)), body, config);
    let report = report.take();
    Followed { result, report }
}

pub(super) fn replay(body: &Body, list: &SwitchList, config: &RunConfig) -> ReplayOutcome {
    let mut outcome = replay_recorded(body, list, config).0;
    // What the replay followed replays the same finding: it keeps the strategy that found it,
    // so a printed replay line is the schedule it was given.
    if let ReplayOutcome::Failed(Finding { schedule: Some(Schedule::Shuttle(followed)), .. }) = &mut outcome {
        followed.found_by = list.found_by;
    }
    outcome
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
                    return (ReplayOutcome::Failed(*finding), schedule, steps);
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
