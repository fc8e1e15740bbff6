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
//! One capture in [`VERIFY_EVERY`] takes the full unwind anyway and checks the table against
//! it; if `walk`'s own frame ever differs, the table is switched off.
//!
//! Which memory the walk reads: a thread does not run on one stack only. loom and shuttle
//! run each model thread as a coroutine on a stack of its own, and a signal handler may run
//! on the alternate signal stack; a frame whose caller is on another stack (a coroutine's
//! entry, a signal frame) has a "size" that depends on where the two stacks happen to be,
//! so no rule learned there holds anywhere else. The walk therefore works only on the stack
//! the thread was started with (its bounds from pthread, once per thread) and reads only
//! between the current stack pointer and that stack's top, whatever the table says. A
//! capture on any other stack is a full unwind, and nothing is learned from it.

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
    // The stack this thread was started with, `(low, high)`: (0, 0) until its first capture
    // asks pthread, `NO_STACK` if pthread could not say. `const`, no destructor: no
    // allocation, no registration.
    static OWN_STACK: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}
const NO_STACK: (usize, usize) = (usize::MAX, usize::MAX);

/// The calling thread's own stack, `[low, high)`: mapped from the current stack pointer up to
/// `high` whenever the thread runs on it. `None` if unknown, or while thread-local storage
/// is being torn down.
fn own_stack() -> Option<(usize, usize)> {
    let cached = OWN_STACK.try_with(Cell::get).ok()?;
    let bounds = if cached == (0, 0) {
        let asked = ask_pthread().unwrap_or(NO_STACK);
        OWN_STACK.try_with(|c| c.set(asked)).ok()?;
        asked
    } else {
        cached
    };
    (bounds != NO_STACK).then_some(bounds)
}

/// The calling thread's stack as pthread allocated (or, for the main thread, found) it.
/// glibc allocates here (with its own `malloc`, never through Rust's allocator, so the guard
/// allocator is not re-entered); it runs once per thread.
fn ask_pthread() -> Option<(usize, usize)> {
    // SAFETY: `attr` is initialized by a successful pthread_getattr_np before it is read, and
    // destroyed once; `addr` and `size` are plain out-parameters.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let (mut addr, mut size) = (std::ptr::null_mut(), 0usize);
        let got = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
        libc::pthread_attr_destroy(&mut attr);
        let low = addr as usize;
        let high = low.checked_add(size)?;
        (got && low < high).then_some((low, high))
    }
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
    // The top of the stack we are on, if it is this thread's own (see the module's doc).
    let top = own_stack().and_then(|(low, high)| (low <= sp && sp < high).then_some(high));
    let full = match force {
        Force::Auto => CAPTURES.fetch_add(1, Relaxed).is_multiple_of(VERIFY_EVERY) || DISABLED.load(Relaxed),
        #[cfg(test)]
        Force::Full => true,
        #[cfg(test)]
        Force::Fast => return top.and_then(|top| fast(sp, top)),
    };
    if let (false, Some(top)) = (full, top) {
        if let Some(frames) = fast(sp, top) {
            return Some(frames);
        }
    }
    let mut walk = Walk { frames: Frames::EMPTY, cfa: [0; MAX_FRAMES], rbp: [0; MAX_FRAMES] };
    // SAFETY: `collect` matches libgcc's callback type and only writes into `walk`, within
    // bounds (it stops the unwind when the array is full); nothing here allocates.
    unsafe { _Unwind_Backtrace(collect, (&mut walk as *mut Walk).cast()) };
    if let Some(top) = top {
        learn(&walk, sp, top);
    }
    Some(walk.frames)
}

#[inline(always)]
fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads rsp into a register; no memory access, no stack change.
    unsafe { std::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
}

/// The table's walk from `walk`'s own frame, whose stack pointer is `sp`, on this thread's
/// own stack, whose top is `top`.
fn fast(sp: usize, top: usize) -> Option<Frames> {
    if !ENTRY_SET.load(Acquire) {
        return None;
    }
    // Frame 0 is `walk` itself, at the call libgcc would have been called from.
    let (pc, entry_sp) = (ENTRY_IP.load(Relaxed), sp.wrapping_add(ENTRY_OFFSET.load(Relaxed)));
    // SAFETY: `[sp, top)` is the live part of the stack the calling thread runs on (`walk`
    // checked `sp` is in the thread's own stack, whose top is `top`): mapped and readable.
    unsafe { table_walk(pc, entry_sp, sp, top) }
}

/// Walks from the frame at `pc` whose stack pointer is `sp` by the table's rules; `None` as
/// soon as it meets a return address the table cannot vouch for, or a frame that would take
/// it outside `[low, top)`, the only memory it reads.
///
/// # Safety
/// `[low, top)` must be mapped, readable memory for the whole call.
unsafe fn table_walk(mut pc: usize, mut sp: usize, low: usize, top: usize) -> Option<Frames> {
    let mut frames = Frames::EMPTY;
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
        sp = sp.checked_add((rule & DELTA) as usize)?;
        if sp > top || sp < 8 || sp - 8 < low || !sp.is_multiple_of(8) {
            return None;
        }
        // SAFETY: `[sp - 8, sp)` lies in `[low, top)`, readable (the caller's promise), and is
        // aligned. With a right table (`walk`'s frame size, then each frame's as libgcc
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

/// Records what a full unwind from `sp`, on this thread's own stack whose top is `top`, saw;
/// flags any disagreement with the table.
///
/// libgcc's `_Unwind_GetCFA` for frame `k` is that frame's stack pointer at its call (the
/// CFA of frame `k - 1`), so frame `k`'s own CFA is `cfa[k + 1]` and its return address,
/// `pcs[k + 1]`, sits just below that.
fn learn(walk: &Walk, sp: usize, top: usize) {
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
            // Only a word of this stack is read: a CFA elsewhere (a frame whose caller runs
            // on another stack) is never walked to.
            let ra = cfa[k + 1].wrapping_sub(8);
            let on_stack = ra >= sp && cfa[k + 1] <= top && ra.is_multiple_of(8);
            // SAFETY: `[ra, ra + 8)` lies in `[sp, top)`, the live part of the thread's own
            // stack (`walk` learns only from a capture made on it), and is aligned.
            if on_stack && unsafe { (ra as *const usize).read() } == pcs[k + 1] {
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
    #[cfg_attr(miri, ignore)] // libgcc and inline assembly
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

    /// Fake return addresses, far from any code, for rules made up by the tests below.
    const FAKE: usize = 0x0bad_0000_0000;

    /// The walk itself on a made-up stack of eight words: it follows the rules while they
    /// stay on the stack and stops, without reading, at one that would leave it, whichever
    /// way. Under miri this checks that no read ever falls outside the stack.
    #[test]
    fn table_walk_reads_only_its_stack() {
        let (a, b, c, far, under) = (FAKE + 0x10, FAKE + 0x20, FAKE + 0x30, FAKE + 0x40, FAKE + 0x50);
        record(a, KNOWN | RA_OK | 16, 0);
        record(b, KNOWN | RA_OK | 24, 0);
        record(c, KNOWN | TERMINAL | 8, 0);
        record(far, KNOWN | RA_OK | 64, 0);
        record(under, KNOWN | RA_OK | 8, 0);
        // Frame a at word 0, its caller's return address at word 1 (b), b's at word 4 (c).
        let stack: Box<[usize; 8]> = Box::new([0, b, 0, 0, c, 0, 0, far]);
        let low = stack.as_ptr() as usize;
        let top = low + 8 * 8;
        // SAFETY: `[low, top)` is the boxed array, alive until the end of the test.
        let walked = unsafe { table_walk(a, low, low, top) }.expect("a, b and c are on the stack");
        assert_eq!(walked.as_slice(), [a, b, c]);
        // From word 6, `far`'s caller is 64 bytes up: past the top. Nothing is read there.
        // SAFETY: as above.
        assert_eq!(unsafe { table_walk(far, low + 6 * 8, low, top) }, None);
        // From word 0, `far`'s return address is word 7, the last word (read: `far` again),
        // whose caller would be past the top.
        // SAFETY: as above.
        assert_eq!(unsafe { table_walk(far, low, low, top) }, None);
        // A walk that starts two words under the stack would read the word just below it.
        // SAFETY: as above.
        assert_eq!(unsafe { table_walk(under, low - 16, low, top) }, None);
        // A misaligned frame is never read either.
        record(FAKE + 0x60, KNOWN | RA_OK | 8, 0);
        // SAFETY: as above.
        assert_eq!(unsafe { table_walk(FAKE + 0x60, low + 3, low, top) }, None);
    }

    // `lockhound_test_switch_stack(top, f, arg)` calls `f(arg)` with the stack pointer at
    // `top` (16-aligned) and returns, the way a coroutine library enters a stack of its own: a
    // frame-pointer frame whose CFA is on the caller's stack, so unwinders go on from the new
    // stack back to the old one. The same return address thus has a frame "size" that
    // depends on where the two stacks are. `lockhound_test_enter_parent` is the same code at
    // another address, so that entering the parent stack teaches nothing about the other.
    #[cfg(not(miri))]
    macro_rules! switch_stack {
        ($name:literal, $ret:literal) => {
            std::arch::global_asm!(
                concat!(".pushsection .text.", $name, ",\"ax\",@progbits"),
                concat!(".globl ", $name),
                concat!(".type ", $name, ", @function"),
                ".p2align 4",
                concat!($name, ":"),
                ".cfi_startproc",
                "push rbp",
                ".cfi_def_cfa_offset 16",
                ".cfi_offset rbp, -16",
                "mov rbp, rsp",
                ".cfi_def_cfa_register rbp",
                "mov rsp, rdi",
                "mov rdi, rdx",
                "call rsi",
                concat!(".globl ", $ret),
                concat!($ret, ":"),
                "mov rsp, rbp",
                "pop rbp",
                ".cfi_def_cfa rsp, 8",
                "ret",
                ".cfi_endproc",
                concat!(".size ", $name, ", . - ", $name),
                ".popsection",
            );
        };
    }
    #[cfg(not(miri))]
    switch_stack!("lockhound_test_switch_stack", "lockhound_test_switch_return");
    #[cfg(not(miri))]
    switch_stack!("lockhound_test_enter_parent", "lockhound_test_enter_parent_return");

    #[cfg(not(miri))]
    extern "C" {
        fn lockhound_test_switch_stack(top: usize, f: extern "C" fn(usize), arg: usize);
        fn lockhound_test_enter_parent(top: usize, f: extern "C" fn(usize), arg: usize);
        /// The return address of the call in `lockhound_test_switch_stack`.
        static lockhound_test_switch_return: u8;
    }

    /// The captures to make, each on its own stack, and what they returned.
    #[cfg(not(miri))]
    struct OtherStacks {
        runs: [(usize, Force); 4],
        next: usize,
        results: [Option<Frames>; 4],
    }

    /// Runs on the parent stack: enters each child stack in turn from one call site, so every
    /// run shares the frames below its stack.
    #[cfg(not(miri))]
    extern "C" fn on_parent_stack(arg: usize) {
        // SAFETY: `arg` is the `OtherStacks` the test passed, alive and borrowed by nobody
        // else until the switch returns.
        let runs = unsafe { &mut *(arg as *mut OtherStacks) };
        let mut i = 0;
        while i < runs.runs.len() {
            runs.next = i;
            // SAFETY: the top is the 16-aligned end of a mapped, writable child stack.
            unsafe { lockhound_test_switch_stack(runs.runs[i].0, on_child_stack, arg) };
            i = std::hint::black_box(i) + 1;
        }
    }

    #[cfg(not(miri))]
    extern "C" fn on_child_stack(arg: usize) {
        // SAFETY: as in `on_parent_stack`.
        let runs = unsafe { &mut *(arg as *mut OtherStacks) };
        let i = runs.next;
        runs.results[i] = depth(2, runs.runs[i].1);
    }

    #[cfg(not(miri))]
    fn page_size() -> usize {
        // SAFETY: sysconf has no preconditions.
        unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
    }

    /// Captures on stacks that are not the thread's own, entered as a coroutine's are, laid
    /// out in one reservation, low to high: stack B, a guard page, stack A, 40 inaccessible
    /// pages, the parent stack P. A full unwind on A crosses to P at the switch, where the
    /// frame "size" is the distance from A to P; on B that size lands in the inaccessible
    /// gap. A table walk that trusted it (the old unwinder did: it was bounded only by the
    /// highest CFA the thread had seen, P's) faulted there; now a capture off the thread's
    /// own stack is libgcc's, the same frames a full unwind gives, and teaches nothing.
    #[test]
    #[cfg(not(miri))] // inline assembly, libgcc and PROT_NONE mappings
    fn captures_on_a_coroutine_style_stack_take_libgcc() {
        const STACK: usize = 16;
        let page = page_size();
        let pages = 1 + STACK + 1 + STACK + 40 + STACK + 1;
        // SAFETY: a fresh anonymous mapping (checked), made partly accessible below, used
        // only by this test and unmapped at its end, when no stack in it is in use.
        let base = unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                pages * page,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(p, libc::MAP_FAILED);
            p as usize
        };
        let b = base + page;
        let a = b + (STACK + 1) * page;
        let p = a + (STACK + 40) * page;
        for start in [a, b, p] {
            // SAFETY: page-aligned ranges inside the mapping above.
            assert_eq!(
                unsafe { libc::mprotect(start as *mut _, STACK * page, libc::PROT_READ | libc::PROT_WRITE) },
                0
            );
        }
        let (a_top, b_top, p_top) = (a + STACK * page, b + STACK * page, p + STACK * page);
        depth(2, Force::Full); // the table knows `depth` and `walk` from the thread's own stack
        let mut runs = OtherStacks {
            runs: [(a_top, Force::Full), (b_top, Force::Fast), (b_top, Force::Full), (b_top, Force::Auto)],
            next: 0,
            results: [None; 4],
        };
        // SAFETY: `p_top` is the 16-aligned end of the writable parent stack; `runs` outlives
        // the call.
        unsafe {
            lockhound_test_enter_parent(p_top, on_parent_stack, &mut runs as *mut OtherStacks as usize)
        };
        // SAFETY: the mapping is ours and no longer in use.
        unsafe { libc::munmap(base as *mut _, pages * page) };

        let switch = std::ptr::addr_of!(lockhound_test_switch_return) as usize;
        let on_a = runs.results[0].expect("libgcc always answers");
        assert!(on_a.as_slice().contains(&switch), "libgcc crossed from A to P: {:x?}", on_a.as_slice());
        assert_eq!(runs.results[1], None, "the table walks no stack but the thread's own");
        let (full, auto) = (runs.results[2].unwrap(), runs.results[3].unwrap());
        assert_eq!(auto.as_slice(), full.as_slice(), "a capture on B is libgcc's");
        assert_eq!(lookup(switch), (0, 0), "nothing learned off the thread's own stack");
    }

    /// What the signal handler below captured, and its stack pointer.
    #[cfg(not(miri))]
    static ON_SIGNAL: std::sync::Mutex<Option<(usize, Vec<Option<Frames>>)>> = std::sync::Mutex::new(None);

    #[cfg(not(miri))]
    extern "C" fn on_signal(_sig: libc::c_int) {
        let forces = [Force::Full, Force::Fast, Force::Full, Force::Auto, Force::Auto];
        let mut seen = Vec::with_capacity(forces.len());
        let mut i = 0;
        while i < forces.len() {
            seen.push(depth(2, forces[i]));
            i = std::hint::black_box(i) + 1;
        }
        *ON_SIGNAL.lock().unwrap() = Some((stack_pointer(), seen));
    }

    /// Captures in a signal handler that runs on an alternate signal stack (between
    /// inaccessible pages): no fault, the table does not walk it, and a capture there is
    /// libgcc's (which unwinds through the signal frame onto the interrupted stack).
    #[test]
    #[cfg(not(miri))] // signals, libgcc and PROT_NONE mappings
    fn captures_in_a_signal_handler_on_the_alternate_stack() {
        std::thread::spawn(|| {
            depth(2, Force::Full);
            let (page, pages) = (page_size(), 16);
            // SAFETY: a fresh anonymous mapping (checked) with a guard page at each end, used
            // only as this thread's alternate signal stack while the signal is handled, and
            // unmapped after it has been put back.
            unsafe {
                let region = libc::mmap(
                    std::ptr::null_mut(),
                    (pages + 2) * page,
                    libc::PROT_NONE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                assert_ne!(region, libc::MAP_FAILED);
                let alt = (region as usize + page) as *mut libc::c_void;
                assert_eq!(libc::mprotect(alt, pages * page, libc::PROT_READ | libc::PROT_WRITE), 0);
                let stack = libc::stack_t { ss_sp: alt, ss_flags: 0, ss_size: pages * page };
                let mut old_stack: libc::stack_t = std::mem::zeroed();
                assert_eq!(libc::sigaltstack(&stack, &mut old_stack), 0);
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as usize;
                action.sa_flags = libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                let mut old_action: libc::sigaction = std::mem::zeroed();
                assert_eq!(libc::sigaction(libc::SIGUSR2, &action, &mut old_action), 0);
                // Delivered to this thread before pthread_kill returns.
                assert_eq!(libc::pthread_kill(libc::pthread_self(), libc::SIGUSR2), 0);
                libc::sigaction(libc::SIGUSR2, &old_action, std::ptr::null_mut());
                libc::sigaltstack(&old_stack, std::ptr::null_mut());
                libc::munmap(region, (pages + 2) * page);
                let (sp, seen) = ON_SIGNAL.lock().unwrap().take().expect("the handler ran");
                assert!(
                    (alt as usize..alt as usize + pages * page).contains(&sp),
                    "handled on the alternate stack"
                );
                assert_eq!(seen[1], None, "the table does not walk the signal stack");
                let full = seen[0].expect("libgcc always answers");
                assert!(full.len > 4, "{:x?}", full.as_slice());
                for frames in &seen[2..] {
                    assert_eq!(frames.map(|f| f.as_slice().to_vec()), Some(full.as_slice().to_vec()));
                }
            }
        })
        .join()
        .unwrap();
    }
}
