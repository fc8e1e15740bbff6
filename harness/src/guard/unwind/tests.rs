//! The unwinder's tests: the table walk on real and made-up stacks, within their bounds.

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
    unsafe { lockhound_test_enter_parent(p_top, on_parent_stack, &mut runs as *mut OtherStacks as usize) };
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
