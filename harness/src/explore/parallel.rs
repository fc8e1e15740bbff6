//! Runs lanes of engines on several threads at once (`--jobs N`) and keeps the outcome that
//! `race` says wins, so a parallel run is as reproducible as a sequential one.

use super::race::{self, Clock, Race};
use super::{explore_with, Body, EngineRun, Seat};
use crate::backend::{Backend, Budget, RunConfig};
use std::sync::Arc;
use std::time::Instant;

/// One engine of a lane, with its seed and its share of the budget.
#[derive(Clone, Copy, Debug)]
pub(super) struct Member {
    pub backend: Backend,
    pub seed: u64,
    pub budget: Budget,
}

/// Engines run one after another on one thread.
pub(super) type Lane = Vec<Member>;

/// Whether several seeds of `backend` can explore side by side. loom's and shuttle DFS's
/// searches are single sequences that cannot be split from outside; stress already runs
/// real threads.
pub(super) fn splits(backend: Backend) -> bool {
    matches!(backend, Backend::ShuttleRandom | Backend::ShuttlePct)
}

/// `config.jobs` lanes of `backend`, each with a seed of its own and a share of the
/// executions; every lane may use the whole time budget.
pub(super) fn seeds_of(backend: Backend, config: &RunConfig) -> Vec<Lane> {
    (0..config.jobs)
        .map(|lane| {
            let executions = race::share(config.budget.executions, config.jobs, lane);
            let budget = Budget { executions, time: config.budget.time };
            vec![Member { backend, seed: race::lane_seed(config.seed, lane), budget }]
        })
        .collect()
}

/// Virtual ticks per execution of `backend`.
fn ticks(backend: Backend) -> u64 {
    match backend {
        Backend::Loom => race::LOOM_TICKS,
        _ => race::SHUTTLE_TICKS,
    }
}

/// Runs every lane on its own thread; returns what each engine did, lane by lane, with only
/// the winning event kept: a finding or a proof posted after the winner is dropped, because
/// whether a lane reached it depended on thread timing.
pub(super) fn explore(body: &Body, config: &RunConfig, lanes: Vec<Lane>) -> Vec<EngineRun> {
    let race = Arc::new(Race::new());
    let per_lane: Vec<Vec<(EngineRun, Option<race::Mark>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = lanes
            .into_iter()
            .enumerate()
            .map(|(lane, members)| {
                let race = race.clone();
                scope.spawn(move || run_lane(body, config, &race, lane, members))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a lane never panics: engines catch the body's panics"))
            .collect()
    });
    let winner = race.winner();
    per_lane
        .into_iter()
        .flatten()
        .map(|(mut run, event)| {
            if event.is_some() && event != winner {
                run.finding = None;
                run.exhaustive = false;
            }
            run
        })
        .collect()
}

/// Runs a lane's engines in order until one posts an event or the race is settled.
fn run_lane(
    body: &Body,
    config: &RunConfig,
    race: &Arc<Race>,
    lane: usize,
    members: Lane,
) -> Vec<(EngineRun, Option<race::Mark>)> {
    let start = Instant::now();
    let mut offset = 0;
    let mut runs = Vec::new();
    for member in members {
        let clock = Clock { race: race.clone(), lane, offset, cost: ticks(member.backend) };
        // A member's time budget is a deadline counted from the lane's start: the engines of
        // a lane share it.
        let time = member.budget.time.saturating_sub(start.elapsed());
        if !clock.may_start(1) || time.is_zero() {
            break;
        }
        let seat = Seat { seed: member.seed, clock: Some(clock.clone()) };
        let budget = Budget { time, ..member.budget };
        let run = explore_with(member.backend, body, config, budget, &seat);
        let event = (run.finding.is_some() || run.exhaustive).then(|| clock.mark(run.executions));
        offset = clock.mark(run.executions).tick;
        runs.push((run, event));
        if event.is_some() {
            break;
        }
    }
    runs
}
