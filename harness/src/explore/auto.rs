//! The default portfolio. PCT first: it finds bugs of low depth (a few ordering constraints,
//! which is what most real concurrency bugs need) in few executions at shuttle's speed. Then
//! a short uniform random phase for bugs PCT's priority scheme misses. Then loom, bounded,
//! which proves the rest of the space within its preemption bound and adds weak-memory and
//! data-race checks. The shares were tuned on the built-in scenarios (see docs/performance.md).
//!
//! With several jobs the members run side by side instead: loom on one lane from the start
//! (so weak-memory bugs and proofs do not wait for the shuttle phases), PCT then random on
//! the others, each lane with its own seed; the first finding or proof ends the run.

use super::parallel::{self, Lane, Member};
use super::race;
use super::{explore_with, Body, EngineRun, Seat};
use crate::backend::{Backend, Budget, RunConfig};
use std::time::Instant;

const PORTFOLIO: [(Backend, u64); 3] =
    [(Backend::ShuttlePct, 20), (Backend::ShuttleRandom, 10), (Backend::Loom, 70)];

/// Executions PCT runs on the calling thread before a parallel run starts its lanes: most
/// bugs are shallow and fall within them, in well under a millisecond, sooner than threads
/// could be started and joined.
const WARM_UP: u64 = 64;

pub(super) fn explore(body: &Body, config: &RunConfig) -> Vec<EngineRun> {
    if config.jobs <= 1 {
        return one_after_another(body, config);
    }
    let warm_up = Budget {
        executions: WARM_UP.min(config.budget.executions * PORTFOLIO[0].1 / 100).max(1),
        time: config.budget.time / 100,
    };
    let first = explore_with(Backend::ShuttlePct, body, config, warm_up, &Seat::alone(config));
    if first.finding.is_some() {
        return vec![first];
    }
    let mut runs = vec![first];
    runs.extend(parallel::explore(body, config, lanes(config)));
    runs
}

/// The portfolio over `config.jobs` lanes: loom alone on lane 0, the shuttle members' shares
/// split over the other lanes.
fn lanes(config: &RunConfig) -> Vec<Lane> {
    let percent_of = |percent: u64| config.budget.executions * percent / 100;
    let shuttle_lanes = config.jobs - 1;
    let time = config.budget.time;
    let loom = Member {
        backend: Backend::Loom,
        seed: config.seed,
        budget: Budget { executions: percent_of(PORTFOLIO[2].1).max(1), time },
    };
    let mut lanes = vec![vec![loom]];
    for lane in 0..shuttle_lanes {
        // Seed 0 of the series was the warm-up's.
        let seed = race::lane_seed(config.seed, lane + 1);
        let member = |(backend, percent): (Backend, u64)| {
            let executions = race::share(percent_of(percent), shuttle_lanes, lane).max(1);
            Member { backend, seed, budget: Budget { executions, time } }
        };
        lanes.push(vec![member(PORTFOLIO[0]), member(PORTFOLIO[1])]);
    }
    lanes
}

fn one_after_another(body: &Body, config: &RunConfig) -> Vec<EngineRun> {
    let start = Instant::now();
    let mut runs = Vec::new();
    for (backend, percent) in PORTFOLIO {
        let time_left = config.budget.time.saturating_sub(start.elapsed());
        if time_left.is_zero() {
            break;
        }
        let is_last = backend == PORTFOLIO[PORTFOLIO.len() - 1].0;
        let used: u64 = runs.iter().map(|r: &EngineRun| r.executions).sum();
        let executions = if is_last {
            config.budget.executions.saturating_sub(used)
        } else {
            (config.budget.executions * percent / 100).max(1)
        };
        let time =
            if is_last { time_left } else { (config.budget.time * percent as u32 / 100).min(time_left) };
        let run = explore_with(backend, body, config, Budget { executions, time }, &Seat::alone(config));
        let stop = run.finding.is_some();
        runs.push(run);
        if stop {
            break;
        }
    }
    runs
}
