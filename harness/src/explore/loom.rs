//! The loom engine: exhaustive (optionally preemption-bounded) exploration with weak memory
//! and data-race checks. A failure's schedule is loom's own exploration path, taken from
//! loom's checkpoint file, which loom writes before every execution when asked to.

use super::{
    finding_from_panic, finding_from_record, first_panic, site, Body, EngineRun, ReplayOutcome, Seat,
};
use crate::backend::{Backend, Budget, RunConfig};
use crate::finding::{Concurrency, EngineLimit};
use crate::rt::{self, limit, panic, Engine};
use crate::schedule::{LoomPath, Schedule};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A checkpoint file of this process, removed when dropped.
struct Checkpoint(PathBuf);

impl Checkpoint {
    fn new() -> Checkpoint {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Checkpoint(std::env::temp_dir().join(format!("lockhound-loom-{}-{n}.json", std::process::id())))
    }
}

impl Drop for Checkpoint {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn builder(
    config: &RunConfig,
    bound: Option<usize>,
    max_executions: u64,
    time: Duration,
) -> ::loom::model::Builder {
    let mut b = ::loom::model::Builder::new();
    b.preemption_bound = bound;
    b.max_branches = config.loom.max_branches;
    // loom checks its limits only on checkpoint iterations, and counts the iteration it is
    // about to start: a checkpoint interval of 1 (with no checkpoint file, so nothing is
    // written) makes the budget exact.
    b.max_permutations = Some(usize::try_from(max_executions.saturating_add(1)).unwrap_or(usize::MAX));
    b.max_duration = Some(time);
    b.checkpoint_interval = 1;
    b.checkpoint_file = None;
    b.location = true;
    b.log = false;
    b
}

/// An execution of a loom search: the `execution`th of the search within `bound`.
#[derive(Clone, Copy, Debug)]
pub(super) struct PathAt {
    bound: Option<usize>,
    execution: u64,
}

/// loom's exploration path of an execution. loom's search is deterministic, so a second
/// search that writes its checkpoint only at that execution (just before running it) captures
/// its path; writing it at every execution would cost more than the search itself. It runs
/// after the search, for the winning finding only, so it is part of the report, not of the
/// time to the finding.
pub(super) fn path_of(body: &Body, config: &RunConfig, at: &PathAt) -> Option<LoomPath> {
    let (bound, n) = (at.bound, at.execution);
    let checkpoint = Checkpoint::new();
    let n_usize = usize::try_from(n).ok()?;
    let mut b = builder(config, bound, n.saturating_add(1), Duration::from_secs(3600));
    b.checkpoint_interval = n_usize;
    b.checkpoint_file = Some(checkpoint.0.clone());
    check(b, body, None).result.err()?;
    std::fs::read_to_string(&checkpoint.0).ok().map(|json| LoomPath { json })
}

/// The payload that ends a loom search another lane has made pointless (loom has no other
/// way to stop from outside): raised before the execution creates anything.
struct Cancelled;

/// Asked before each execution, by its number in this search (from 1).
type MayStart = Box<dyn Fn(u64) -> bool + Send + Sync>;

/// What one loom search did.
struct Search {
    /// Executions run to the end or to a failure.
    executions: u64,
    /// `Err` carries the failing execution's panic payload.
    result: Result<(), Box<dyn std::any::Any + Send>>,
    /// `may_start` stopped the search.
    cancelled: bool,
}

/// Runs loom's builder on `body`, counting executions.
fn check(b: ::loom::model::Builder, body: &Body, may_start: Option<MayStart>) -> Search {
    let count = Arc::new(AtomicU64::new(0));
    let _scope = rt::enter(Engine::Loom);
    let _stacks = super::stacks::LoomRecycling::on();
    limit::search_starts();
    let (body, counter) = (body.clone(), count.clone());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        b.check(move || {
            panic::clear();
            limit::execution_starts();
            let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
            if may_start.as_ref().is_some_and(|may_start| !may_start(n)) {
                std::panic::resume_unwind(Box::new(Cancelled));
            }
            body()
        })
    }));
    let executions = count.load(Ordering::Relaxed);
    match result {
        Err(payload) if payload.is::<Cancelled>() => {
            Search { executions: executions - 1, result: Ok(()), cancelled: true }
        }
        result => Search { executions, result, cancelled: false },
    }
}

/// The preemption bounds to search, in order: iterative preemption bounding, so that the
/// first counterexample has the fewest preemptions any counterexample has (bugs need few,
/// and a schedule with fewer is easier to read). An unbounded search starts the same way.
fn bounds(limit: Option<usize>) -> Vec<Option<usize>> {
    match limit {
        Some(b) => (0..=b).map(Some).collect(),
        None => vec![Some(0), Some(1), Some(2), None],
    }
}

/// loom's attempt on a body that another engine has already seen spawn `threads` threads,
/// more than loom models: not run at all.
pub(super) fn skipped(threads: usize) -> EngineRun {
    let limit = EngineLimit::LoomThreads { threads, max: ::loom::MAX_THREADS, at_least: false };
    EngineRun { limit: Some(limit), ..EngineRun::new(Backend::Loom, "loom".to_string()) }
}

/// The limit of loom's that ended a search, if one did: the facade's count of threads, or an
/// assertion of loom's path bookkeeping (`site::in_loom_path`), never the body's panic.
fn limit_of(record: &panic::PanicRecord, config: &RunConfig) -> Option<EngineLimit> {
    let seen = limit::seen();
    if seen.over_thread_limit {
        let threads = ::loom::MAX_THREADS + 1;
        return Some(EngineLimit::LoomThreads { threads, max: ::loom::MAX_THREADS, at_least: true });
    }
    if record.kind.is_some() || !record.location.as_deref().is_some_and(site::in_loom_path) {
        return None;
    }
    // Which of loom's bookkeeping assertions it was, from loom's own words: the location
    // already says it is loom's, not the body's.
    Some(if record.message.contains("maximum number of branches") {
        EngineLimit::LoomBranches { max_branches: config.loom.max_branches, yields: seen.yields }
    } else {
        EngineLimit::LoomDiverged
    })
}

pub(super) fn explore(body: &Body, config: &RunConfig, budget: Budget, seat: &Seat) -> EngineRun {
    let start = Instant::now();
    let mut executions = 0;
    let mut exhaustive = false;
    let mut finding = None;
    let mut loom_path = None;
    let mut engine_limit = None;
    let mut proved_within = None;
    let mut concurrency = Concurrency::default();
    for bound in bounds(config.loom.preemption_bound) {
        let left = budget.executions.saturating_sub(executions);
        let time_left = budget.time.saturating_sub(start.elapsed());
        if left == 0 || time_left.is_zero() {
            exhaustive = false;
            break;
        }
        let may_start: Option<MayStart> = seat.clock.is_some().then(|| {
            let (seat, before) = (seat.clone(), executions);
            Box::new(move |n| seat.may_start(before + n)) as MayStart
        });
        let Search { executions: ran, result, cancelled } =
            check(builder(config, bound, left, time_left), body, may_start);
        executions += ran;
        concurrency.threads = concurrency.threads.max(limit::seen().most_threads);
        // More than one schedule: some point had two threads whose order mattered.
        concurrency.interleaved |= ran > 1;
        match result {
            Err(payload) => {
                let record = first_panic(&*payload);
                if let Some(reached) = limit_of(&record, config) {
                    engine_limit = Some(reached);
                    exhaustive = false;
                    break;
                }
                let mut found = finding_from_record(Backend::Loom, record, executions, start.elapsed(), None);
                seat.post(executions);
                loom_path = Some(PathAt { bound, execution: ran });
                // Every schedule with fewer preemptions passed in the rounds before.
                found.preemptions = bound;
                finding = Some(found);
                break;
            }
            // A body that caught the unwinding of one thread too many ran on without it.
            Ok(()) if limit::seen().over_thread_limit => {
                engine_limit = limit_of(&panic::PanicRecord::plain(String::new()), config);
                exhaustive = false;
                break;
            }
            Ok(()) => {}
        }
        // loom stopped on its own (neither budget ran out, no other lane settled the run): it
        // explored every schedule.
        exhaustive = ran < left && start.elapsed() < budget.time && !cancelled;
        if !exhaustive {
            break;
        }
        proved_within = bound;
    }
    if exhaustive {
        seat.post(executions);
    }
    // A search cut short by a limit saw the threads it saw, but not whether the rest would
    // have interleaved.
    let concurrency = (engine_limit.is_none() || concurrency.interleaved).then_some(concurrency);
    EngineRun {
        executions,
        elapsed: start.elapsed(),
        exhaustive,
        finding,
        loom_path,
        limit: engine_limit,
        proved_within,
        concurrency,
        ..EngineRun::new(Backend::Loom, "loom".to_string())
    }
}

/// What loom says when a recorded path does not fit the body it is replayed on.
const LOOM_PATH_MISMATCH: [&str; 4] = [
    "Reached unexpected exploration state",
    "[loom internal bug]",
    "not in exploring state",
    "not in critical state",
];

pub(super) fn replay(body: &Body, path: &LoomPath, config: &RunConfig) -> ReplayOutcome {
    let checkpoint = Checkpoint::new();
    if let Err(e) = std::fs::write(&checkpoint.0, &path.json) {
        return ReplayOutcome::NotApplicable(format!("cannot stage the loom path: {e}"));
    }
    let start = Instant::now();
    let mut b = builder(config, config.loom.preemption_bound, 1, Duration::from_secs(3600));
    b.checkpoint_file = Some(checkpoint.0.clone());
    // loom reads the path with `unwrap`: a path that is not loom's is a panic before any
    // execution started.
    let Search { executions, result, .. } = check(b, body, None);
    match result {
        Ok(()) => ReplayOutcome::Passed,
        Err(_) if executions == 0 => {
            ReplayOutcome::NotApplicable("the loom path does not fit this body".to_string())
        }
        Err(payload) => {
            let schedule = Some(Schedule::Loom(path.clone()));
            let finding = finding_from_panic(Backend::Loom, payload, 1, start.elapsed(), schedule);
            if LOOM_PATH_MISMATCH.iter().any(|m| finding.message.contains(m)) {
                return ReplayOutcome::NotApplicable(
                    "the loom schedule no longer applies: the body takes another path than when it was recorded".to_string(),
                );
            }
            ReplayOutcome::Failed(finding)
        }
    }
}
