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
mod tests;
