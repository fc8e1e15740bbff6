//! The guard allocator's cost on an allocation-heavy workload, against the system allocator.
//! One global allocator per binary, so one `GuardAlloc` is installed and its mode switched
//! between measurements: `off` is the baseline (the system allocator plus one relaxed load).
//!
//! `cargo bench --bench guard -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lockhound::guard::{GuardAlloc, GuardConfig, Mode};
use std::collections::HashMap;
use std::hint::black_box;

#[global_allocator]
static ALLOC: GuardAlloc = GuardAlloc::new(GuardConfig::new());

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
    for (name, mode) in [("system", Mode::Off), ("sampled-1000", Mode::Sampled(1000)), ("all", Mode::All)] {
        ALLOC.set_mode(mode);
        let mut round = 0;
        group.bench_function(BenchmarkId::new("mixed-allocations", name), |b| {
            b.iter(|| {
                round += 1;
                black_box(workload(black_box(round)))
            })
        });
        ALLOC.set_mode(Mode::Off);
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
