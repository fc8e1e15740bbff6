//! Cost of tracking: uncontended lock+unlock and a contended two-thread workload, for the
//! tracked mutex (inside a tracking session, and outside one) against raw
//! `parking_lot::Mutex` and `std::sync::Mutex`, in one run.
//!
//! `cargo bench -p lockhound-benches --bench tracker -- --warm-up-time 1 --measurement-time 3`

use criterion::{black_box, Criterion};
use lockhound::tracker::{self, track, TrackOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CONTENDED_THREADS: u64 = 2;

/// Time for `iters` lock+increment+unlock rounds split over two threads hammering one lock.
fn contended<M: Send + Sync + 'static>(iters: u64, lock: Arc<M>, round: fn(&M)) -> Duration {
    let per_thread = iters.div_ceil(CONTENDED_THREADS);
    let start = Arc::new(std::sync::Barrier::new(CONTENDED_THREADS as usize + 1));
    let threads: Vec<_> = (0..CONTENDED_THREADS)
        .map(|_| {
            let (lock, start) = (lock.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                for _ in 0..per_thread {
                    round(&lock);
                }
            })
        })
        .collect();
    start.wait();
    let t = Instant::now();
    for th in threads {
        th.join().unwrap();
    }
    t.elapsed()
}

fn benches(c: &mut Criterion, tracked_label: &str) {
    let mut g = c.benchmark_group("uncontended");
    let raw = parking_lot::Mutex::new(0u64);
    g.bench_function("parking_lot", |b| b.iter(|| *black_box(&raw).lock() += 1));
    let std_m = std::sync::Mutex::new(0u64);
    g.bench_function("std", |b| b.iter(|| *black_box(&std_m).lock().unwrap() += 1));
    let tracked = tracker::Mutex::new(0u64);
    g.bench_function(tracked_label, |b| b.iter(|| *black_box(&tracked).lock() += 1));
    g.finish();

    let mut g = c.benchmark_group("contended-2-threads");
    g.bench_function("parking_lot", |b| {
        b.iter_custom(|n| contended(n, Arc::new(parking_lot::Mutex::new(0u64)), |m| *m.lock() += 1))
    });
    g.bench_function("std", |b| {
        b.iter_custom(|n| contended(n, Arc::new(std::sync::Mutex::new(0u64)), |m| *m.lock().unwrap() += 1))
    });
    g.bench_function(tracked_label, |b| {
        b.iter_custom(|n| contended(n, Arc::new(tracker::Mutex::new(0u64)), |m| *m.lock() += 1))
    });
    g.finish();
}

/// Instruction counting: with `LOCKHOUND_BENCH_COUNT=n`, the bench runs `n` uncontended
/// lock+unlock rounds in each of these functions instead of criterion, for
/// `valgrind --tool=callgrind --toggle-collect=count_*`, which counts instructions
/// deterministically where wall-clock timings are noisy (a busy 2-core machine).
#[inline(never)]
fn count_parking_lot(n: u64, m: &parking_lot::Mutex<u64>) {
    for _ in 0..n {
        *black_box(m).lock() += 1;
    }
}

#[inline(never)]
fn count_tracked(n: u64, m: &tracker::Mutex<u64>) {
    for _ in 0..n {
        *black_box(m).lock() += 1;
    }
}

fn count_only() -> Option<u64> {
    std::env::var("LOCKHOUND_BENCH_COUNT").ok()?.parse().ok()
}

fn main() {
    if let Some(n) = count_only() {
        let body: lockhound::Body = Arc::new(move || {
            count_parking_lot(n, &parking_lot::Mutex::new(0));
            count_tracked(n, &tracker::Mutex::new(0));
        });
        track(&body, TrackOptions { iterations: 1, ..Default::default() });
        return;
    }
    // Tracking is on only inside a session, so the tracked measurements run as its body.
    let body: lockhound::Body = Arc::new(|| {
        let mut c = Criterion::default().configure_from_args();
        benches(&mut c, "tracked");
    });
    let options = TrackOptions {
        iterations: 1,
        time_limit: Duration::from_secs(3600),
        hang_timeout: Duration::from_secs(3600),
        watchdog_threshold: Duration::from_secs(60),
        ..Default::default()
    };
    let report = track(&body, options);
    assert!(!report.hung && report.panic.is_none(), "benchmark session failed: {:?}", report.panic);
    // And the tracked mutex with no session running: one relaxed load more than parking_lot.
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("uncontended");
    let tracked = tracker::Mutex::new(0u64);
    g.bench_function("tracked-no-session", |b| b.iter(|| *black_box(&tracked).lock() += 1));
    g.finish();
    c.final_summary();
}
