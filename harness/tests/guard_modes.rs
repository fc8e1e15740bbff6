//! The allocator in this process, without faults: off behaves as the system allocator, all
//! and sampled modes guard what they should, alignment is honoured, realloc keeps contents
//! whichever side of the guard it moves. One test, run in order, because the mode is global.

#![cfg(target_os = "linux")]

use lockhound::guard::{is_guarded, GuardAlloc, GuardConfig, Mode, Side};
use std::alloc::{alloc, dealloc, realloc, Layout};

#[global_allocator]
static ALLOC: GuardAlloc = GuardAlloc::new(GuardConfig::new().side(Side::Random));

fn filled(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

#[test]
fn modes_alignment_and_realloc() {
    // Off: everything from the system allocator, nothing guarded.
    assert_eq!(ALLOC.mode(), Mode::Off);
    let plain: Vec<Vec<u8>> = (0..1000).map(|i| filled(i % 300 + 1, i as u8)).collect();
    assert!(plain.iter().all(|v| !is_guarded(v.as_ptr())));
    for (i, v) in plain.iter().enumerate() {
        assert_eq!(*v, filled(i % 300 + 1, i as u8));
    }

    // All: small blocks are guarded, with their alignment.
    ALLOC.set_mode(Mode::All);
    let b = Box::new([7u8; 100]);
    assert!(is_guarded(b.as_ptr()));
    for (size, align) in [(1, 1), (13, 8), (24, 16), (100, 64), (3000, 4096), (5000, 8)] {
        let layout = Layout::from_size_align(size, align).unwrap();
        // SAFETY: non-zero size; the block is written within bounds and freed with its layout.
        unsafe {
            let p = alloc(layout);
            assert!(!p.is_null());
            assert_eq!(p as usize % align, 0, "alignment {align} for size {size}");
            assert!(is_guarded(p), "size {size} align {align} should be guarded");
            p.write_bytes(0xab, size);
            dealloc(p, layout);
        }
    }
    // Over-aligned (beyond a page) and oversized blocks fall back to the system allocator.
    let big = Layout::from_size_align(64, 1 << 16).unwrap();
    // SAFETY: as above.
    unsafe {
        let p = alloc(big);
        assert_eq!(p as usize % (1 << 16), 0);
        assert!(!is_guarded(p));
        dealloc(p, big);
    }
    let huge = vec![1u8; 1 << 20];
    assert!(!is_guarded(huge.as_ptr()));

    // realloc: guarded to guarded (growing and shrinking), guarded to system when too big.
    let mut v = filled(10, 3);
    assert!(is_guarded(v.as_ptr()));
    v.extend(filled(30_000, 4));
    assert!(is_guarded(v.as_ptr()));
    let mut expect = filled(10, 3);
    expect.extend(filled(30_000, 4));
    assert_eq!(v, expect);
    v.truncate(17);
    v.shrink_to_fit();
    assert!(is_guarded(v.as_ptr()));
    assert_eq!(v[..], expect[..17]);
    v.extend(filled(200_000, 5));
    assert!(!is_guarded(v.as_ptr()), "past the slot size it moves to the system allocator");
    assert_eq!(v[..17], expect[..17]);
    assert_eq!(v[17..], filled(200_000, 5)[..]);

    // Switching off keeps earlier guarded blocks valid; freeing and reallocating them works.
    let keep = filled(500, 9);
    assert!(is_guarded(keep.as_ptr()));
    ALLOC.set_mode(Mode::Off);
    let layout = Layout::from_size_align(500, 1).unwrap();
    let moved = {
        let mut keep = std::mem::ManuallyDrop::new(keep);
        // SAFETY: `keep`'s buffer came from this allocator with this layout (capacity 500).
        unsafe { realloc(keep.as_mut_ptr(), layout, 800) }
    };
    assert!(!is_guarded(moved));
    // SAFETY: `moved` holds at least the 500 copied bytes; freed with its new layout.
    unsafe {
        assert_eq!(std::slice::from_raw_parts(moved, 500), &filled(500, 9)[..]);
        dealloc(moved, Layout::from_size_align(800, 1).unwrap());
    }
    drop(b);
    drop(plain);

    // Sampled: about one block in n is guarded.
    ALLOC.set_mode(Mode::Sampled(10));
    let blocks: Vec<Box<[u8; 32]>> = (0..5000).map(|i| Box::new([i as u8; 32])).collect();
    let guarded = blocks.iter().filter(|b| is_guarded(b.as_ptr())).count();
    assert!((300..=700).contains(&guarded), "{guarded} of 5000 guarded at 1 in 10");
    assert!(blocks.iter().enumerate().all(|(i, b)| b[31] == i as u8));
    drop(blocks);
    ALLOC.set_mode(Mode::Off);
}
