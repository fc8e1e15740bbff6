//! Allocation and free stacks: raw return addresses, captured only for guarded blocks and
//! never symbolized here (the parent does that). A thread-local flag makes the allocator's
//! slow path non-reentrant: whatever runs inside it and allocates gets the system allocator.

use super::report::Frames;
#[cfg(not(target_arch = "x86_64"))]
use super::report::MAX_FRAMES;
use std::cell::Cell;

thread_local! {
    // `const` and no destructor: accessing it never allocates or registers anything.
    static BUSY: Cell<bool> = const { Cell::new(false) };
}

/// Held while the calling thread is inside the guarded slow path.
pub(crate) struct Reentry(());

impl Reentry {
    /// `None` if this thread is already inside the slow path (or is being torn down).
    pub(crate) fn enter() -> Option<Reentry> {
        BUSY.try_with(|b| !b.replace(true)).ok().filter(|&first| first).map(|_| Reentry(()))
    }
}

impl Drop for Reentry {
    fn drop(&mut self) {
        let _ = BUSY.try_with(|b| b.set(false));
    }
}

/// The calling thread's return addresses, innermost first (allocator frames included; the
/// parent strips them once it has names). On x86_64, libgcc's unwinder behind a table of
/// what it found (see `unwind`).
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn capture() -> Frames {
    super::unwind::capture()
}

/// The calling thread's return addresses, innermost first (allocator frames included; the
/// parent strips them once it has names).
#[cfg(not(target_arch = "x86_64"))]
#[inline(never)]
pub(crate) fn capture() -> Frames {
    let mut frames = Frames::EMPTY;
    // SAFETY: `trace_unsynchronized` is unsafe only because some backends (dbghelp on
    // Windows) are not thread-safe; on Linux it is `_Unwind_Backtrace`, which is. The
    // callback writes into a fixed array and never allocates, so it cannot re-enter the
    // allocator; it stops when the array is full.
    unsafe {
        backtrace::trace_unsynchronized(|frame| {
            frames.pcs[frames.len] = frame.ip() as usize;
            frames.len += 1;
            frames.len < MAX_FRAMES
        });
    }
    frames
}

/// The kernel thread id; `gettid` is a plain system call, safe in a signal handler.
pub(crate) fn tid() -> u32 {
    // SAFETY: SYS_gettid takes no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as u32 }
}

thread_local! {
    // The thread's id, 0 until first asked (or after a fork, in the child). `const`, no
    // destructor: no allocation, no registration.
    static TID: Cell<u32> = const { Cell::new(0) };
}

/// [`tid`], remembered per thread: a guarded allocation and its free each need it, and
/// every system call costs the program more than its own time (with today's mitigations,
/// the caches and TLB it leaves cold). Not for the signal handler, which calls [`tid`].
pub(crate) fn cached_tid() -> u32 {
    TID.try_with(|t| match t.get() {
        0 => {
            let id = tid();
            t.set(id);
            id
        }
        id => id,
    })
    .unwrap_or_else(|_| tid())
}

/// Forgets the remembered id in a forked child, whose only thread is the one that forked
/// and has an id of its own. Registered once, when the pool is mapped.
pub(crate) fn forget_tid_on_fork() {
    extern "C" fn forget() {
        let _ = TID.try_with(|t| t.set(0));
    }
    // SAFETY: `forget` is a plain function that only writes this thread's TLS; glibc keeps
    // the registration (in its own malloc'd list, not ours) for the life of the process.
    unsafe { libc::pthread_atfork(None, None, Some(forget)) };
}

/// The kernel's name for the calling thread (`comm`, at most 15 bytes), via `prctl`, which is
/// async-signal-safe.
pub(crate) fn thread_name() -> [u8; 16] {
    let mut name = [0u8; 16];
    // SAFETY: PR_GET_NAME writes at most 16 bytes, NUL included, into the buffer given.
    unsafe { libc::prctl(libc::PR_GET_NAME, name.as_mut_ptr() as libc::c_ulong, 0, 0, 0) };
    name
}
