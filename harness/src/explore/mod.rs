//! Runs a body under an engine within a budget and turns what goes wrong into findings.
//! Nothing here prints: a run returns a [`RunReport`], a replay a [`ReplayOutcome`].

mod auto;
mod loom;
mod minimize;
mod shuttle;
mod stress;

use crate::backend::{Backend, Budget, RunConfig};
use crate::finding::{Attempt, Finding, FindingKind, RunReport};
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
    executions: u64,
    elapsed: Duration,
    exhaustive: bool,
    finding: Option<Finding>,
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
        backend => vec![explore_with(backend, body, config, config.budget)],
    };
    let loom_ran = runs.iter().any(|r| r.backend == Backend::Loom);
    RunReport {
        backend: config.backend,
        executions: runs.iter().map(|r| r.executions).sum(),
        elapsed: start.elapsed(),
        exhaustive: runs.iter().any(|r| r.exhaustive && r.finding.is_none()),
        preemption_bound: if loom_ran { config.loom.preemption_bound } else { None },
        attempts: runs.iter().map(EngineRun::attempt).collect(),
        finding: runs.into_iter().find_map(|r| r.finding).map(|mut finding| {
            if config.minimize {
                minimize::minimize(body, &mut finding, config);
            }
            if let Some(schedule) = finding.schedule.clone() {
                finding.trace = Some(replay_traced(body, &schedule, config).1);
            }
            finding
        }),
    }
}

fn explore_with(backend: Backend, body: &Body, config: &RunConfig, budget: Budget) -> EngineRun {
    match backend {
        Backend::Loom => loom::explore(body, config, budget),
        Backend::ShuttleRandom | Backend::ShuttlePct | Backend::ShuttleDfs => {
            shuttle::explore(backend, body, config, budget)
        }
        Backend::Stress => stress::explore(body, config, budget),
        Backend::Auto => unreachable!("auto is a portfolio of the other backends"),
    }
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
    let record = panic::take()
        .unwrap_or_else(|| PanicRecord { message: panic::payload_message(&*payload), location: None });
    // A location inside loom or shuttle says nothing about the body: their messages name the
    // body's own sites (a data race lists the conflicting accesses).
    let location = record.location.filter(|l| !l.contains("/.cargo/registry/"));
    let message = record.message.trim().to_string();
    let preemptions = schedule.as_ref().and_then(Schedule::preemptions);
    Finding {
        kind: FindingKind::of_panic_message(&message),
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
