//! The default portfolio, measured on the catalog and the bug-finding suite
//! (docs/performance.md, "The auto portfolio").
//!
//! 1. A warm-up on the calling thread: uniform random, PCT and URW taking turns, one execution
//!    each. Most bugs have low depth and one of the three finds them in a few executions; the
//!    warm-up also counts the body's threads.
//! 2. The members, chosen from what the warm-up saw: loom when the body has no more threads
//!    than loom models (it finds what needs weak memory, and on a correct body it ends with a
//!    proof, which ends the run); and the shuttle strategies in a weighted rotation, URW first
//!    and twice as often on bodies with many threads, where it finds interleavings that
//!    priority-based and uniformly random scheduling miss.
//! 3. With one job, loom and the rotation take turns in slices that double (64 executions
//!    each, then 128, ...), so that a bug either finds quickly is found early whichever it
//!    suits, and a member that is done (loom proves, finds, or cannot run the body) leaves
//!    its share to the other. With several jobs, loom takes a lane of its own and the warm-up
//!    and the rotation another, side by side (see `race`); the shuttle lane takes loom's share
//!    too when the warm-up saw more threads than loom models.

use super::loom::{self as loom_engine, LoomSearch};
use super::parallel::{self, Lane, Member, Strategy};
use super::race;
use super::shuttle::{self, Sampler, ShuttleSearch};
use super::{Body, EngineRun, Seat};
use crate::backend::{Backend, Budget, RunConfig};
use crate::finding::Concurrency;
use std::time::Instant;

/// Executions of the warm-up (its strategies taking turns).
const WARM_UP: u64 = 128;

/// Share of the budget (percent) loom may take while it runs beside the shuttle members.
const LOOM_SHARE: u64 = 50;

/// Executions each member runs in the first round of slices; each round doubles it.
const FIRST_SLICE: u64 = 64;

/// The warm-up's strategies, in their order of turns: random first, since a bug that almost
/// any schedule hits is then found by the first execution.
fn warm_up_samplers(config: &RunConfig) -> Vec<Sampler> {
    vec![Sampler::Random, Sampler::Pct { depth: config.pct_depth }, Sampler::Urw]
}

/// Whether loom can model a body the warm-up saw (`None`: nothing seen yet).
fn loom_applies(seen: Option<Concurrency>) -> bool {
    seen.is_none_or(|c| c.threads <= ::loom::MAX_THREADS)
}

/// The shuttle members, one turn each in order: on a body with more threads than loom
/// models, URW takes every other turn; otherwise PCT, random and URW take one each.
pub(super) fn rotation(config: &RunConfig, seen: Option<Concurrency>) -> Vec<Sampler> {
    let pct = Sampler::Pct { depth: config.pct_depth };
    if loom_applies(seen) {
        vec![pct, Sampler::Random, Sampler::Urw]
    } else {
        vec![Sampler::Urw, pct, Sampler::Urw, Sampler::Random]
    }
}

/// The rotation as one search: each sampler with its own seeded state.
fn rotation_search(samplers: &[Sampler], config: &RunConfig, seat: &Seat) -> ShuttleSearch {
    let labels: Vec<String> = samplers.iter().map(|s| s.label()).collect();
    ShuttleSearch::taking_turns(format!("rotation: {}", labels.join(", ")), samplers, config, seat)
}

pub(super) fn explore(body: &Body, config: &RunConfig) -> Vec<EngineRun> {
    let warm_up = Budget {
        executions: WARM_UP.min(config.budget.executions / 5).max(1),
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
    let seen = first.concurrency;
    let left = Budget {
        executions: config.budget.executions.saturating_sub(first.executions),
        time: config.budget.time.saturating_sub(start.elapsed()),
    };
    let mut runs = vec![first];
    runs.extend(in_slices(body, config, left, seen));
    runs
}

/// loom (when it applies) and the shuttle rotation taking turns in doubling slices, until
/// one of them settles the run or the budget is spent.
fn in_slices(body: &Body, config: &RunConfig, left: Budget, seen: Option<Concurrency>) -> Vec<EngineRun> {
    let start = Instant::now();
    // The warm-up used the run's seed; the rotation goes on with the next.
    let seat = Seat { seed: race::lane_seed(config.seed, 1), clock: None };
    let mut shuttle = rotation_search(&rotation(config, seen), config, &seat);
    let mut loom = loom_applies(seen).then(|| LoomSearch::resumable(config));
    let loom_cap = percent(left.executions, LOOM_SHARE);
    let spent = |loom: &Option<LoomSearch>, shuttle: &ShuttleSearch| {
        loom.as_ref().map_or(0, LoomSearch::executions) + shuttle.executions()
    };
    let mut slice = FIRST_SLICE;
    loop {
        let time_left = left.time.saturating_sub(start.elapsed());
        let executions_left = left.executions.saturating_sub(spent(&loom, &shuttle));
        if time_left.is_zero() || executions_left == 0 {
            break;
        }
        if let Some(search) = loom.as_mut().filter(|s| !s.done()) {
            let share = slice.min(loom_cap.saturating_sub(search.executions())).min(executions_left);
            if share > 0 {
                search.run(body, config, share, time_left, &Seat::alone(config));
                if search.settled() {
                    break;
                }
            }
        }
        let executions_left = left.executions.saturating_sub(spent(&loom, &shuttle));
        let time_left = left.time.saturating_sub(start.elapsed());
        // With loom done or out of its share, the rotation takes the rest as it comes.
        let loom_running = loom.as_ref().is_some_and(|s| !s.done() && s.executions() < loom_cap);
        let share = if loom_running { slice } else { executions_left };
        shuttle.run(body, config, share.min(executions_left), time_left);
        if shuttle.done() {
            break;
        }
        slice = slice.saturating_mul(2);
    }
    let mut runs = Vec::new();
    match loom {
        Some(search) => runs.push(search.into_run()),
        None => runs.push(loom_engine::skipped(seen.map_or(0, |c| c.threads))),
    }
    runs.push(shuttle.into_run());
    runs
}

fn percent(total: u64, share: u64) -> u64 {
    total.saturating_mul(share) / 100
}

/// The portfolio over `config.jobs` lanes: loom alone on lane 0; the warm-up on lane 1, which
/// runs on the calling thread (its first execution ends first), followed there by the
/// rotation; the rotation with seeds of their own on the other lanes. The loom lane starts
/// once the warm-up is about to pass loom's first execution in virtual time, so a bug the
/// warm-up finds at once costs no thread.
fn lanes(config: &RunConfig, warm_up: Budget) -> Vec<Lane> {
    let left = config.budget.executions.saturating_sub(warm_up.executions).max(1);
    let loom_share = percent(left, LOOM_SHARE).max(1);
    let shuttle_lanes = config.jobs - 1;
    let loom = Member {
        strategy: Strategy::Engine(Backend::Loom),
        seed: config.seed,
        budget: Budget { executions: loom_share, time: config.budget.time },
    };
    let mut lanes = vec![vec![loom]];
    for lane in 1..=shuttle_lanes {
        let seed = race::lane_seed(config.seed, lane);
        let mut members = Vec::new();
        if lane == 1 {
            let strategy = Strategy::WarmUp(warm_up_samplers(config));
            members.push(Member { strategy, seed: config.seed, budget: warm_up });
        }
        // The shuttle lanes share what loom does not take; when the warm-up saw more threads
        // than loom models, loom stops at its first execution and they take its share too
        // (the warm-up's count decides, never the timing of the loom lane).
        let share =
            |loom_share: u64| race::share(left - loom_share.min(left - 1), shuttle_lanes, lane - 1).max(1);
        let budget = Budget { executions: share(loom_share), time: config.budget.time };
        let without_loom = Budget { executions: share(1), time: config.budget.time };
        members.push(Member { strategy: Strategy::Rotation { without_loom }, seed, budget });
        lanes.push(members);
    }
    lanes
}

/// What the rotation member of a lane runs: its strategies chosen from what the lane's
/// warm-up saw, and its budget grown by loom's share when loom does not apply.
pub(super) fn rotation_member(
    config: &RunConfig,
    seen: Option<Concurrency>,
    budget: Budget,
    without_loom: Budget,
    seat: &Seat,
    body: &Body,
) -> EngineRun {
    let budget = if loom_applies(seen) { budget } else { Budget { time: budget.time, ..without_loom } };
    let mut search = rotation_search(&rotation(config, seen), config, seat);
    search.run(body, config, budget.executions, budget.time);
    search.into_run()
}
