//! Runs a body under an engine within a budget and turns what goes wrong into findings.
//! Nothing here prints: a run returns a [`RunReport`], a replay a [`ReplayOutcome`].

mod auto;
mod loom;
mod minimize;
mod parallel;
mod pool;
mod race;
mod shuttle;
mod stacks;

pub use stacks::loom_stacks_recycled;
mod stress;

use crate::backend::{Backend, Budget, RunConfig};
use crate::finding::{Attempt, Finding, FindingKind, RunReport};
use crate::rt::panic;
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
    executions: u64,
    elapsed: Duration,
    exhaustive: bool,
    finding: Option<Finding>,
    /// Which execution of loom's search the finding came from: its path is captured once the
    /// search is over, and only for the finding that wins (see `loom::path_of`).
    loom_path: Option<loom::PathAt>,
}

impl EngineRun {
    fn attempt(&self) -> Attempt {
        Attempt {
            backend: self.backend,
            executions: self.executions,
            elapsed: self.elapsed,
            exhaustive: self.exhaustive,
            found: self.finding.is_some(),
        }
    }
}

/// Explores `body` as `config` says and reports the first finding, minimized unless
/// `config.minimize` is off.
pub fn run(body: &Body, config: &RunConfig) -> RunReport {
    let start = Instant::now();
    let runs = match config.backend {
        Backend::Auto => auto::explore(body, config),
        backend if config.jobs > 1 && parallel::splits(backend) => {
            parallel::explore(body, config, parallel::seeds_of(backend, config))
        }
        backend => vec![explore_with(backend, body, config, config.budget, &Seat::alone(config))],
    };
    let search_elapsed = start.elapsed();
    let loom_ran = runs.iter().any(|r| r.backend == Backend::Loom);
    let executions = runs.iter().map(|r| r.executions).sum();
    let exhaustive = runs.iter().any(|r| r.exhaustive && r.finding.is_none());
    let attempts = runs.iter().map(EngineRun::attempt).collect();
    let finding =
        runs.into_iter().find_map(|r| r.finding.map(|f| (f, r.loom_path))).map(|(mut finding, at)| {
            if let Some(at) = at {
                finding.schedule = loom::path_of(body, config, &at).map(Schedule::Loom);
            }
            if config.minimize {
                minimize::minimize(body, &mut finding, config);
            }
            if let Some(schedule) = finding.schedule.clone() {
                finding.trace = Some(replay_traced(body, &schedule, config).1);
            }
            finding
        });
    RunReport {
        backend: config.backend,
        executions,
        elapsed: start.elapsed(),
        search_elapsed,
        exhaustive,
        preemption_bound: if loom_ran { config.loom.preemption_bound } else { None },
        attempts,
        finding,
    }
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
        Backend::ShuttleRandom | Backend::ShuttlePct | Backend::ShuttleDfs => {
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
        Backend::ShuttleRandom | Backend::ShuttlePct | Backend::ShuttleDfs => crate::rt::Engine::Shuttle,
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

/// Replays `schedule` once.
pub fn replay(body: &Body, schedule: &Schedule, config: &RunConfig) -> ReplayOutcome {
    match schedule {
        Schedule::Shuttle(list) => shuttle::replay(body, list, config),
        Schedule::Loom(path) => loom::replay(body, path, config),
    }
}

/// Replays `schedule` once with the facade recording every operation, and returns the trace
/// with the failure, if the replay failed, as its last entry.
pub fn replay_traced(body: &Body, schedule: &Schedule, config: &RunConfig) -> (ReplayOutcome, Trace) {
    record::begin();
    let outcome = replay(body, schedule, config);
    let (events, threads) = record::end();
    let failure = match &outcome {
        ReplayOutcome::Failed(f) => Some(TraceFailure {
            // The thread that raised it ran the last step (a deadlock has no one thread).
            thread: events.last().map(|e| e.thread).unwrap_or(0),
            message: f.message.clone(),
            location: f.location.clone(),
        }),
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
    let record = panic::failure(&*payload);
    // A location inside loom or shuttle says nothing about the body: their messages name the
    // body's own sites (a data race lists the conflicting accesses).
    let location = record.location.filter(|l| !l.contains("/.cargo/registry/"));
    let message = record.message.trim().to_string();
    let preemptions = schedule.as_ref().and_then(Schedule::preemptions);
    Finding {
        kind: record.kind.unwrap_or_else(|| FindingKind::of_panic_message(&message)),
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
