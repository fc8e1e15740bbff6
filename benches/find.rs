//! How fast lockhound finds each catalog bug, against the plain ways a user would test the same
//! body, and how exploration scales with jobs. Prints markdown tables (docs/performance.md).
//!
//! `cargo bench -p lockhound-benches --bench find` (add `2>/dev/null` to hide shuttle's own
//! failure printouts; `-- --quick` runs 3 seeds instead of 7; `-- find` or `-- scaling` one
//! part only; scenario names, such as `-- idr-aba`, those scenarios only)
//!
//! Every contender runs the same scenario body (written against `lockhound::sync`), in this
//! process, one after another for each seed, so the ratios compare runs made side by side:
//! - lockhound: `explore::run` with the command line's defaults (`auto`, one job per core,
//!   minimization on): the time to the finding (`search_elapsed`: the search, every lane
//!   stopped), and apart, the whole call with minimization and the trace;
//! - `loom::model` with loom's default settings (no preemption bound), capped at 60 s, timed as
//!   many times as there are seeds (its search is the same every time);
//! - shuttle's `check_random` and `check_pct` (depth 3), seeded (the seeded forms of the same
//!   functions), capped at 100,000 executions or 10 s;
//! - real-thread stress: the body in a loop on real threads (lockhound's stress engine, the
//!   plain loop plus a hang detector), capped at 10 s.

use lockhound::scenario::Expect;
use lockhound::{explore, Backend, Body, Budget, RunConfig};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one contender did on one seed: executions and wall time to the first finding, or
/// `None` if it found nothing within its cap.
type Outcome = Option<(u64, Duration)>;

const LOOM_CAP: Duration = Duration::from_secs(60);
const SHUTTLE_CAP: Duration = Duration::from_secs(10);
const SHUTTLE_EXECUTIONS: usize = 100_000;

/// lockhound's default run: `search` is the time to the finding (every lane stopped), the
/// figure comparable with the plain ways, which stop at the failing execution's panic;
/// `report` is the whole call: search, minimization and the recording of the trace.
fn lockhound_default(body: &Body, seed: u64, part: Part) -> Outcome {
    let config = RunConfig { seed, jobs: RunConfig::available_jobs(), ..RunConfig::default() };
    let start = Instant::now();
    let report = explore::run(body, &config);
    let elapsed = start.elapsed();
    let time = match part {
        Part::Search => report.search_elapsed,
        Part::Report => elapsed,
    };
    report.finding.map(|_| (report.executions, time))
}

#[derive(Clone, Copy)]
enum Part {
    Search,
    Report,
}

/// Runs `search` (which panics on the first failing execution) under `backend`'s facade
/// engine, counting the executions it starts.
fn until_panic(backend: Backend, body: &Body, search: impl FnOnce(Arc<dyn Fn() + Send + Sync>)) -> Outcome {
    let executions = Arc::new(AtomicU64::new(0));
    let (counter, body) = (executions.clone(), body.clone());
    let counted: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        body()
    });
    let start = Instant::now();
    let failed =
        explore::with_engine(backend, || catch_unwind(AssertUnwindSafe(|| search(counted))).is_err());
    let elapsed = start.elapsed();
    failed.then(|| (executions.load(Ordering::Relaxed), elapsed))
}

fn plain_loom(body: &Body) -> Outcome {
    until_panic(Backend::Loom, body, |f| {
        let mut builder = loom::model::Builder::new();
        builder.max_duration = Some(LOOM_CAP);
        builder.check(move || f())
    })
}

/// loom's search is deterministic, its time is not: timed as often as the seeded contenders,
/// unless its first run found nothing within the cap (every run would search the same way).
fn plain_loom_median(body: &Body, runs: u64) -> Outcome {
    let first = plain_loom(body)?;
    median(std::iter::once(Some(first)).chain((1..runs).map(|_| plain_loom(body))).collect())
}

fn shuttle_config() -> shuttle::Config {
    let mut config = shuttle::Config::new();
    config.max_time = Some(SHUTTLE_CAP);
    config
}

fn plain_shuttle_random(body: &Body, seed: u64) -> Outcome {
    until_panic(Backend::ShuttleRandom, body, |f| {
        let scheduler = shuttle::scheduler::RandomScheduler::new_from_seed(seed, SHUTTLE_EXECUTIONS);
        shuttle::Runner::new(scheduler, shuttle_config()).run(move || f());
    })
}

fn plain_shuttle_pct(body: &Body, seed: u64) -> Outcome {
    until_panic(Backend::ShuttlePct, body, |f| {
        let scheduler = shuttle::scheduler::PctScheduler::new_from_seed(seed, 3, SHUTTLE_EXECUTIONS);
        shuttle::Runner::new(scheduler, shuttle_config()).run(move || f());
    })
}

fn stress(body: &Body, seed: u64) -> Outcome {
    let config = RunConfig {
        backend: Backend::Stress,
        seed,
        budget: Budget { executions: u64::MAX, time: SHUTTLE_CAP },
        minimize: false,
        ..RunConfig::default()
    };
    let start = Instant::now();
    let report = explore::run(body, &config);
    report.finding.map(|_| (report.executions, start.elapsed()))
}

/// The median of the seeds' outcomes; a seed that found nothing counts as slower than any
/// that did, so the median is `None` when most seeds found nothing.
fn median(mut outcomes: Vec<Outcome>) -> Outcome {
    outcomes.sort_by_key(|o| o.map_or(Duration::MAX, |(_, t)| t));
    outcomes[outcomes.len() / 2]
}

fn show(outcome: Outcome) -> String {
    match outcome {
        Some((n, t)) => format!("{:.2} ms ({n})", t.as_secs_f64() * 1000.0),
        None => "not found".to_string(),
    }
}

/// How many times faster lockhound was than `other`; a contender that found nothing within its
/// cap is at least cap / lockhound's time slower.
fn ratio(ours: Outcome, other: Outcome, cap: Duration) -> String {
    let Some((_, ours)) = ours else { return "-".to_string() };
    match other {
        Some((_, theirs)) => format!("{:.1}x", theirs.as_secs_f64() / ours.as_secs_f64()),
        None => format!(">= {:.0}x", cap.as_secs_f64() / ours.as_secs_f64()),
    }
}

/// The catalog's scenarios, or those named on the command line.
fn scenarios(picked: &[String]) -> Vec<lockhound::scenario::Scenario> {
    lockhound_scenarios::catalog()
        .into_iter()
        .filter(|s| picked.is_empty() || picked.iter().any(|p| *p == s.name))
        .collect()
}

fn time_to_find(seeds: u64, picked: &[String]) {
    println!("\n## Time to the first finding: median over seeds 0..{seeds} (executions in brackets)\n");
    println!(
        "| scenario | variant | lockhound | full report | loom::model | shuttle random | shuttle pct | stress \
         | vs loom | vs random |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for scenario in scenarios(picked) {
        for variant in scenario.variants().iter().filter(|v| v.expect == Expect::Fail) {
            let body = variant.body();
            let over_seeds = |f: &dyn Fn(u64) -> Outcome| median((0..seeds).map(f).collect());
            let ours = over_seeds(&|seed| lockhound_default(&body, seed, Part::Search));
            let minimized = over_seeds(&|seed| lockhound_default(&body, seed, Part::Report));
            let loom = plain_loom_median(&body, seeds);
            let random = over_seeds(&|seed| plain_shuttle_random(&body, seed));
            let pct = over_seeds(&|seed| plain_shuttle_pct(&body, seed));
            let stress = median((0..seeds.min(3)).map(|seed| stress(&body, seed)).collect());
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                scenario.name,
                variant.name,
                show(ours),
                show(minimized),
                show(loom),
                show(random),
                show(pct),
                show(stress),
                ratio(ours, loom, LOOM_CAP),
                ratio(ours, random, SHUTTLE_CAP),
            );
        }
    }
}

/// Executions per second of one fixed variant under `backend` with `jobs` jobs.
fn executions_per_second(body: &Body, backend: Backend, jobs: usize, executions: u64) -> f64 {
    let config = RunConfig {
        backend,
        jobs,
        budget: Budget { executions, time: Duration::from_secs(120) },
        ..RunConfig::default()
    };
    let start = Instant::now();
    let report = explore::run(body, &config);
    assert!(report.passed(), "a fixed variant failed: {:?}", report.finding);
    report.executions as f64 / start.elapsed().as_secs_f64()
}

fn scaling(rounds: u64, picked: &[String]) {
    let cores = RunConfig::available_jobs();
    println!(
        "\n## Scaling: executions per second, 1 job against 2 ({cores} cores here), {rounds} rounds of one \
         run each, alternating\n"
    );
    println!("| scenario (fixed) | backend | 1 job (exec/s) | 2 jobs (exec/s) | 2 jobs / 1 job | lowest, highest |");
    println!("|---|---|---|---|---|---|");
    for scenario in scenarios(picked) {
        let Some(fixed) = scenario.variant("fixed") else { continue };
        let body = fixed.body();
        for backend in [Backend::ShuttlePct, Backend::ShuttleRandom] {
            let (mut one, mut two, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            // One run of each per round, side by side, and the ratio per round: load on the
            // machine that drifts over seconds hits both runs of a round alike.
            for _ in 0..rounds {
                let (a, b) = (
                    executions_per_second(&body, backend, 1, 100_000),
                    executions_per_second(&body, backend, 2, 100_000),
                );
                one.push(a);
                two.push(b);
                ratios.push(b / a);
            }
            let mid = |mut v: Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let (low, high) = (
                ratios.iter().copied().fold(f64::INFINITY, f64::min),
                ratios.iter().copied().fold(0.0, f64::max),
            );
            println!(
                "| {} | {backend} | {:.0} | {:.0} | {:.2}x | {low:.2}x, {high:.2}x |",
                scenario.name,
                mid(one),
                mid(two),
                mid(ratios)
            );
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    // `-- scaling` or `-- find` runs one part only.
    let only = |part: &str| args.iter().any(|a| a == part);
    let all = !only("scaling") && !only("find");
    // Scenario names on the command line pick those scenarios only.
    let names: Vec<String> = lockhound_scenarios::catalog().iter().map(|s| s.name.to_string()).collect();
    let picked: Vec<String> = args.iter().filter(|a| names.contains(a)).cloned().collect();
    println!("# lockhound find benchmark ({} cores)", RunConfig::available_jobs());
    if all || only("find") {
        time_to_find(if quick { 3 } else { 7 }, &picked);
    }
    if all || only("scaling") {
        scaling(if quick { 3 } else { 7 }, &picked);
    }
}
