//! Runs a body under an engine within a budget and turns what goes wrong into findings.
//! Nothing here prints: a run returns a [`RunReport`], a replay a [`ReplayOutcome`].

mod auto;
mod dispatch;
mod livelock;
mod loom;
mod minimize;
mod parallel;
mod pool;
mod race;
mod shuttle;
pub(crate) mod site;
mod stacks;

pub use stacks::loom_stacks_recycled;
mod stress;
pub(crate) mod watchdog;

use crate::backend::{Backend, Budget, RunConfig};
use crate::finding::{
    Attempt, Concurrency, Coverage, EngineLimit, Finding, FindingKind, Limited, Outcome, Proof, RunReport,
    Sampled, Warning, WarningKind,
};
use crate::rt::panic::{self, PanicRecord};
use crate::rt::record;
use crate::schedule::Schedule;
use crate::trace::{Trace, TraceFailure};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A scenario body: run once per execution, on the engine's main thread.
pub type Body = Arc<dyn Fn() + Send + Sync + 'static>;

/// What one engine did with its share of a run.
struct EngineRun {
    backend: Backend,
    /// The strategy in words (`Attempt::strategy`).
    strategy: String,
    executions: u64,
    elapsed: Duration,
    exhaustive: bool,
    finding: Option<Finding>,
    /// Which execution of loom's search the finding came from: its path is captured once the
    /// search is over, and only for the finding that wins (see `loom::path_of`).
    loom_path: Option<loom::PathAt>,
    /// The engine's limit that ended the attempt without a conclusion.
    limit: Option<EngineLimit>,
    /// loom: the largest preemption bound whose search finished, and the executions of the
    /// search by then.
    proved_within: Option<usize>,
    proved_at: u64,
    /// shuttle: executions cut at the step limit that a fair schedule then ended.
    unfair_cuts: u64,
    /// What the engine saw of the body's threads; `None` where it cannot tell (real threads).
    concurrency: Option<Concurrency>,
    /// A rotation's turns, one execution each, by strategy name (as `Attempt::strategy` names
    /// them): each turn ran an exact share of the executions.
    rotation: Vec<String>,
}

impl EngineRun {
    fn new(backend: Backend, strategy: String) -> EngineRun {
        EngineRun {
            backend,
            strategy,
            executions: 0,
            elapsed: Duration::ZERO,
            exhaustive: false,
            finding: None,
            loom_path: None,
            limit: None,
            proved_within: None,
            proved_at: 0,
            unfair_cuts: 0,
            concurrency: None,
            rotation: Vec::new(),
        }
    }

    fn outcome(&self) -> Outcome {
        match (&self.finding, self.limit) {
            (Some(_), _) => Outcome::Found,
            (None, Some(limit)) => limit.outcome(),
            (None, None) if self.exhaustive => Outcome::Exhaustive,
            (None, None) => Outcome::Sampled,
        }
    }

    fn attempt(&self) -> Attempt {
        Attempt {
            backend: self.backend,
            strategy: self.strategy.clone(),
            executions: self.executions,
            elapsed: self.elapsed,
            exhaustive: self.exhaustive,
            found: self.finding.is_some(),
            outcome: self.outcome(),
            proved_within: self.proved_within,
            limit: self.limit,
            reason: self.limit.map(EngineLimit::reason),
            unfair_cuts: self.unfair_cuts,
        }
    }
}

/// Explores `body` as `config` says and reports the first finding, minimized unless
/// `config.minimize` is off. A run whose execution reaches no scheduling point for its time
/// budget (a thread in a loop without a facade call) ends with a `hang` finding instead of
/// hanging (see `watchdog`).
pub fn run(body: &Body, config: &RunConfig) -> RunReport {
    let start = Instant::now();
    let config = &config.effective();
    let (watched, settings) = (body.clone(), config.clone());
    match watchdog::guarded(watchdog::window(config), move || run_here(&watched, &settings)) {
        Ok(report) => report,
        Err(stall) => stalled(config, stall, start.elapsed()),
    }
}

/// The report of a run the watchdog gave up on.
fn stalled(config: &RunConfig, stall: watchdog::Stall, elapsed: Duration) -> RunReport {
    let finding = stall_finding(config, &stall, elapsed);
    let attempt = Attempt {
        backend: finding.backend,
        strategy: finding.backend.name().to_string(),
        executions: stall.executions,
        elapsed,
        exhaustive: false,
        found: true,
        outcome: Outcome::Found,
        proved_within: None,
        limit: None,
        reason: None,
        unfair_cuts: 0,
    };
    RunReport {
        backend: config.backend,
        executions: stall.executions,
        elapsed,
        search_elapsed: elapsed,
        exhaustive: false,
        preemption_bound: None,
        attempts: vec![attempt],
        coverage: Coverage::default(),
        concurrency: Concurrency::default(),
        warnings: Vec::new(),
        finding: Some(finding),
    }
}

fn stall_finding(config: &RunConfig, stall: &watchdog::Stall, elapsed: Duration) -> Finding {
    // The engine that was exploring; `auto` itself is none.
    let backend = stall.backend.unwrap_or(match config.backend {
        Backend::Auto => Backend::ShuttleRandom,
        backend => backend,
    });
    Finding {
        kind: FindingKind::Hang,
        message: stall.message(),
        location: None,
        backend,
        executions: stall.executions,
        elapsed,
        // The schedule so far is in the stuck thread's hands.
        schedule: None,
        steps: None,
        preemptions: None,
        shrink: None,
        trace: None,
    }
}

fn run_here(body: &Body, config: &RunConfig) -> RunReport {
    let start = Instant::now();
    let budget = config.budget;
    // A budget that allows no execution runs none (an engine would otherwise start one).
    tracing::debug!(
        backend = %config.backend,
        executions = budget.executions,
        seconds = budget.time.as_secs(),
        seed = config.seed,
        jobs = config.jobs,
        "exploring"
    );
    let runs =
        if budget.executions == 0 || budget.time.is_zero() { Vec::new() } else { explore_all(body, config) };
    report_of(body, config, runs, start)
}

fn explore_all(body: &Body, config: &RunConfig) -> Vec<EngineRun> {
    match config.backend {
        Backend::Auto => auto::explore(body, config),
        backend if config.jobs > 1 && parallel::splits(backend) => {
            parallel::explore(body, config, parallel::seeds_of(backend, config))
        }
        backend => vec![explore_with(backend, body, config, config.budget, &Seat::alone(config))],
    }
}

/// The report of `runs`, with the finding minimized and traced.
fn report_of(body: &Body, config: &RunConfig, runs: Vec<EngineRun>, start: Instant) -> RunReport {
    let search_elapsed = start.elapsed();
    let loom_ran = runs.iter().any(|r| r.backend == Backend::Loom && r.limit.is_none());
    let executions = runs.iter().map(|r| r.executions).sum();
    let exhaustive = runs.iter().any(|r| r.exhaustive && r.finding.is_none());
    let attempts: Vec<Attempt> = runs.iter().map(EngineRun::attempt).collect();
    for a in &attempts {
        tracing::info!(
            engine = %a.strategy,
            executions = a.executions,
            outcome = ?a.outcome,
            reason = a.reason.as_deref().unwrap_or(""),
            "engine attempt ended"
        );
    }
    let coverage = coverage_of(&runs, config);
    let concurrency = concurrency_of(&runs);
    let finding =
        runs.into_iter().find_map(|r| r.finding.map(|f| (f, r.loom_path))).map(|(mut finding, at)| {
            if let Some(at) = at {
                finding.schedule = loom::path_of(body, config, &at).map(Schedule::Loom);
            }
            // A livelock's schedule is only a livelock together with the fair continuation
            // that confirmed it: shrinking it replay by replay could trade it for an unfair
            // schedule that merely runs out of steps. Its trace would be as long as the limit.
            let traced = |schedule: &Schedule| replay_traced(body, schedule, config).1;
            if config.minimize && finding.kind != FindingKind::Livelock {
                // What minimization shrank from, in the trace's count of preemptions, the one
                // every engine and report shares (the minimizer's own is the scheduler's).
                let before =
                    finding.schedule.as_ref().filter(|s| matches!(s, Schedule::Shuttle(_))).map(traced);
                minimize::minimize(body, &mut finding, config);
                if let (Some(shrink), Some(before)) = (finding.shrink.as_mut(), before) {
                    shrink.preemptions_before = before.preemptions();
                }
            }
            // The schedule names the strategy that found the finding, for a replay to say. It
            // is filled in here, after minimization, since whatever minimization or a
            // livelock's fair continuation made of the schedule, it replays that finding; and
            // `finding.backend` is final here (a rotation's turn, the lane that won).
            if let Some(Schedule::Shuttle(list)) = &mut finding.schedule {
                list.found_by = Some(finding.backend);
            }
            if let Some(schedule) = finding.schedule.clone().filter(|_| finding.kind != FindingKind::Livelock)
            {
                let trace = traced(&schedule);
                finding.preemptions = Some(trace.preemptions());
                finding.trace = Some(trace);
            }
            finding
        });
    let mut warnings = Vec::new();
    if let (None, Some(seen)) = (&finding, concurrency) {
        if !seen.interleaved && executions > 0 {
            warnings.push(Warning {
                kind: WarningKind::NoConcurrency,
                message: "nothing concurrent was explored: no execution ever had two threads that could \
                          run at once, so every schedule was the same"
                    .to_string(),
                denied: config.deny_no_concurrency,
            });
        }
    }
    if finding.is_none() && executions == 0 && coverage.limited.is_empty() {
        warnings.push(Warning {
            kind: WarningKind::NothingChecked,
            message: nothing_checked(config),
            denied: true,
        });
    }
    RunReport {
        backend: config.backend,
        executions,
        elapsed: start.elapsed(),
        search_elapsed,
        exhaustive,
        preemption_bound: if loom_ran { config.loom.preemption_bound } else { None },
        attempts,
        coverage,
        concurrency: concurrency.unwrap_or_default(),
        warnings,
        finding,
    }
}

/// Why a run that ran no execution checked nothing, in words.
fn nothing_checked(config: &RunConfig) -> String {
    let budget = config.budget;
    let why = if budget.executions == 0 {
        "the budget allows 0 executions".to_string()
    } else if budget.time.is_zero() {
        "the time limit is 0".to_string()
    } else {
        format!("no execution started within {:?}", budget.time)
    };
    format!("nothing checked: {why}, so this run says nothing about the body")
}

/// What the engines of a run covered (see `Coverage`).
fn coverage_of(runs: &[EngineRun], config: &RunConfig) -> Coverage {
    let mut coverage = Coverage::default();
    for run in runs {
        if let Some(limit) = run.limit {
            coverage.limited.push(Limited {
                backend: run.backend,
                outcome: limit.outcome(),
                reason: limit.reason(),
            });
        }
        let proof = if run.exhaustive && run.finding.is_none() {
            let bound = if run.backend == Backend::Loom { config.loom.preemption_bound } else { None };
            Some(Proof { backend: run.backend, preemption_bound: bound, executions: run.executions })
        } else {
            run.proved_within.map(|bound| Proof {
                backend: run.backend,
                preemption_bound: Some(bound),
                executions: run.executions,
            })
        };
        match proof {
            // The strongest proof: the whole space, or else the highest bound.
            Some(p) => {
                let rank = |p: &Proof| p.preemption_bound.map_or(usize::MAX, |b| b);
                if coverage.proof.as_ref().is_none_or(|q| rank(&p) > rank(q)) {
                    coverage.proof = Some(p);
                }
            }
            // An attempt that stopped at a limit is in `limited`: what it ran is no sample.
            None if run.limit.is_none() && run.executions > 0 => {
                let turns = if run.rotation.is_empty() {
                    std::slice::from_ref(&run.strategy)
                } else {
                    &run.rotation[..]
                };
                for (turn, strategy) in turns.iter().enumerate() {
                    let executions = race::share(run.executions, turns.len(), turn);
                    match coverage.sampled.iter_mut().find(|s| &s.strategy == strategy) {
                        Some(s) => s.executions += executions,
                        None => coverage.sampled.push(Sampled { strategy: strategy.clone(), executions }),
                    }
                }
            }
            None => {}
        }
    }
    coverage
}

/// The most threads any engine saw, and whether any saw two that could run at once; `None`
/// when no engine could tell (real threads only).
fn concurrency_of(runs: &[EngineRun]) -> Option<Concurrency> {
    runs.iter().filter_map(|r| r.concurrency).reduce(|a, b| Concurrency {
        threads: a.threads.max(b.threads),
        interleaved: a.interleaved || b.interleaved,
    })
}

/// Where an engine runs: alone, or as one lane of a parallel run.
#[derive(Clone, Debug)]
struct Seat {
    /// The seed of the engine's randomized strategy.
    seed: u64,
    /// The lane's virtual clock, in a parallel run.
    clock: Option<race::Clock>,
}

impl Seat {
    fn alone(config: &RunConfig) -> Seat {
        Seat { seed: config.seed, clock: None }
    }

    /// Whether the engine's execution number `n` (from 1) is worth starting.
    fn may_start(&self, n: u64) -> bool {
        self.clock.as_ref().is_none_or(|clock| clock.may_start(n))
    }

    /// Posts a finding or a proof at the end of execution number `n`, in a parallel run.
    fn post(&self, n: u64) {
        if let Some(clock) = &self.clock {
            clock.post(n);
        }
    }
}

fn explore_with(backend: Backend, body: &Body, config: &RunConfig, budget: Budget, seat: &Seat) -> EngineRun {
    match backend {
        Backend::Loom => loom::explore(body, config, budget, seat),
        Backend::ShuttleRandom | Backend::ShuttlePct | Backend::ShuttleUrw | Backend::ShuttleDfs => {
            shuttle::explore(backend, body, config, budget, seat)
        }
        Backend::Stress => stress::explore(body, config, budget),
        Backend::Auto => unreachable!("auto is a portfolio of the other backends"),
    }
}

/// Runs `f` with the facade dispatching to the model checker of `backend` on this thread, so
/// that a facade body can be driven by loom's or shuttle's own entry points and settings
/// (`loom::model`, `shuttle::check_pct`, a scheduler of your own). Panics inside `f` are
/// recorded quietly, as in a run. Panics if `backend` is not loom or a shuttle strategy: real
/// threads need the stress engine's set-up, and `auto` is not one engine.
pub fn with_engine<R>(backend: Backend, f: impl FnOnce() -> R) -> R {
    let engine = match backend {
        Backend::Loom => crate::rt::Engine::Loom,
        Backend::ShuttleRandom | Backend::ShuttlePct | Backend::ShuttleUrw | Backend::ShuttleDfs => {
            crate::rt::Engine::Shuttle
        }
        other => panic!("with_engine: {other} is not a model checker; use explore::run"),
    };
    let _scope = crate::rt::enter(engine);
    f()
}

/// The result of replaying a schedule.
// One value per replay: the size of the failure is no cost worth an allocation to avoid.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum ReplayOutcome {
    /// The schedule led to this failure.
    Failed(Finding),
    /// The schedule was followed to the end and the body passed.
    Passed,
    /// The body passed, but the schedule did not fit it (the code changed since it was
    /// recorded, or it belongs to another scenario): the reason, in words.
    NotApplicable(String),
}

/// Replays `schedule` once; a replay that reaches no scheduling point for the run's time
/// budget fails with a `hang` finding (see `watchdog`).
pub fn replay(body: &Body, schedule: &Schedule, config: &RunConfig) -> ReplayOutcome {
    let start = Instant::now();
    let config = &config.effective();
    let (watched, settings, followed) = (body.clone(), config.clone(), schedule.clone());
    match watchdog::guarded(watchdog::window(config), move || replay_here(&watched, &followed, &settings)) {
        Ok(outcome) => outcome,
        Err(stall) => ReplayOutcome::Failed(stall_finding(config, &stall, start.elapsed())),
    }
}

fn replay_here(body: &Body, schedule: &Schedule, config: &RunConfig) -> ReplayOutcome {
    match schedule {
        Schedule::Shuttle(list) => shuttle::replay(body, list, config),
        Schedule::Loom(path) => loom::replay(body, path, config),
    }
}

/// Replays `schedule` once with the facade recording every operation, and returns the trace
/// with the failure, if the replay failed, as its last entry.
pub fn replay_traced(body: &Body, schedule: &Schedule, config: &RunConfig) -> (ReplayOutcome, Trace) {
    let start = Instant::now();
    let config = &config.effective();
    let (watched, settings, followed) = (body.clone(), config.clone(), schedule.clone());
    match watchdog::guarded(watchdog::window(config), move || {
        replay_traced_here(&watched, &followed, &settings)
    }) {
        Ok(replayed) => replayed,
        Err(stall) => {
            let finding = stall_finding(config, &stall, start.elapsed());
            let failure = TraceFailure {
                thread: stall.thread.unwrap_or(0),
                message: finding.message.clone(),
                location: None,
                blocked: Vec::new(),
            };
            (ReplayOutcome::Failed(finding), Trace { threads: 0, events: Vec::new(), failure: Some(failure) })
        }
    }
}

fn replay_traced_here(body: &Body, schedule: &Schedule, config: &RunConfig) -> (ReplayOutcome, Trace) {
    record::begin();
    let outcome = replay(body, schedule, config);
    let (mut events, threads) = record::end();
    let mut outcome = outcome;
    if let ReplayOutcome::Failed(f) = &mut outcome {
        // Counted as the trace counts them, whichever engine the schedule is for.
        f.preemptions = Some(events.iter().filter(|e| e.preempted).count());
    }
    let failure = match &outcome {
        ReplayOutcome::Failed(f) => {
            // A deadlock's trace ends with the operations its threads never returned from.
            let blocked = if f.kind == FindingKind::Deadlock {
                record::blocked_attempts(&mut events)
            } else {
                Vec::new()
            };
            Some(TraceFailure {
                // The thread that raised it ran the last step; a deadlock names every blocked one.
                thread: blocked.first().copied().or(events.last().map(|e| e.thread)).unwrap_or(0),
                message: f.message.clone(),
                location: f.location.clone(),
                blocked,
            })
        }
        _ => None,
    };
    (outcome, Trace { threads, events, failure })
}

/// Builds the finding of a failed execution from the first panic seen in it, or failing
/// that, the payload that came out of the engine.
fn finding_from_panic(
    backend: Backend,
    payload: Box<dyn std::any::Any + Send>,
    executions: u64,
    elapsed: Duration,
    schedule: Option<Schedule>,
) -> Finding {
    finding_from_record(backend, first_panic(&*payload), executions, elapsed, schedule)
}

/// The first panic recorded in the failed execution, or failing that, its payload. A loom
/// thread that overflowed its stack comes out as the coroutine library's typed error (its
/// guard page turned into `generator::Error::StackErr`), not as a panic of the body: it is
/// said in words here, whatever was recorded before.
fn first_panic(payload: &(dyn std::any::Any + Send)) -> PanicRecord {
    if payload.downcast_ref::<generator::Error>() == Some(&generator::Error::StackErr) {
        return PanicRecord {
            message: STACK_OVERFLOW.to_string(),
            location: None,
            kind: Some(FindingKind::Panic),
        };
    }
    panic::failure(payload)
}

/// A stack overflow in a model-checked thread, in words.
const STACK_OVERFLOW: &str = "stack overflow in a loom thread: the body recursed too deep, or keeps \
                              too large values on the stack, for the thread's coroutine stack (loom's \
                              default; lockhound::thread::Builder::stack_size sets a spawned thread's)";

fn finding_from_record(
    backend: Backend,
    record: PanicRecord,
    executions: u64,
    elapsed: Duration,
    schedule: Option<Schedule>,
) -> Finding {
    // A panic raised inside loom or shuttle is the checker's own statement (a data race, a
    // deadlock, a leak), classified by where it was raised; its location says nothing about the body,
    // since the message names the body's own sites. Any other panic is the body's.
    // The hook records every panic a body raises, with its site: a payload that came without
    // one is the engine's.
    let by_engine = record.location.as_deref().is_none_or(site::raised_by_engine);
    let record_location = record.location;
    let location = record_location.clone().filter(|_| !by_engine);
    let message = record.message.trim().to_string();
    let preemptions = schedule.as_ref().and_then(Schedule::preemptions);
    let kind = match record.kind {
        Some(kind) => kind,
        None if by_engine => FindingKind::of_engine_panic(record_location.as_deref(), &message),
        None => FindingKind::Panic,
    };
    Finding {
        kind,
        message,
        location,
        backend,
        executions,
        elapsed,
        schedule,
        steps: None,
        preemptions,
        shrink: None,
        trace: None,
    }
}
