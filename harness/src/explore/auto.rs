//! The default portfolio, measured on the catalog and the bug-finding suite
//! (docs/performance.md, "The auto portfolio").
//!
//! - **The shuttle rotation**: URW, uniform random, URW and PCT taking turns, one execution
//!   each, from the run's first execution to its last. Each keeps its own state and the run's
//!   seed, so the rotation runs exactly the executions each of them runs alone, interleaved:
//!   a bug any of them finds in `k` executions alone, `auto` finds within `2k` (URW) or `4k`
//!   (random, PCT) executions of the rotation. URW takes every other turn because on the suite
//!   it found every bug the other strategies found, in the fewest executions on most bodies,
//!   and by far the fewest where many threads hide the interleaving (docs/performance.md).
//! - **loom**, on a body with no more threads than loom models: it finds what needs weak
//!   memory, and on a correct body it ends with a proof, which ends the run. It never takes
//!   more than half of the budget.
//!
//! With one job, the rotation runs its first 64 executions alone (most bugs are found there,
//! before loom costs anything, and the rotation counts the body's threads); then loom and the
//! rotation take turns in slices that double (loom 32, rotation 64, loom 64, ...), and when
//! loom is done (or cannot run the body) the rotation takes the rest. With several jobs, loom
//! takes a lane of its own and the rotation another, side by side (see `race`), and further
//! lanes run the rotation with seeds of their own.

use super::loom::LoomSearch;
use super::parallel::{self, Lane, Member, Strategy};
use super::race;
use super::shuttle::{Sampler, ShuttleSearch};
use super::{Body, EngineRun, Seat};
use crate::backend::{Backend, Budget, RunConfig};
use crate::finding::Concurrency;
use std::time::Instant;

/// Share of the budget (percent) loom may take beside the rotation.
const LOOM_SHARE: u64 = 50;

/// Executions of the rotation before loom's first slice: bugs the rotation finds in its first
/// executions (most) are found before loom costs anything. loom's slices then start at half
/// that and double, the rotation's at twice loom's.
const FIRST_ROTATION: u64 = 64;

/// The rotation's strategies, and its turns by index into them: URW, random, URW, PCT.
fn rotation(config: &RunConfig) -> (Vec<Sampler>, Vec<usize>) {
    (vec![Sampler::Urw, Sampler::Random, Sampler::Pct { depth: config.pct_depth }], vec![0, 1, 0, 2])
}

/// The rotation as one search, every sampler seeded with `seat`'s seed.
fn rotation_search(config: &RunConfig, seat: &Seat) -> ShuttleSearch {
    let (samplers, turns) = rotation(config);
    let labels: Vec<String> = turns.iter().map(|&t| samplers[t].label()).collect();
    ShuttleSearch::taking_turns(format!("rotation: {}", labels.join(", ")), &samplers, &turns, config, seat)
}

/// Whether loom can model a body the rotation saw.
fn loom_applies(seen: Concurrency) -> bool {
    seen.threads <= ::loom::MAX_THREADS
}

fn percent(total: u64, share: u64) -> u64 {
    total.saturating_mul(share) / 100
}

pub(super) fn explore(body: &Body, config: &RunConfig) -> Vec<EngineRun> {
    if config.jobs > 1 {
        return parallel::explore(body, config, lanes(config));
    }
    let start = Instant::now();
    let budget = config.budget;
    let mut shuttle = rotation_search(config, &Seat::alone(config));
    shuttle.run(body, config, FIRST_ROTATION.min(budget.executions), budget.time);
    if shuttle.done() {
        return vec![shuttle.into_run()];
    }
    let seen = shuttle.concurrency();
    tracing::debug!(
        executions = shuttle.executions(),
        threads = seen.threads,
        loom = loom_applies(seen),
        "auto: the rotation's first executions found nothing; loom joins it if it applies"
    );
    let mut loom = if loom_applies(seen) {
        LoomSearch::resumable(config)
    } else {
        LoomSearch::not_applicable(config, seen.threads)
    };
    let loom_cap = percent(budget.executions, LOOM_SHARE);
    let spent = |loom: &LoomSearch, shuttle: &ShuttleSearch| loom.executions() + shuttle.executions();
    let mut slice = FIRST_ROTATION / 2;
    while !shuttle.done() {
        let executions_left = budget.executions.saturating_sub(spent(&loom, &shuttle));
        let time_left = budget.time.saturating_sub(start.elapsed());
        if executions_left == 0 || time_left.is_zero() {
            break;
        }
        if !loom.done() {
            let share = slice.min(loom_cap.saturating_sub(loom.executions())).min(executions_left);
            if share > 0 {
                tracing::debug!(executions = share, "auto: a loom slice");
                loom.run(body, config, share, time_left, &Seat::alone(config));
                if loom.settled() {
                    break;
                }
            }
        }
        let executions_left = budget.executions.saturating_sub(spent(&loom, &shuttle));
        let time_left = budget.time.saturating_sub(start.elapsed());
        // With loom done or out of its share, the rotation takes the rest as it comes.
        let loom_running = !loom.done() && loom.executions() < loom_cap;
        let share = if loom_running { slice.saturating_mul(2) } else { executions_left };
        shuttle.run(body, config, share.min(executions_left), time_left);
        slice = slice.saturating_mul(2);
    }
    vec![shuttle.into_run(), loom.into_run()]
}

/// The portfolio over `config.jobs` lanes: the rotation with the run's seed on lane 0, which
/// runs on the calling thread; loom on lane 1, started once the rotation is about to pass
/// loom's first execution in virtual time (so a bug the rotation finds at once costs no
/// thread); the rotation with seeds of their own on the other lanes.
fn lanes(config: &RunConfig) -> Vec<Lane> {
    let executions = config.budget.executions;
    // Exactly the budget: with a single execution, the rotation's lane runs it alone.
    let loom_share = percent(executions, LOOM_SHARE);
    let rotation_lanes = config.jobs - 1;
    let rotation = |lane: usize, seed: u64| {
        // The rotation lanes share what loom does not take, and loom's share too when the
        // rotation's first execution saw more threads than loom models (then loom stops at its
        // first execution): the rotation's own count decides, never the loom lane's timing.
        let share = |loom_takes: u64| {
            let left = executions.saturating_sub(loom_takes.min(executions.saturating_sub(1)));
            race::share(left, rotation_lanes, lane)
        };
        let budget = Budget { executions: share(loom_share), time: config.budget.time };
        let without_loom = Budget { executions: share(loom_share.min(1)), time: config.budget.time };
        vec![Member { strategy: Strategy::Rotation { without_loom }, seed, budget }]
    };
    let loom = Member {
        strategy: Strategy::Engine(Backend::Loom),
        seed: config.seed,
        budget: Budget { executions: loom_share, time: config.budget.time },
    };
    let mut lanes = vec![rotation(0, config.seed), vec![loom]];
    for lane in 1..rotation_lanes {
        lanes.push(rotation(lane, race::lane_seed(config.seed, lane + 1)));
    }
    lanes
}

/// The rotation member of a lane: its first execution counts the body's threads, which say
/// whether its budget includes loom's share.
pub(super) fn rotation_member(
    config: &RunConfig,
    budget: Budget,
    without_loom: Budget,
    seat: &Seat,
    body: &Body,
) -> EngineRun {
    let start = Instant::now();
    let mut search = rotation_search(config, seat);
    search.run(body, config, budget.executions.min(1), budget.time);
    let executions =
        if loom_applies(search.concurrency()) { budget.executions } else { without_loom.executions };
    search.run(body, config, executions.saturating_sub(1), budget.time.saturating_sub(start.elapsed()));
    search.into_run()
}
