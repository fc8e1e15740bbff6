//! Stack capture for guarded blocks on x86_64: libgcc's DWARF unwinder, made cheap by
//! remembering what it found.
//!
//! Without frame pointers, finding a caller's frame takes the DWARF call-frame information:
//! libgcc looks up the FDE of every return address and interprets its CFA program, about
//! 900 instructions a frame. But at a given return address in optimized x86_64 code the
//! frame's canonical frame address (CFA, the caller's stack pointer) is almost always
//! `rsp + k` for a constant `k`: the frame size is a property of the return address alone,
//! and the next return address sits at `CFA - 8`. Each full (libgcc) unwind records the size
//! per return address in a fixed table; a later capture walks the stack with the table, a
//! lookup, a load and an add per frame, and falls back to libgcc the moment it meets a
//! return address the table does not vouch for. The output is the same list of return
//! addresses either way (the unit test and `guard_faults` check it).
//!
//! What the table does not vouch for: a return address never seen; one whose next return
//! address was not at `CFA - 8` (signal frames); one seen with two different frame sizes or
//! kinds. Frame-pointer frames (`CFA = rbp + 16`, as in std) have a constant size too,
//! unless the function realigns its stack or allocates on it dynamically; the walk goes on
//! from one only to a caller libgcc saw there (a per-address Bloom filter), so a frame of
//! unexpected size all but certainly ends the walk rather than producing a wrong frame.
//! Whatever the table says, the walk reads only this thread's stack between its current
//! stack pointer and the highest CFA libgcc has computed on this thread. One capture in
//! [`VERIFY_EVERY`] takes the full unwind anyway and checks the table against it; if
//! `walk`'s own frame ever differs, the table is switched off.

use super::report::{Frames, MAX_FRAMES};
use std::cell::Cell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};

/// libgcc's unwinder, which every Rust program on Linux links (std unwinds with it).
#[repr(C)]
struct Context {
    _opaque: [u8; 0],
}
type TraceFn = extern "C" fn(*mut Context, *mut c_void) -> i32;
extern "C" {
    fn _Unwind_Backtrace(trace: TraceFn, arg: *mut c_void) -> i32;
    fn _Unwind_GetIP(ctx: *mut Context) -> usize;
    fn _Unwind_GetCFA(ctx: *mut Context) -> usize;
    fn _Unwind_GetGR(ctx: *mut Context, index: i32) -> usize;
}
const URC_NO_REASON: i32 = 0;
const URC_FAILURE: i32 = 9;
/// DWARF register number of `rbp` on x86_64.
const RBP: i32 = 6;

/// A full unwind cross-checks the table once in this many captures.
const VERIFY_EVERY: u32 = 64;

// A rule: 0 for unknown, else KNOWN | flags | the frame size (bytes from this frame's stack
// pointer to its CFA, which is the caller's stack pointer) in the low bits.
const KNOWN: u32 = 1 << 31;
/// Never walk past (or stop at) this return address without libgcc.
const NO_FAST: u32 = 1 << 30;
/// libgcc's unwind ended at this frame (no caller: `_start`, `clone3`).
const TERMINAL: u32 = 1 << 29;
/// The next return address was seen at `CFA - 8`.
const RA_OK: u32 = 1 << 28;
/// A frame-pointer frame (`CFA = rbp + 16`): its size is constant unless the function
/// realigns its stack or allocates on it dynamically, so the walk goes on only to callers
/// libgcc saw there (a 64-bit Bloom filter of them per return address).
const FRAME_PTR: u32 = 1 << 27;
/// libgcc's unwind ended after this frame with a null return address.
const NULL_NEXT: u32 = 1 << 26;
const DELTA: u32 = (1 << 26) - 1;
/// Largest frame the table records.
const MAX_DELTA: usize = 1 << 20;

fn caller_bit(pc: usize) -> u64 {
    1 << (pc.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 58)
}

const TABLE_SLOTS: usize = 1 << 12;
const PROBES: usize = 8;

struct Slot {
    pc: AtomicUsize,
    rule: AtomicU32,
    callers: AtomicU64,
}

// Zero-initialized statics in .bss: no allocation, usable from inside the allocator.
static TABLE: [Slot; TABLE_SLOTS] =
    [const { Slot { pc: AtomicUsize::new(0), rule: AtomicU32::new(0), callers: AtomicU64::new(0) } };
        TABLE_SLOTS];
/// Frame 0 of a full unwind: the return address into `walk` and `walk`'s stack pointer there
/// minus the one read at its start; set by the first full unwind.
static ENTRY_SET: AtomicBool = AtomicBool::new(false);
static ENTRY_OFFSET: AtomicUsize = AtomicUsize::new(0);
static ENTRY_IP: AtomicUsize = AtomicUsize::new(0);
/// Set if `walk`'s own frame ever looks different: then every capture is a full unwind.
static DISABLED: AtomicBool = AtomicBool::new(false);
static CAPTURES: AtomicU32 = AtomicU32::new(0);

thread_local! {
    // The highest CFA a full unwind found on this thread: the stack is mapped from the
    // current stack pointer up to there. `const`, no destructor: no allocation, no
    // registration. 0 until this thread's first full unwind.
    static STACK_HIGH: Cell<usize> = const { Cell::new(0) };
}

/// What a full unwind saw, frame by frame.
struct Walk {
    frames: Frames,
    cfa: [usize; MAX_FRAMES],
    rbp: [usize; MAX_FRAMES],
}

extern "C" fn collect(ctx: *mut Context, arg: *mut c_void) -> i32 {
    // SAFETY: `arg` is the `Walk` that `walk` passed to `_Unwind_Backtrace`, alive and
    // not otherwise borrowed during the call; `ctx` is libgcc's context for this frame.
    let (walk, ip, cfa, rbp) = unsafe {
        (&mut *(arg as *mut Walk), _Unwind_GetIP(ctx), _Unwind_GetCFA(ctx), _Unwind_GetGR(ctx, RBP))
    };
    let i = walk.frames.len;
    walk.frames.pcs[i] = ip;
    walk.cfa[i] = cfa;
    walk.rbp[i] = rbp;
    walk.frames.len += 1;
    if walk.frames.len < MAX_FRAMES {
        URC_NO_REASON
    } else {
        URC_FAILURE
    }
}

/// How `walk` gets its frames.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Force {
    /// The table when it can, libgcc (and learning) otherwise or when verifying.
    Auto,
    /// libgcc, and learn.
    #[cfg(test)]
    Full,
    /// The table only: `None` where `Auto` would fall back.
    #[cfg(test)]
    Fast,
}

/// The calling thread's return addresses, innermost first (frame 0 is in `walk`; the parent
/// strips the allocator's frames once it has names).
#[inline]
pub(crate) fn capture() -> Frames {
    walk(Force::Auto).unwrap_or(Frames::EMPTY)
}

#[inline(never)]
fn walk(force: Force) -> Option<Frames> {
    let sp = stack_pointer();
    let full = match force {
        Force::Auto => CAPTURES.fetch_add(1, Relaxed).is_multiple_of(VERIFY_EVERY) || DISABLED.load(Relaxed),
        #[cfg(test)]
        Force::Full => true,
        #[cfg(test)]
        Force::Fast => return fast(sp),
    };
    if !full {
        if let Some(frames) = fast(sp) {
            return Some(frames);
        }
    }
    let mut walk = Walk { frames: Frames::EMPTY, cfa: [0; MAX_FRAMES], rbp: [0; MAX_FRAMES] };
    // SAFETY: `collect` matches libgcc's callback type and only writes into `walk`, within
    // bounds (it stops the unwind when the array is full); nothing here allocates.
    unsafe { _Unwind_Backtrace(collect, (&mut walk as *mut Walk).cast()) };
    learn(&walk, sp);
    // libgcc read each frame's return address just below `cfa[k]` (k >= 1), except a final
    // null one it may have made up (`_start`'s is undefined rather than stored).
    let mut n = walk.frames.len;
    if n > 0 && walk.frames.pcs[n - 1] == 0 {
        n -= 1;
    }
    let top = walk.cfa[..n].iter().copied().max().unwrap_or(0);
    let _ = STACK_HIGH.try_with(|h| h.set(h.get().max(top)));
    Some(walk.frames)
}

#[inline(always)]
fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads rsp into a register; no memory access, no stack change.
    unsafe { std::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
}

/// The table's walk; `None` as soon as it meets a return address it cannot vouch for.
fn fast(sp: usize) -> Option<Frames> {
    if !ENTRY_SET.load(Acquire) {
        return None;
    }
    let high = STACK_HIGH.try_with(Cell::get).unwrap_or(0);
    let mut frames = Frames::EMPTY;
    // Frame 0 is `walk` itself, at the call libgcc would have been called from.
    let mut pc = ENTRY_IP.load(Relaxed);
    let mut sp = sp.wrapping_add(ENTRY_OFFSET.load(Relaxed));
    loop {
        let (rule, callers) = lookup(pc);
        if rule & KNOWN == 0 || rule & NO_FAST != 0 {
            return None;
        }
        frames.pcs[frames.len] = pc;
        frames.len += 1;
        if frames.len == MAX_FRAMES || rule & TERMINAL != 0 {
            return Some(frames);
        }
        if rule & NULL_NEXT != 0 {
            frames.pcs[frames.len] = 0; // libgcc's last frame: a null return address
            frames.len += 1;
            return Some(frames);
        }
        if rule & RA_OK == 0 {
            return None;
        }
        // The caller's stack pointer is this frame's CFA; the return address is just below.
        sp += (rule & DELTA) as usize;
        if sp > high {
            return None;
        }
        // SAFETY: `sp - 8` lies in this thread's stack, which is mapped from our own frame
        // (below `sp`) up to `high`, the highest CFA libgcc computed (and read below) on this
        // thread. With a right table (`walk`'s frame size, then each frame's as libgcc
        // measured it at that very return address) it is the word holding the return address.
        pc = unsafe { ((sp - 8) as *const usize).read() };
        if rule & FRAME_PTR != 0 && callers & caller_bit(pc) == 0 {
            return None;
        }
        if pc == 0 {
            // libgcc reports a null return address as a last frame, and stops.
            frames.pcs[frames.len] = 0;
            frames.len += 1;
            return Some(frames);
        }
    }
}

/// Records what a full unwind saw; flags any disagreement with the table.
///
/// libgcc's `_Unwind_GetCFA` for frame `k` is that frame's stack pointer at its call (the
/// CFA of frame `k - 1`), so frame `k`'s own CFA is `cfa[k + 1]` and its return address,
/// `pcs[k + 1]`, sits just below that.
fn learn(walk: &Walk, sp: usize) {
    let n = walk.frames.len;
    let (pcs, cfa) = (&walk.frames.pcs, &walk.cfa);
    if n < 2 {
        return;
    }
    // Frame 0 is `walk`: its stack pointer at the call to libgcc is a fixed distance from the
    // one read at the same instruction (the same, in practice).
    let offset = cfa[0].wrapping_sub(sp);
    let small = offset < MAX_DELTA || offset.wrapping_neg() < MAX_DELTA;
    if !ENTRY_SET.load(Acquire) {
        if small && !DISABLED.load(Relaxed) {
            ENTRY_IP.store(pcs[0], Relaxed);
            ENTRY_OFFSET.store(offset, Relaxed);
            ENTRY_SET.store(true, Release);
        }
    } else if ENTRY_OFFSET.load(Relaxed) != offset || ENTRY_IP.load(Relaxed) != pcs[0] {
        DISABLED.store(true, Relaxed);
    }
    for k in 0..n {
        let mut rule = KNOWN;
        if k + 2 == n && pcs[k + 1] == 0 {
            // libgcc found no return address above this frame (`_start`).
            rule |= NULL_NEXT;
        } else if k + 1 < n {
            let delta = cfa[k + 1].wrapping_sub(cfa[k]);
            if delta == 0 || delta >= MAX_DELTA || delta % 8 != 0 {
                rule |= NO_FAST;
            } else {
                rule |= delta as u32;
            }
            if cfa[k + 1] == walk.rbp[k].wrapping_add(16) {
                rule |= FRAME_PTR;
            }
            // SAFETY: `cfa[k + 1]` is libgcc's CFA of a live frame of this thread, and libgcc
            // read the (non-null) return address `pcs[k + 1]` from the word below it.
            if unsafe { ((cfa[k + 1] - 8) as *const usize).read() } == pcs[k + 1] {
                rule |= RA_OK;
            } else {
                rule |= NO_FAST;
            }
        } else if n < MAX_FRAMES {
            rule |= TERMINAL;
        }
        let caller = if rule & FRAME_PTR != 0 { caller_bit(pcs[k + 1]) } else { 0 };
        record(pcs[k], rule, caller);
    }
}

fn hash(pc: usize) -> usize {
    (pc.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) % TABLE_SLOTS
}

/// The rule and callers recorded for a return address; `(0, 0)` if unknown.
fn lookup(pc: usize) -> (u32, u64) {
    if pc == 0 {
        return (0, 0);
    }
    let h = hash(pc);
    for i in 0..PROBES {
        let slot = &TABLE[(h + i) % TABLE_SLOTS];
        match slot.pc.load(Relaxed) {
            p if p == pc => return (slot.rule.load(Acquire), slot.callers.load(Relaxed)),
            0 => return (0, 0),
            _ => {}
        }
    }
    (0, 0)
}

/// Adds an observation. Concurrent learners race benignly: the first rule stored for a
/// return address stays, and any later one that disagrees marks it `NO_FAST` for good.
fn record(pc: usize, rule: u32, caller: u64) {
    if pc == 0 {
        return;
    }
    let h = hash(pc);
    for i in 0..PROBES {
        let slot = &TABLE[(h + i) % TABLE_SLOTS];
        let owner = match slot.pc.compare_exchange(0, pc, Relaxed, Relaxed) {
            Ok(_) => pc,
            Err(p) => p,
        };
        if owner != pc {
            continue;
        }
        // Callers first: a reader that sees the rule (acquire) sees them too.
        slot.callers.fetch_or(caller, Release);
        let old = match slot.rule.compare_exchange(0, rule, Release, Relaxed) {
            Ok(_) => return,
            Err(old) => old,
        };
        // The same return address is the same place in the same function: any difference
        // in frame size or kind means the rule does not hold there. (The last frame of a
        // full-length unwind comes without a size: it only adds that the address is real.)
        let flags = TERMINAL | RA_OK | NULL_NEXT;
        let sized = old & DELTA != 0 && rule & DELTA != 0;
        let disagree = (sized && (old ^ rule) & (DELTA | FRAME_PTR) != 0)
            || ((old | rule) & flags).count_ones() > 1
            || rule & NO_FAST != 0;
        if disagree {
            slot.rule.fetch_or(NO_FAST, Relaxed);
        } else if rule & !old != 0 {
            slot.rule.fetch_or(rule, Release);
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn depth(n: usize, force: Force) -> Option<Frames> {
        if n == 0 {
            walk(force)
        } else {
            let f = depth(std::hint::black_box(n - 1), force);
            std::hint::black_box(n);
            f
        }
    }

    /// Once libgcc has shown it a stack, the table's walk returns the same frames.
    ///
    /// "The same stack" includes this function's own return address into `depth`, so every
    /// walk must come from one call instruction. A loop over a constant array of five is
    /// fully unrolled by an optimizing build (`--release`; even with an opaque bound, since
    /// indexing the array caps the trip count) into five calls at five return addresses,
    /// and the table rightly refuses the ones libgcc never saw. An opaque induction step
    /// leaves the compiler no trip count to unroll by, so the loop keeps a single call site
    /// at every optimization level; the identical full walks below check that it did.
    #[test]
    fn fast_walk_matches_libgcc() {
        let forces = [Force::Full, Force::Fast, Force::Full, Force::Fast, Force::Auto];
        let mut seen = Vec::with_capacity(forces.len());
        let mut i = 0;
        while i < forces.len() {
            let force = forces[i];
            seen.push((force, depth(3, force)));
            i = std::hint::black_box(i) + 1;
        }
        let full = seen[0].1.expect("libgcc always answers");
        assert!(full.len > 5, "{:?}", full.as_slice());
        assert!(!DISABLED.load(Relaxed));
        let second = seen[2].1.expect("libgcc always answers");
        assert_eq!(second.as_slice(), full.as_slice(), "two full walks from one call site differ");
        for (force, frames) in &seen {
            let frames = frames.unwrap_or_else(|| panic!("{force:?} fell back on a learned stack"));
            assert_eq!(frames.as_slice(), full.as_slice(), "{force:?}");
        }
    }

    /// An unknown stack is not walked from the table.
    #[test]
    fn unknown_return_address_falls_back() {
        assert_eq!(lookup(0x10), (0, 0));
        record(0x20, KNOWN | RA_OK | 48, 0);
        assert_eq!(lookup(0x20), (KNOWN | RA_OK | 48, 0));
        record(0x20, KNOWN | RA_OK | 64, 0);
        assert_ne!(lookup(0x20).0 & NO_FAST, 0, "disagreeing frame sizes are never trusted");
        record(0x28, KNOWN | TERMINAL | 48, 0);
        record(0x28, KNOWN | RA_OK | 48, 0);
        assert_ne!(lookup(0x28).0 & NO_FAST, 0, "an end that has a caller is not an end");
    }
}
