//! The guard allocator's cost on an allocation-heavy workload, against the system allocator,
//! measured in the same run.
//!
//! A binary has one global allocator, so the one installed here is a switch: `system` sends
//! every call straight to [`System`], the other arms to a [`GuardAlloc`] in the mode named.
//! Both sides pay the same relaxed load of the switch, so the difference between `system`
//! and a guard arm is exactly the guard allocator's cost.
//!
//! - `cargo bench -p lockhound-benches --bench guard -- --warm-up-time 1 --measurement-time 3`: criterion, one
//!   arm after the other.
//! - `cargo bench -p lockhound-benches --bench guard -- paired [ROUNDS] [ARM...]`: the arms interleaved in short
//!   alternating batches, median ratio to `system` over the rounds (41 by default, 5 for
//!   `all`; `paired 201 sampled-1000` measures one arm, more precisely; an arm `sample:N` runs
//!   that rate, and sampled arms report the cost per guarded block). On a noisy machine
//!   (other builds, frequency changes) this is the number to trust: load that drifts over
//!   seconds hits both arms of a round alike.
//! - `valgrind --tool=callgrind <bench binary> workload MODE ITERATIONS`: runs the workload
//!   only, for deterministic instruction counts (`system`, `off`, `sample:N`, `all`).
//!
//! The pool's settings come from the environment (`LOCKHOUND_GUARD_SLOTS` and the rest, see
//! docs/guard.md); the mode is the arm's.

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use lockhound::guard::{parse_mode, GuardAlloc, GuardConfig, Mode};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// `System` while `SYSTEM` is set, else the guard allocator.
struct Switch {
    system: AtomicBool,
    guard: GuardAlloc,
}

// SAFETY: a block goes back to the allocator that made it: `dealloc` asks the guard
// allocator whether it owns the pointer (an address-range test, valid for any pointer), and
// the guard allocator hands everything it does not own to `System` itself.
unsafe impl GlobalAlloc for Switch {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded from our caller.
        unsafe {
            if self.system.load(Relaxed) {
                System.alloc(layout)
            } else {
                self.guard.alloc(layout)
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded from our caller; `System` blocks are never in the guarded region.
        unsafe {
            if self.system.load(Relaxed) && !lockhound::guard::is_guarded(ptr) {
                System.dealloc(ptr, layout)
            } else {
                self.guard.dealloc(ptr, layout)
            }
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded from our caller, as in `dealloc`.
        unsafe {
            if self.system.load(Relaxed) && !lockhound::guard::is_guarded(ptr) {
                System.realloc(ptr, layout, new_size)
            } else {
                self.guard.realloc(ptr, layout, new_size)
            }
        }
    }
}

// Lazy from the environment so `LOCKHOUND_GUARD_SLOTS` and the other pool settings apply
// (read when the pool is first mapped); the mode is always the arm's, set by `select`.
#[global_allocator]
static ALLOC: Switch =
    Switch { system: AtomicBool::new(true), guard: GuardAlloc::from_env_lazy_with(GuardConfig::new()) };

/// `None`: the system allocator.
fn select(mode: Option<Mode>) {
    ALLOC.guard.set_mode(mode.unwrap_or(Mode::Off));
    ALLOC.system.store(mode.is_none(), Relaxed);
}

const ARMS: [(&str, Option<Mode>); 4] = [
    ("system", None),
    ("off", Some(Mode::Off)),
    ("sampled-1000", Some(Mode::Sampled(1000))),
    ("all", Some(Mode::All)),
];

/// Allocations one call of `workload` performs, about: 256 boxes, 128 strings (each formatted
/// into a fresh `String`), a vector grown by pushing (~10 reallocations) and a small map.
const OPS: u64 = 256 + 128 + 10 + 16;

/// Mixed sizes, lifetimes and kinds: boxed slices from 8 bytes to 2 KiB, short-lived
/// strings, a growing vector, a hash map.
fn workload(round: usize) -> usize {
    let mut boxes: Vec<Box<[u8]>> = Vec::with_capacity(256);
    for i in 0..256 {
        let size = 8 << ((i + round) % 9);
        boxes.push(vec![i as u8; size].into_boxed_slice());
    }
    let mut text = 0;
    for i in 0..128 {
        let s = format!("entry-{i}-{round}");
        text += s.len();
    }
    let mut grow = Vec::new();
    for i in 0..1000u32 {
        grow.push(i);
    }
    let mut map = HashMap::new();
    for (i, b) in boxes.iter().take(16).enumerate() {
        map.insert(i, b.len());
    }
    // Free in a different order from allocation.
    boxes.retain(|b| b.len() % 3 != 0);
    boxes.iter().map(|b| b.len()).sum::<usize>() + text + grow.len() + map.len()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("guard");
    group.throughput(Throughput::Elements(OPS));
    for (name, mode) in ARMS {
        select(mode);
        let mut round = 0;
        group.bench_function(BenchmarkId::new("mixed-allocations", name), |b| {
            b.iter(|| {
                round += 1;
                black_box(workload(black_box(round)))
            })
        });
        select(None);
    }
    group.finish();
}

/// Time of `iterations` workload calls in `mode`.
fn timed(mode: Option<Mode>, iterations: usize, round: &mut usize) -> Duration {
    select(mode);
    let start = Instant::now();
    for _ in 0..iterations {
        *round += 1;
        black_box(workload(black_box(*round)));
    }
    let t = start.elapsed();
    select(None);
    t
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Each guard arm against `system` in alternating batches of about 20 ms each: `rounds`
/// rounds (default 41; 5 for `all`), only the arms named in `only` if any.
fn paired(rounds: Option<usize>, only: &[String]) {
    let mut round = 0;
    let per_iter = timed(None, 200, &mut round).as_secs_f64() / 200.0;
    let batch = ((0.02 / per_iter) as usize).max(10);
    println!("paired: batches of {batch} iterations ({:.1} us each on system)", per_iter * 1e6);
    // Arms named `sample:N` run a rate of their own (a higher one measures the cost per
    // guarded block with less noise).
    let extra: Vec<(&str, Option<Mode>)> =
        only.iter().filter_map(|o| Some((o.as_str(), Some(parse_mode(o.as_bytes()).ok()?)))).collect();
    let named = ARMS[1..].iter().filter(|(name, _)| only.iter().any(|o| o == name));
    let arms: Vec<(&str, Option<Mode>)> =
        if only.is_empty() { ARMS[1..].to_vec() } else { named.copied().chain(extra).collect() };
    for (name, mode) in &arms {
        let (default, batch) = if *mode == Some(Mode::All) { (5, (batch / 200).max(2)) } else { (41, batch) };
        let rounds = rounds.unwrap_or(default);
        timed(*mode, batch, &mut round); // warm up (first-touch faults of fresh slots)
        let (mut ratios, mut sys_total, mut arm_total) = (Vec::new(), 0.0, 0.0);
        for r in 0..rounds {
            let (sys, arm) = if r % 2 == 0 {
                let s = timed(None, batch, &mut round);
                (s, timed(*mode, batch, &mut round))
            } else {
                let a = timed(*mode, batch, &mut round);
                (timed(None, batch, &mut round), a)
            };
            ratios.push(arm.as_secs_f64() / sys.as_secs_f64());
            sys_total += sys.as_secs_f64();
            arm_total += arm.as_secs_f64();
        }
        let n = (rounds * batch) as f64;
        // Expected guarded blocks per iteration: about OPS / n allocations are sampled.
        let per_block = match mode {
            Some(Mode::Sampled(every)) => {
                format!(
                    ", about {:.2} us per guarded block",
                    (arm_total - sys_total) / n * 1e6 * f64::from(*every) / OPS as f64
                )
            }
            _ => String::new(),
        };
        println!(
            "{name:>13}: median ratio {:.3}, total ratio {:.3} ({:.2} us vs {:.2} us per iteration, {rounds} rounds{per_block})",
            median(ratios),
            arm_total / sys_total,
            arm_total / n * 1e6,
            sys_total / n * 1e6,
        );
    }
}

/// The workload alone, for instruction counting.
fn workload_only(mode: &str, iterations: usize) {
    let mode = if mode == "system" {
        None
    } else {
        Some(parse_mode(mode.as_bytes()).expect("off, all or sample:N"))
    };
    let mut round = 0;
    black_box(timed(mode, iterations, &mut round));
}

criterion_group!(benches, bench);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "paired") {
        // `paired [ROUNDS] [ARM...]`, e.g. `paired 201 sampled-1000 sample:100`.
        let rest = &args[i + 1..];
        let rounds = rest.iter().find_map(|a| a.parse().ok());
        let only: Vec<String> = rest
            .iter()
            .filter(|a| ARMS.iter().any(|(n, _)| n == a) || parse_mode(a.as_bytes()).is_ok())
            .cloned()
            .collect();
        return paired(rounds, &only);
    }
    if let Some(i) = args.iter().position(|a| a == "workload") {
        let mode = args.get(i + 1).map_or("system", String::as_str);
        let iterations = args.get(i + 2).and_then(|n| n.parse().ok()).unwrap_or(1000);
        return workload_only(mode, iterations);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
