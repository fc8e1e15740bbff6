//! What the facade costs, and what a second job buys.
//!
//! Part 1 (criterion): executions per second of one body run through lockhound's facade and
//! engines, against the same body written directly against shuttle and loom. The three
//! bodies are one source text, expanded by a macro with different `sync`/`thread` modules.
//! Part 2 (criterion): one search on 1 job against 2. Both end in a table of ratios against
//! the baselines of this run. Time to find each bug is the `find` bench.
//!
//! `cargo bench -p lockhound-benches --bench facade`

use criterion::{BenchmarkId, Criterion};
use lockhound::{Backend, Check};
use std::time::Duration;

/// Two threads hand a counter through a mutex and a flag through an atomic, then check both.
macro_rules! handoff_body {
    ($sync:ident, $thread:ident) => {{
        use $sync::atomic::{AtomicUsize, Ordering};
        use $sync::{Arc, Mutex};
        let counter = Arc::new(Mutex::new(0usize));
        let flag = Arc::new(AtomicUsize::new(0));
        let (c, f) = (counter.clone(), flag.clone());
        let t = $thread::spawn(move || {
            *c.lock().unwrap() += 1;
            f.fetch_add(1, Ordering::SeqCst);
        });
        *counter.lock().unwrap() += 1;
        flag.fetch_add(1, Ordering::SeqCst);
        t.join().unwrap();
        assert_eq!(*counter.lock().unwrap(), 2);
        assert_eq!(flag.load(Ordering::SeqCst), 2);
    }};
}

fn through_facade() {
    use lockhound::{sync, thread};
    handoff_body!(sync, thread)
}

fn direct_shuttle() {
    use shuttle::{sync, thread};
    handoff_body!(sync, thread)
}

/// Executions of `direct_loom`, to turn loom's time per search into time per execution.
static DIRECT_LOOM_EXECUTIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn direct_loom() {
    use loom::{sync, thread};
    DIRECT_LOOM_EXECUTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    handoff_body!(sync, thread)
}

const SHUTTLE_EXECUTIONS: u64 = 200;

fn facade_overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("executions");
    group.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    group.bench_function(BenchmarkId::new("shuttle-random", "direct"), |b| {
        b.iter(|| {
            let scheduler =
                shuttle::scheduler::RandomScheduler::new_from_seed(1, SHUTTLE_EXECUTIONS as usize);
            shuttle::Runner::new(scheduler, shuttle::Config::new()).run(direct_shuttle)
        })
    });
    group.bench_function(BenchmarkId::new("shuttle-random", "facade"), |b| {
        let check = Check::new().backend(Backend::ShuttleRandom).iterations(SHUTTLE_EXECUTIONS).seed(1);
        b.iter(|| assert!(check.explore(through_facade).passed()))
    });
    group.bench_function(BenchmarkId::new("loom", "direct"), |b| {
        b.iter(|| {
            let mut builder = loom::model::Builder::new();
            builder.preemption_bound = None;
            builder.check(direct_loom)
        })
    });
    group.bench_function(BenchmarkId::new("loom", "facade"), |b| {
        let check = Check::new().backend(Backend::Loom).preemption_bound(None);
        b.iter(|| assert!(check.explore(through_facade).exhaustive))
    });
    group.finish();
}

/// Mean time per iteration criterion measured for `<group>/<function>/<parameter>`.
fn criterion_mean(group: &str, function: &str, parameter: &str) -> Option<f64> {
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "../target".into());
    let path = format!("{dir}/criterion/{group}/{function}/{parameter}/new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let doc: serde_json::Value = serde_json::from_str(&text).ok()?;
    doc["mean"]["point_estimate"].as_f64()
}

/// Executions one search of each form runs: lockhound's loom search is iterative (bounds 0,
/// 1, 2, then none), so it runs more executions than one plain loom search of the body.
fn loom_executions_of_the_body() -> (u64, u64) {
    DIRECT_LOOM_EXECUTIONS.store(0, std::sync::atomic::Ordering::Relaxed);
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = None;
    builder.check(direct_loom);
    let direct = DIRECT_LOOM_EXECUTIONS.load(std::sync::atomic::Ordering::Relaxed);
    let facade =
        Check::new().backend(Backend::Loom).preemption_bound(None).explore(through_facade).executions;
    (direct, facade)
}

/// The same search split over 1 and 2 jobs: criterion's time per iteration, 1 job against 2,
/// is the scaling (the `find` bench prints it per catalog scenario).
fn jobs_scaling(c: &mut Criterion) {
    let mut group = c.benchmark_group("jobs");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    for jobs in [1, 2] {
        group.bench_function(BenchmarkId::new("shuttle-pct-4000", jobs), |b| {
            let check = Check::new().backend(Backend::ShuttlePct).iterations(4_000).jobs(jobs);
            b.iter(|| assert!(check.explore(through_facade).passed()))
        });
    }
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    facade_overhead(&mut criterion);
    jobs_scaling(&mut criterion);
    criterion.final_summary();

    println!("\n## Facade overhead (same body, same engine, this run)\n");
    println!("| engine | direct (us/execution) | facade (us/execution) | facade / direct (per execution) |");
    println!("|---|---|---|---|");
    let (loom_direct, loom_facade) = loom_executions_of_the_body();
    let shuttle = SHUTTLE_EXECUTIONS as f64;
    for (engine, direct_n, facade_n) in
        [("shuttle-random", shuttle, shuttle), ("loom", loom_direct as f64, loom_facade as f64)]
    {
        match (criterion_mean("executions", engine, "direct"), criterion_mean("executions", engine, "facade"))
        {
            (Some(direct), Some(facade)) => {
                let (d, f) = (direct / direct_n / 1000.0, facade / facade_n / 1000.0);
                println!("| {engine} | {d:.2} | {f:.2} | {:.2}x |", f / d)
            }
            _ => println!("| {engine} | (no criterion estimates found) | | |"),
        }
    }
    println!("\n## Jobs (shuttle-pct, 4,000 executions of the same body, this run)\n");
    match (criterion_mean("jobs", "shuttle-pct-4000", "1"), criterion_mean("jobs", "shuttle-pct-4000", "2")) {
        (Some(one), Some(two)) => println!(
            "1 job: {:.1} ms, 2 jobs: {:.1} ms: {:.2}x the executions per second",
            one / 1e6,
            two / 1e6,
            one / two
        ),
        _ => println!("(no criterion estimates found)"),
    }
}
