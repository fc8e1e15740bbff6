//! The default portfolio. PCT first: it finds bugs of low depth (a few ordering constraints,
//! which is what most real concurrency bugs need) in few executions at shuttle's speed. Then
//! a short uniform random phase for bugs PCT's priority scheme misses. Then loom, bounded,
//! which proves the rest of the space within its preemption bound and adds weak-memory and
//! data-race checks. The shares were tuned on the built-in scenarios (see docs/performance.md).

use super::{explore_with, Body, EngineRun};
use crate::backend::{Backend, Budget, RunConfig};
use std::time::Instant;

const PORTFOLIO: [(Backend, u64); 3] =
    [(Backend::ShuttlePct, 20), (Backend::ShuttleRandom, 10), (Backend::Loom, 70)];

pub(super) fn explore(body: &Body, config: &RunConfig) -> Vec<EngineRun> {
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
        let run = explore_with(backend, body, config, Budget { executions, time });
        let stop = run.finding.is_some();
        runs.push(run);
        if stop {
            break;
        }
    }
    runs
}
