//! Runs lanes of engines on several threads at once (`--jobs N`) and keeps the outcome that
//! `race` says wins, so a parallel run is as reproducible as a sequential one.
//!
//! The lane whose first execution ends first in virtual time runs on the calling thread. Each
//! other lane starts, on a thread of the `pool`, only when the calling thread's lane is about
//! to start an execution that ends after that lane's first one, or when it stops: until then
//! the lane could not post an event that wins. So a bug the first lane finds before any other
//! lane's first execution could end (`auto`'s rotation, most of the time) costs no thread at
//! all, and the outcome is the same as if every lane had started at once.

use super::pool::{self, Task};
use super::race::{self, Clock, Mark, Race, Reach};
use super::{explore_with, Body, EngineRun, Seat};
use crate::backend::{Backend, Budget, RunConfig};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What a lane member runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Strategy {
    /// One backend's engine, with the run's settings.
    Engine(Backend),
    /// `auto`'s shuttle rotation; with the budget `without_loom` when its first execution
    /// saw more threads than loom models.
    Rotation { without_loom: Budget },
}

impl Strategy {
    /// Virtual ticks per execution.
    fn ticks(&self) -> u64 {
        match self {
            Strategy::Engine(Backend::Loom) => race::LOOM_TICKS,
            _ => race::SHUTTLE_TICKS,
        }
    }

    fn run(&self, body: &Body, config: &RunConfig, budget: Budget, seat: &Seat) -> EngineRun {
        match self {
            Strategy::Engine(backend) => explore_with(*backend, body, config, budget, seat),
            Strategy::Rotation { without_loom } => {
                super::auto::rotation_member(config, budget, *without_loom, seat, body)
            }
        }
    }
}

/// One engine of a lane, with its seed and its share of the budget.
#[derive(Clone, Debug)]
pub(super) struct Member {
    pub strategy: Strategy,
    pub seed: u64,
    pub budget: Budget,
}

/// Engines run one after another on one thread.
pub(super) type Lane = Vec<Member>;

/// Whether several seeds of `backend` can explore side by side. loom's and shuttle DFS's
/// searches are single sequences that cannot be split from outside; stress already runs
/// real threads.
pub(super) fn splits(backend: Backend) -> bool {
    matches!(backend, Backend::ShuttleRandom | Backend::ShuttlePct | Backend::ShuttleUrw)
}

/// `config.jobs` lanes of `backend`, each with a seed of its own and a share of the
/// executions; every lane may use the whole time budget.
pub(super) fn seeds_of(backend: Backend, config: &RunConfig) -> Vec<Lane> {
    (0..config.jobs)
        .map(|lane| {
            let executions = race::share(config.budget.executions, config.jobs, lane);
            let budget = Budget { executions, time: config.budget.time };
            let seed = race::lane_seed(config.seed, lane);
            vec![Member { strategy: Strategy::Engine(backend), seed, budget }]
        })
        .collect()
}

/// What a lane did: each engine's run, with the event (finding or proof) it posted and its
/// clock.
type LaneRuns = Vec<(EngineRun, Option<Mark>, Clock)>;

/// Runs every lane (see the module's documentation); returns what each engine did, lane by
/// lane, with only the winning event kept: a finding or a proof posted after the winner is
/// dropped, because whether a lane reached it depended on thread timing.
pub(super) fn explore(body: &Body, config: &RunConfig, lanes: Vec<Lane>) -> Vec<EngineRun> {
    let start = Instant::now();
    let race = Arc::new(Race::new());
    let first_end = |lane: usize, members: &Lane| Mark {
        tick: members.first().map_or(u64::MAX, |m| m.strategy.ticks()),
        lane,
    };
    let Some(here) = lanes.iter().enumerate().map(|(lane, members)| first_end(lane, members)).min() else {
        return Vec::new();
    };
    let mut here_members = Vec::new();
    let mut waiting = Vec::new();
    for (lane, members) in lanes.into_iter().enumerate() {
        if lane == here.lane {
            here_members = members;
        } else {
            waiting.push(Waiting { first_end: first_end(lane, &members), lane, members });
        }
    }
    let others = Arc::new(Others::new(body, config, &race, start, waiting));
    let reach = {
        let others = others.clone();
        Reach(Arc::new(move |end| others.start_before(end)))
    };
    let here_runs = run_lane(body, config, &race, start, here.lane, here_members, Some(reach));
    others.start_the_rest();
    let mut per_lane: Vec<(usize, LaneRuns)> = others.join();
    per_lane.push((here.lane, here_runs));
    per_lane.sort_by_key(|(lane, _)| *lane);
    let winner = race.winner();
    per_lane
        .into_iter()
        .flat_map(|(_, runs)| runs)
        .filter_map(|(mut run, event, clock)| {
            if event.is_some() && event != winner {
                run.finding = None;
                run.exhaustive = false;
            }
            if let Some(winner) = winner {
                up_to(&mut run, &clock, winner)
            }
            (run.executions > 0 || run.limit.is_some() || run.finding.is_some()).then_some(run)
        })
        .collect()
}

/// Cuts `run` back to the executions that end before `winner` (or are the winner's own):
/// how far a lane ran past the winner depends on thread timing, and reporting it would make
/// the report depend on it too. What the run reached only in those executions (a limit, a
/// round of loom's bounds) goes with them.
fn up_to(run: &mut EngineRun, clock: &Clock, winner: Mark) {
    let ends_in_time = |n: u64| clock.mark(n) <= winner;
    if ends_in_time(run.executions) {
        return;
    }
    // The executions ending in time: the largest `n` with `mark(n) <= winner`.
    let mut n = winner.tick.saturating_sub(clock.offset) / clock.cost.max(1);
    while n > 0 && !ends_in_time(n) {
        n -= 1;
    }
    run.executions = n;
    run.limit = None;
    if run.proved_at > n {
        run.proved_within = None;
    }
}

/// A lane not started yet.
struct Waiting {
    /// Where its first execution would end.
    first_end: Mark,
    lane: usize,
    members: Lane,
}

/// The lanes that run on pool threads: those still waiting, and those started.
struct Others {
    body: Body,
    config: RunConfig,
    race: Arc<Race>,
    /// When the run started: a lane that starts late has only what is left of the time budget.
    start: Instant,
    /// The earliest tick at which a waiting lane's first execution ends (`u64::MAX` when none
    /// waits): read before every execution of the calling thread's lane, without the lock.
    next_tick: AtomicU64,
    lanes: Mutex<Lanes>,
}

/// Lanes waiting (sorted latest first), and lanes started with their tasks.
type Lanes = (Vec<Waiting>, Vec<(usize, Task<LaneRuns>)>);

impl Others {
    fn new(
        body: &Body,
        config: &RunConfig,
        race: &Arc<Race>,
        start: Instant,
        mut waiting: Vec<Waiting>,
    ) -> Others {
        waiting.sort_by_key(|w| std::cmp::Reverse(w.first_end));
        Others {
            body: body.clone(),
            config: config.clone(),
            race: race.clone(),
            start,
            next_tick: AtomicU64::new(waiting.last().map_or(u64::MAX, |w| w.first_end.tick)),
            lanes: Mutex::new((waiting, Vec::new())),
        }
    }

    /// Starts every waiting lane whose first execution ends before `end` (the end of the
    /// execution the calling thread's lane is about to start): from now on it could win.
    fn start_before(&self, end: Mark) {
        if end.tick < self.next_tick.load(Ordering::Relaxed) {
            return;
        }
        self.start_while(|first_end| first_end < end);
    }

    /// Once the calling thread's lane has stopped: starts every waiting lane whose first
    /// execution could still end before the winning event.
    fn start_the_rest(&self) {
        self.start_while(|first_end| self.race.matters(first_end));
    }

    fn start_while(&self, starts: impl Fn(Mark) -> bool) {
        let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        let (waiting, started) = &mut *lanes;
        // `waiting` is sorted latest first: the next to start is at the end.
        while waiting.last().is_some_and(|w| starts(w.first_end)) {
            let Some(next) = waiting.pop() else { break };
            tracing::debug!(lane = next.lane, at_tick = next.first_end.tick, "lane starts");
            let (body, config, race, start) =
                (self.body.clone(), self.config.clone(), self.race.clone(), self.start);
            let task =
                pool::spawn(move || run_lane(&body, &config, &race, start, next.lane, next.members, None));
            started.push((next.lane, task));
        }
        let next_tick = waiting.last().map_or(u64::MAX, |w| w.first_end.tick);
        self.next_tick.store(next_tick, Ordering::Relaxed);
    }

    /// Waits for every started lane.
    fn join(&self) -> Vec<(usize, LaneRuns)> {
        let started = std::mem::take(&mut self.lanes.lock().unwrap_or_else(|e| e.into_inner()).1);
        started.into_iter().map(|(lane, task)| (lane, task.join())).collect()
    }
}

/// Runs a lane's engines in order until one posts an event or the race is settled.
fn run_lane(
    body: &Body,
    config: &RunConfig,
    race: &Arc<Race>,
    start: Instant,
    lane: usize,
    members: Lane,
    reach: Option<Reach>,
) -> LaneRuns {
    let mut offset = 0;
    let mut runs = Vec::new();
    for member in members {
        let cost = member.strategy.ticks();
        let clock = Clock { race: race.clone(), lane, offset, cost, reach: reach.clone() };
        // A member's time budget is a deadline counted from the run's start: the engines of
        // a lane share it, and a lane started late has only what is left of it.
        let time = member.budget.time.saturating_sub(start.elapsed());
        if !clock.may_start(1) || time.is_zero() {
            break;
        }
        let seat = Seat { seed: member.seed, clock: Some(clock.clone()) };
        let budget = Budget { time, ..member.budget };
        let run = member.strategy.run(body, config, budget, &seat);
        let event = (run.finding.is_some() || run.exhaustive).then(|| clock.mark(run.executions));
        offset = clock.mark(run.executions).tick;
        runs.push((run, event, clock));
        if event.is_some() {
            break;
        }
    }
    runs
}
