//! The loom engine: exhaustive (optionally preemption-bounded) exploration with weak memory
//! and data-race checks. A failure's schedule is loom's own exploration path, taken from
//! loom's checkpoint file, which loom writes before every execution when asked to.
//!
//! `auto` with one job runs a search in slices between those of its shuttle members
//! (`LoomSearch::resumable`): loom stops after a given number of executions, writing the path
//! of the next one to its checkpoint file, and the next slice resumes from it. Alone, or on a
//! lane of its own, loom runs its search in one go.

use super::{finding_from_record, first_panic, site, Body, EngineRun, ReplayOutcome, Seat};
use crate::backend::{Backend, Budget, RunConfig};
use crate::finding::{Concurrency, EngineLimit};
use crate::rt::{self, limit, panic, Engine};
use crate::schedule::{LoomPath, Schedule};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where loom reads and writes an exploration path: a file in a temporary folder of its own,
/// removed with it. loom loads the file if it exists, so it is created by loom, not here.
/// The folder has a random name, is created anew (never an existing one, nor one a planted
/// symlink points to) and only its owner may enter it: loom writes its file with
/// `std::fs::write`, which would follow a symlink planted in a shared folder.
struct Checkpoint(Option<tempfile::TempDir>);

impl Checkpoint {
    fn new() -> Checkpoint {
        let mut builder = tempfile::Builder::new();
        builder.prefix("lockhound-loom-");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o700));
        }
        Checkpoint(builder.tempdir().ok())
    }

    /// The file, when a temporary folder could be made.
    fn file(&self) -> Option<PathBuf> {
        self.0.as_ref().map(|dir| dir.path().join("path.json"))
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
    let file = checkpoint.file()?;
    let n_usize = usize::try_from(n).ok()?;
    // Within the run's time budget: the search got to execution `n` within it once.
    let mut b = builder(config, bound, n.saturating_add(1), config.budget.time);
    b.checkpoint_interval = n_usize;
    b.checkpoint_file = Some(file.clone());
    check(b, body, None).result.err()?;
    // The search stopped at the failing execution: the sites are that execution's.
    let spawns = limit::seen().spawns.as_slice().to_vec();
    std::fs::read_to_string(&file).ok().map(|json| LoomPath { json, spawns: Some(spawns) })
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
    check_resumed(b, body, may_start, None)
}

/// `check`, where `loaded` is the checkpoint file loom resumes from: it is removed once loom
/// has read it (when the first execution starts), so that after the search the file exists
/// only if loom wrote the path of the execution it stopped before.
fn check_resumed(
    b: ::loom::model::Builder,
    body: &Body,
    may_start: Option<MayStart>,
    loaded: Option<PathBuf>,
) -> Search {
    let count = Arc::new(AtomicU64::new(0));
    let _scope = rt::enter(Engine::Loom);
    // Faults go on to loom's generator, which makes an overflow of its stack a finding.
    let _fault = crate::fault::LoomRun::enter();
    let _stacks = super::stacks::LoomRecycling::on();
    let _counting = limit::search_starts();
    super::watchdog::searching(Backend::Loom);
    let (body, counter) = (body.clone(), count.clone());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        b.check(move || {
            let _execution = rt::begin_execution();
            super::watchdog::execution_starts();
            limit::execution_starts();
            let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
            if let (1, Some(file)) = (n, &loaded) {
                let _ = std::fs::remove_file(file);
            }
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
    let mut search = LoomSearch::new(config);
    search.run(body, config, budget.executions, budget.time, seat);
    search.into_run()
}

/// A loom search with iterative preemption bounding that runs slice by slice.
pub(super) struct LoomSearch {
    bounds: Vec<Option<usize>>,
    /// The bound being searched, as an index into `bounds`.
    round: usize,
    /// Executions of the current round so far.
    in_round: u64,
    /// Holds the path to resume the current round from, between slices, in a search that is
    /// resumable.
    checkpoint: Option<Checkpoint>,
    suspended: bool,
    run: EngineRun,
    concurrency: Concurrency,
}

impl LoomSearch {
    /// A search that runs once (`run` ends it when its budget does).
    pub(super) fn new(config: &RunConfig) -> LoomSearch {
        LoomSearch {
            bounds: bounds(config.loom.preemption_bound),
            round: 0,
            in_round: 0,
            checkpoint: None,
            suspended: false,
            run: EngineRun::new(Backend::Loom, "loom".to_string()),
            concurrency: Concurrency::default(),
        }
    }

    /// loom's search of a body that another engine has already seen spawn `threads` threads,
    /// more than loom models: done before it starts.
    pub(super) fn not_applicable(config: &RunConfig, threads: usize) -> LoomSearch {
        let mut search = LoomSearch::new(config);
        search.run.limit =
            Some(EngineLimit::LoomThreads { threads, max: ::loom::MAX_THREADS, at_least: false });
        search
    }

    /// A search that may run in slices: each `run` goes on where the last one stopped.
    pub(super) fn resumable(config: &RunConfig) -> LoomSearch {
        LoomSearch { checkpoint: Some(Checkpoint::new()), ..LoomSearch::new(config) }
    }

    /// Executions so far.
    pub(super) fn executions(&self) -> u64 {
        self.run.executions
    }

    /// Whether the search is over: a finding, a proof within every bound, a limit of loom's,
    /// or another lane settled the run.
    pub(super) fn done(&self) -> bool {
        self.run.finding.is_some()
            || self.run.exhaustive
            || self.run.limit.is_some()
            || self.round >= self.bounds.len()
    }

    /// Whether the search settled the run: a finding, or a proof within every bound.
    pub(super) fn settled(&self) -> bool {
        self.run.finding.is_some() || self.run.exhaustive
    }

    /// Runs up to `executions` more executions, within `time`.
    pub(super) fn run(
        &mut self,
        body: &Body,
        config: &RunConfig,
        executions: u64,
        time: Duration,
        seat: &Seat,
    ) {
        let start = Instant::now();
        let mut left = executions;
        while !self.done() && left > 0 && start.elapsed() < time {
            let bound = self.bounds[self.round];
            let before = self.run.executions;
            let may_start: Option<MayStart> = seat.clock.is_some().then(|| {
                let seat = seat.clone();
                Box::new(move |n| seat.may_start(before + n)) as MayStart
            });
            let file = self.checkpoint.as_ref().and_then(Checkpoint::file);
            let mut b = builder(config, bound, left, time.saturating_sub(start.elapsed()));
            if file.is_some() {
                // loom stops before execution `left + 1`, writing its path: the next slice's
                // start. (It checks the time budget only there too.)
                b.checkpoint_file = file.clone();
                b.checkpoint_interval = usize::try_from(left.saturating_add(1)).unwrap_or(usize::MAX);
            }
            let loaded = self.suspended.then(|| file.clone()).flatten();
            let Search { executions: ran, result, cancelled } = check_resumed(b, body, may_start, loaded);
            self.run.executions += ran;
            self.in_round += ran;
            left = left.saturating_sub(ran);
            self.concurrency.threads = self.concurrency.threads.max(limit::seen().most_threads);
            // More than one schedule: some point had two threads whose order mattered.
            self.concurrency.interleaved |= self.in_round > 1;
            match result {
                Err(payload) => {
                    let record = first_panic(&*payload);
                    if let Some(reached) = limit_of(&record, config) {
                        self.run.limit = Some(reached);
                        break;
                    }
                    let elapsed = self.run.elapsed + start.elapsed();
                    let mut found =
                        finding_from_record(Backend::Loom, record, self.run.executions, elapsed, None);
                    seat.post(self.run.executions);
                    self.run.loom_path = Some(PathAt { bound, execution: self.in_round });
                    // Every schedule with fewer preemptions passed in the rounds before.
                    found.preemptions = bound;
                    self.run.finding = Some(found);
                    break;
                }
                // A body that caught the unwinding of one thread too many ran on without it.
                Ok(()) if limit::seen().over_thread_limit => {
                    self.run.limit = limit_of(&panic::PanicRecord::plain(String::new()), config);
                    break;
                }
                Ok(()) => {}
            }
            if cancelled {
                // Another lane settled the run: nothing this search does can matter now.
                self.round = self.bounds.len();
                break;
            }
            // loom stops at the slice's end by writing the next path (or, without a file to
            // write to, by running out of the executions or the time it was given).
            let stopped = match &file {
                Some(file) => file.exists(),
                None => left == 0 || start.elapsed() >= time,
            };
            if !stopped {
                // loom went through every schedule of the round within the bound.
                self.run.proved_within = bound;
                self.run.proved_at = self.run.executions;
                self.round += 1;
                self.in_round = 0;
                self.suspended = false;
                if self.round == self.bounds.len() {
                    self.run.exhaustive = true;
                    seat.post(self.run.executions);
                }
            } else if file.is_some() {
                self.suspended = true;
            } else {
                // The budget ran out in the middle of a round that cannot be resumed.
                self.round = self.bounds.len();
                break;
            }
        }
        self.run.elapsed += start.elapsed();
    }

    /// What the search did, as an engine run of the portfolio.
    pub(super) fn into_run(self) -> EngineRun {
        let mut run = self.run;
        // A search cut short by a limit saw the threads it saw, but not whether the rest would
        // have interleaved.
        let c = self.concurrency;
        run.concurrency = (run.limit.is_none() || c.interleaved).then_some(c);
        run
    }
}

/// Why a recorded path cannot be trusted before it is followed: loom reads it with `unwrap`
/// and indexes with it, so a path that is not one loom wrote (edited, crafted) is refused
/// here. A path loom writes starts its execution at the beginning (`pos` 0).
fn unfit_path(path: &LoomPath) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(&path.json).ok()?;
    match value.get("pos").map(serde_json::Value::as_u64) {
        Some(Some(0)) => None,
        _ => Some("the loom path was not written by loom: it does not start at its beginning".to_string()),
    }
}

/// Whether the spawn sites of a replayed execution agree with those recorded with its path:
/// one list is the start of the other (a replay that fails earlier, or a fixed body that runs
/// on past where the recorded execution failed, spawns fewer or more).
fn same_spawns(recorded: &[u32], replayed: &[u32]) -> bool {
    let n = recorded.len().min(replayed.len());
    recorded[..n] == replayed[..n]
}

const ANOTHER_BODY: &str = "the loom schedule was recorded on another body: its threads were spawned at \
                            other places (another scenario, or the code changed since)";

pub(super) fn replay(body: &Body, path: &LoomPath, config: &RunConfig) -> ReplayOutcome {
    if let Some(why) = unfit_path(path) {
        return ReplayOutcome::NotApplicable(why);
    }
    let checkpoint = Checkpoint::new();
    let Some(file) = checkpoint.file() else {
        return ReplayOutcome::NotApplicable("cannot stage the loom path: no temporary folder".to_string());
    };
    if let Err(e) = std::fs::write(&file, &path.json) {
        return ReplayOutcome::NotApplicable(format!("cannot stage the loom path: {e}"));
    }
    let start = Instant::now();
    let mut b = builder(config, config.loom.preemption_bound, 1, config.budget.time);
    b.checkpoint_file = Some(file);
    // loom reads the path with `unwrap`: a path that is not loom's is a panic before any
    // execution started.
    let Search { executions, result, .. } = check(b, body, None);
    let fits =
        path.spawns.as_deref().is_none_or(|recorded| same_spawns(recorded, limit::seen().spawns.as_slice()));
    match result {
        Ok(()) if !fits => ReplayOutcome::NotApplicable(ANOTHER_BODY.to_string()),
        Ok(()) => ReplayOutcome::Passed,
        Err(_) if executions == 0 => {
            ReplayOutcome::NotApplicable("the loom path does not fit this body".to_string())
        }
        Err(payload) => {
            let record = first_panic(&*payload);
            // A failure of loom's own path bookkeeping (its assertions, an index the path
            // holds) says the path does not fit the body, never that the body is wrong: known
            // by where it was raised, whatever it says.
            if record.kind.is_none() && record.location.as_deref().is_some_and(site::in_loom_path_following) {
                let why = if fits {
                    "the loom schedule no longer applies: the body takes another path than when it was recorded"
                } else {
                    ANOTHER_BODY
                };
                return ReplayOutcome::NotApplicable(why.to_string());
            }
            let schedule = Some(Schedule::Loom(path.clone()));
            ReplayOutcome::Failed(finding_from_record(Backend::Loom, record, 1, start.elapsed(), schedule))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::atomic::{AtomicUsize, Ordering as Order};
    use crate::sync::Arc as FacadeArc;

    /// Three threads increment with a load and a store: the lost update needs a preemption.
    fn lost_update() {
        let n = FacadeArc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let n = n.clone();
                crate::thread::spawn(move || {
                    let v = n.load(Order::SeqCst);
                    n.store(v + 1, Order::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(n.load(Order::SeqCst), 2, "lost update");
    }

    fn correct() {
        let n = FacadeArc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let n = n.clone();
                crate::thread::spawn(move || {
                    n.fetch_add(1, Order::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(n.load(Order::SeqCst), 3);
    }

    /// Runs a resumable search in slices of `slice` executions to its end.
    fn in_slices(body: fn(), slice: u64) -> EngineRun {
        let config = RunConfig::default();
        let body: Body = Arc::new(body);
        let mut search = LoomSearch::resumable(&config);
        // Bounded: a search that did not resume would start its round over forever.
        for _ in 0..5_000 {
            if search.done() {
                break;
            }
            search.run(&body, &config, slice, Duration::from_secs(60), &Seat::alone(&config));
        }
        assert!(search.done(), "slices of {slice}: the search did not end");
        search.into_run()
    }

    #[test]
    fn a_search_in_slices_explores_what_one_search_does() {
        let config = RunConfig::default();
        let whole = explore(&(Arc::new(correct) as Body), &config, config.budget, &Seat::alone(&config));
        assert!(whole.exhaustive && whole.executions > 20, "{} executions", whole.executions);
        for slice in [1, 7, 1_000] {
            let sliced = in_slices(correct, slice);
            assert!(sliced.exhaustive, "slices of {slice}");
            assert_eq!(sliced.executions, whole.executions, "slices of {slice}");
        }
        let whole = explore(&(Arc::new(lost_update) as Body), &config, config.budget, &Seat::alone(&config));
        let found = whole.finding.expect("loom finds the lost update");
        for slice in [1, 3, 1_000] {
            let sliced = in_slices(lost_update, slice);
            let again = sliced.finding.unwrap_or_else(|| panic!("slices of {slice}: no finding"));
            assert_eq!(again.executions, found.executions, "slices of {slice}");
            assert_eq!(again.message, found.message);
            let (a, b) = (sliced.loom_path.unwrap(), whole.loom_path.unwrap());
            assert_eq!(
                (a.bound, a.execution),
                (b.bound, b.execution),
                "slices of {slice}: the same execution"
            );
        }
    }
}
