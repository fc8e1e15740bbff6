//! The default portfolio, tuned on the catalog (docs/performance.md).
//!
//! 1. A warm-up on the calling thread, uniform random and PCT taking turns: most real
//!    concurrency bugs have low depth (a few ordering constraints), and PCT finds every
//!    shuttle-visible bug of the catalog within its first 30 executions; random is faster
//!    still on bugs that almost any schedule hits (its first execution). Taking turns costs
//!    each at most a factor of two, in well under a millisecond, sooner than threads could
//!    even be started.
//! 2. loom, bounded, with iterative preemption bounding: it finds what needs weak memory or
//!    race detection, and on a correct body it ends with a proof (every schedule within the
//!    bound), which ends the run: sampling more schedules after a proof adds little.
//! 3. The rest of the shuttle budget, PCT then uniform random, for bodies too large for loom
//!    to finish and for bugs beyond its preemption bound.
//!
//! With one job these run one after another. With several, loom takes one lane and the
//! shuttle members the others (each with its own seed), side by side, the warm-up first on
//! the calling thread's lane; the first finding or proof ends the run (see `race`).

use super::parallel::{self, Lane, Member, Strategy};
use super::race;
use super::shuttle::{self, Sampler};
use super::{explore_with, loom, Body, EngineRun, Seat};
use crate::backend::{Backend, Budget, RunConfig};
use std::time::{Duration, Instant};

/// Shares of the execution budget (percent), and of the time budget left after the warm-up.
const LOOM_SHARE: u64 = 70;
const PCT_SHARE: u64 = 20;
const RANDOM_SHARE: u64 = 10;

/// Executions of the warm-up (random and PCT, half each).
const WARM_UP: u64 = 128;

pub(super) fn explore(body: &Body, config: &RunConfig) -> Vec<EngineRun> {
    let warm_up = Budget {
        executions: WARM_UP.min(percent(config.budget.executions, PCT_SHARE)).max(1),
        time: config.budget.time / 100,
    };
    if config.jobs > 1 {
        return parallel::explore(body, config, lanes(config, warm_up));
    }
    let start = Instant::now();
    let first = shuttle::warm_up(&warm_up_samplers(config), body, config, warm_up, &Seat::alone(config));
    if first.finding.is_some() || first.exhaustive {
        return vec![first];
    }
    let left = Budget {
        executions: config.budget.executions.saturating_sub(first.executions).max(1),
        time: config.budget.time.saturating_sub(start.elapsed()),
    };
    let threads = first.concurrency.map_or(0, |c| c.threads);
    let mut runs = vec![first];
    runs.extend(one_after_another(body, config, left, threads));
    runs
}

fn warm_up_samplers(config: &RunConfig) -> Vec<Sampler> {
    vec![Sampler::Random, Sampler::Pct { depth: config.pct_depth }]
}

fn percent(total: u64, share: u64) -> u64 {
    total.saturating_mul(share) / 100
}

/// loom first, then the shuttle members, each within its share, until one finds a bug or
/// proves the body correct within its bounds.
fn one_after_another(body: &Body, config: &RunConfig, left: Budget, threads: usize) -> Vec<EngineRun> {
    let start = Instant::now();
    // The warm-up used the first seed of PCT and random; the later phases go on with the next.
    let next_seed = race::lane_seed(config.seed, 1);
    let members = [
        (Backend::Loom, LOOM_SHARE, config.seed),
        (Backend::ShuttlePct, PCT_SHARE, next_seed),
        (Backend::ShuttleRandom, RANDOM_SHARE, next_seed),
    ];
    let mut runs: Vec<EngineRun> = Vec::new();
    for (i, (backend, share, seed)) in members.into_iter().enumerate() {
        let time_left = left.time.saturating_sub(start.elapsed());
        if time_left.is_zero() {
            break;
        }
        let is_last = i == members.len() - 1;
        let used: u64 = runs.iter().map(|r| r.executions).sum();
        let executions = if is_last {
            left.executions.saturating_sub(used).max(1)
        } else {
            percent(left.executions, share).max(1)
        };
        let time = if is_last { time_left } else { scaled(left.time, share).min(time_left) };
        let seat = Seat { seed, clock: None };
        let run = if backend == Backend::Loom && threads > ::loom::MAX_THREADS {
            loom::skipped(threads)
        } else {
            explore_with(backend, body, config, Budget { executions, time }, &seat)
        };
        let done = run.finding.is_some() || run.exhaustive;
        runs.push(run);
        if done {
            break;
        }
    }
    runs
}

fn scaled(time: Duration, share: u64) -> Duration {
    time * share as u32 / 100
}

/// The portfolio over `config.jobs` lanes: loom alone on lane 0; the warm-up on lane 1,
/// which runs on the calling thread (its first execution ends first), followed there by PCT
/// and random; PCT and random with seeds of their own on the other lanes. The loom lane starts
/// once the warm-up is about to pass loom's first execution in virtual time, so a bug the
/// warm-up finds at once costs no thread.
fn lanes(config: &RunConfig, warm_up: Budget) -> Vec<Lane> {
    let left = Budget {
        executions: config.budget.executions.saturating_sub(warm_up.executions).max(1),
        time: config.budget.time,
    };
    let shuttle_lanes = config.jobs - 1;
    let loom = Member {
        strategy: Strategy::Engine(Backend::Loom),
        seed: config.seed,
        budget: Budget { executions: percent(left.executions, LOOM_SHARE).max(1), time: left.time },
    };
    let mut lanes = vec![vec![loom]];
    for lane in 1..=shuttle_lanes {
        let seed = race::lane_seed(config.seed, lane);
        let member = |backend: Backend, share: u64| {
            let executions = race::share(percent(left.executions, share), shuttle_lanes, lane - 1).max(1);
            Member {
                strategy: Strategy::Engine(backend),
                seed,
                budget: Budget { executions, time: left.time },
            }
        };
        let mut members =
            vec![member(Backend::ShuttlePct, PCT_SHARE), member(Backend::ShuttleRandom, RANDOM_SHARE)];
        if lane == 1 {
            let strategy = Strategy::WarmUp(warm_up_samplers(config));
            members.insert(0, Member { strategy, seed: config.seed, budget: warm_up });
        }
        lanes.push(members);
    }
    lanes
}
