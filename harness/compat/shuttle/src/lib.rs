//! shuttle's API over lockhound. A crate whose tests use shuttle switches with one line in its
//! `Cargo.toml` and keeps its test files as they are:
//!
//! ```toml
//! [dev-dependencies]
//! shuttle = { package = "lockhound-shuttle", version = "0.1" }
//! ```
//!
//! `shuttle::check_pct(|| ..., 1000, 3)` then explores the body with lockhound's PCT strategy
//! (lockhound's own scheduler on shuttle's runtime), and a failure panics with lockhound's
//! report instead of shuttle's output: the finding, minimized, the failing execution step by
//! step, and a line that replays it in that test alone (`LOCKHOUND_REPLAY='lh1:...' cargo test
//! ... -- --exact name`).
//!
//! # What maps to what
//! - [`check_random`] and [`check_random_with_seed`]: lockhound's `shuttle-random`, for that
//!   many executions.
//! - [`check_pct`]: `shuttle-pct` with that depth (shuttle's meaning: change points plus one).
//! - [`check_dfs`]: `shuttle-dfs` (shuttle's depth-first search), within that many executions
//!   or until every schedule has run; without a number, within [`DFS_DEFAULT_TIME`], and a
//!   search that this ends passes with a one-line note on stderr that it was not exhaustive.
//! - [`check_urw`]: `shuttle-random`, the closest strategy lockhound has: shuttle's URW weighs
//!   its random choices so that schedules come out uniformly, lockhound's random does not.
//! - [`check`] (shuttle's single round-robin execution): one execution of `shuttle-dfs`, also
//!   one fixed schedule.
//! - [`replay`]: replays a schedule lockhound printed (`lh1:...`); shuttle's own encoded
//!   schedules describe its schedulers' decisions and are refused with a message.
//! - The seed: `SHUTTLE_RANDOM_SEED` when set (as in shuttle), else the one given, else 0:
//!   lockhound's runs explore the same schedules every time, where shuttle's `check_random`
//!   picks a new seed per run. The `LOCKHOUND_*` variables that are set win over all of it
//!   (`LOCKHOUND_ITERATIONS`, `LOCKHOUND_SEED`, `LOCKHOUND_BACKEND`, ...).
//! - Steps per execution: shuttle's default bound, 1,000,000, then a step-limit finding.
//! - [`sync`], [`thread`]: lockhound's facade; [`thread_local!`] and [`lazy_static!`]:
//!   lockhound's, per simulated thread and per execution under the model checkers.
//!
//! # Not provided
//! shuttle's engine internals have no counterpart: `scheduler`, `Runner`, `PortfolioRunner`,
//! `Config`, `current` (task labels, vector clocks), `annotations`, `replay_from_file`,
//! `check_uncontrolled_nondeterminism`. Not yet: `rand` and `future` (async).
//! `scripts/peer-suites.sh` counts what each blocks in shuttle's own test suite
//! (docs/compat.md).

pub mod sync;
pub mod thread;

/// `shuttle::hint`: lockhound's, whose `spin_loop` yields to the other threads under the
/// model checkers, as shuttle's does.
pub use lockhound::hint;
/// `shuttle::lazy_static::initialize` (the module beside the [`lazy_static!`] macro, as in
/// shuttle).
pub use lockhound::sync::lazy_static;

use lockhound::{Backend, Budget, RunConfig, Schedule};
use lockhound_compat::{Entry, UNBOUNDED_EXECUTIONS, UNBOUNDED_TIME};
use std::time::Duration;

/// shuttle's default bound on steps per execution.
const MAX_STEPS: usize = 1_000_000;

/// The configuration of a shuttle entry point: `backend` for `executions`, with shuttle's step
/// bound and seed.
fn config(backend: Backend, executions: u64, seed: Option<u64>) -> RunConfig {
    RunConfig {
        backend,
        seed: seed_from_env(seed.unwrap_or(0), &|key| std::env::var(key).ok()),
        budget: Budget { executions, time: UNBOUNDED_TIME },
        max_steps: MAX_STEPS,
        ..RunConfig::default()
    }
}

/// shuttle's `SHUTTLE_RANDOM_SEED` over `seed`, as shuttle's strategies read it. Panics,
/// naming the variable, on a value that is not a number.
fn seed_from_env(seed: u64, var: &dyn Fn(&str) -> Option<String>) -> u64 {
    match var("SHUTTLE_RANDOM_SEED") {
        None => seed,
        Some(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("lockhound-shuttle: SHUTTLE_RANDOM_SEED: '{v}' is not a number")),
    }
}

fn entry(name: &'static str, config: RunConfig) -> Entry {
    Entry::new("lockhound-shuttle", name, config)
}

/// Runs `f` under lockhound's random strategy for `iterations` executions.
#[track_caller]
pub fn check_random<F>(f: F, iterations: usize)
where
    F: Fn() + Send + Sync + 'static,
{
    entry("shuttle::check_random", config(Backend::ShuttleRandom, iterations as u64, None)).run(f)
}

/// Runs `f` under lockhound's random strategy seeded with `seed`, for `iterations` executions.
#[track_caller]
pub fn check_random_with_seed<F>(f: F, seed: u64, iterations: usize)
where
    F: Fn() + Send + Sync + 'static,
{
    entry("shuttle::check_random_with_seed", config(Backend::ShuttleRandom, iterations as u64, Some(seed)))
        .run(f)
}

/// Runs `f` under lockhound's random strategy for `iterations` executions: the closest to
/// shuttle's uniform random walk (URW), whose choices are weighted for uniform schedules.
#[track_caller]
pub fn check_urw<F>(f: F, iterations: usize)
where
    F: Fn() + Send + Sync + 'static,
{
    entry("shuttle::check_urw", config(Backend::ShuttleRandom, iterations as u64, None)).run(f)
}

/// Runs `f` under lockhound's PCT strategy of depth `depth` for `iterations` executions.
#[track_caller]
pub fn check_pct<F>(f: F, iterations: usize, depth: usize)
where
    F: Fn() + Send + Sync + 'static,
{
    let config = RunConfig { pct_depth: depth, ..config(Backend::ShuttlePct, iterations as u64, None) };
    entry("shuttle::check_pct", config).run(f)
}

/// How long `check_dfs(f, None)` searches at most: shuttle's runs until every schedule has
/// run, which on some bodies is never (a timed wait in a loop, whose timeouts lockhound
/// explores and shuttle does not) or longer than a test can wait.
pub const DFS_DEFAULT_TIME: Duration = Duration::from_secs(10);

/// Runs `f` under shuttle's depth-first search, for at most `max_iterations` executions, or
/// until every schedule has run. Without `max_iterations`, within [`DFS_DEFAULT_TIME`]: a
/// search that this ends passes, and says on stderr, in one line, that it was not
/// exhaustive (shuttle's own would have gone on).
#[track_caller]
pub fn check_dfs<F>(f: F, max_iterations: Option<usize>)
where
    F: Fn() + Send + Sync + 'static,
{
    match max_iterations {
        Some(n) => entry("shuttle::check_dfs", config(Backend::ShuttleDfs, n as u64, None)).run(f),
        None => {
            let mut config = config(Backend::ShuttleDfs, UNBOUNDED_EXECUTIONS, None);
            config.budget.time = DFS_DEFAULT_TIME;
            entry("shuttle::check_dfs", config).within_default_budget().run(f)
        }
    }
}

/// Runs `f` once, on one fixed schedule (shuttle runs it once round-robin; lockhound runs the
/// first schedule of its depth-first search).
#[track_caller]
pub fn check<F>(f: F)
where
    F: Fn() + Send + Sync + 'static,
{
    entry("shuttle::check", config(Backend::ShuttleDfs, 1, None)).run(f)
}

/// Replays `schedule`, a schedule lockhound printed for a failure of `f`, and panics with the
/// failure it leads to.
#[track_caller]
pub fn replay<F>(f: F, schedule: &str)
where
    F: Fn() + Send + Sync + 'static,
{
    if let Err(e) = schedule.parse::<Schedule>() {
        panic!(
            "lockhound-shuttle: replay takes a schedule lockhound printed (LOCKHOUND_REPLAY='lh1:...'); this \
             one is not ({e}). shuttle's own encoded schedules record the decisions of shuttle's \
             schedulers, which lockhound's do not reproduce: run the test again to get a lockhound schedule"
        );
    }
    let var = |key: &str| match key {
        "LOCKHOUND_REPLAY" => Some(schedule.to_string()),
        _ => std::env::var(key).ok(),
    };
    // The backend only matters for exploring; a replay follows the schedule's own engine.
    let entry = entry("shuttle::replay", config(Backend::ShuttleRandom, 1, None));
    entry.verdict(f, &var).settle()
}

#[doc(hidden)]
pub mod __private {
    pub use lockhound;
}

/// shuttle's `thread_local!`: lockhound's, whose keys are per simulated thread under the
/// model checkers (and std's on real threads).
#[macro_export]
macro_rules! thread_local {
    ($($declarations:tt)*) => {
        $crate::__private::lockhound::thread_local! { $($declarations)* }
    };
}

/// shuttle's `lazy_static!`: lockhound's, initialised once per execution under the model
/// checkers, as shuttle's is.
#[macro_export]
macro_rules! lazy_static {
    ($($declarations:tt)*) => {
        $crate::__private::lockhound::lazy_static! { $($declarations)* }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuttle_s_seed_variable_wins_over_the_given_seed() {
        assert_eq!(seed_from_env(5, &|_| None), 5);
        assert_eq!(seed_from_env(5, &|k| (k == "SHUTTLE_RANDOM_SEED").then(|| " 42".to_string())), 42);
    }

    #[test]
    #[should_panic(expected = "SHUTTLE_RANDOM_SEED")]
    fn an_unreadable_seed_is_named() {
        seed_from_env(5, &|_| Some("x".to_string()));
    }
}
