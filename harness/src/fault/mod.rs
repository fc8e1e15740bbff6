//! The process's SIGSEGV and SIGBUS handler, one for all of lockhound.
//!
//! It claims, in order:
//! - a fault in the guard allocator's region (`guard::signal::claim`): a report for the guard
//!   parent, then death by the same signal;
//! - an overflow of a shuttle coroutine's stack ([`coroutine`]): one line on stderr that says
//!   so, then abort;
//!
//! and hands any other fault to the handler installed before it (std's, which says "thread has
//! overflowed its stack" for an OS thread's own stack; loom's `generator`'s, which turns an
//! overflow of a generator stack into a finding; a sanitizer's), or to the default action. So
//! what lockhound does not recognize behaves as it would without lockhound.
//!
//! Everything the handler runs is async-signal-safe: atomics, plain thread-locals,
//! `open`/`read`/`close`/`write(2)`, `sigaction(2)`, `abort`; no allocation, no locks, no
//! `std::fmt`.
//!
//! Alternate stacks: std gives every thread it starts (and the main thread) a small alternate
//! signal stack for its own stack-overflow handler, and this handler is installed with
//! `SA_ONSTACK`, so it runs there, never on the stack that overflowed (an OS thread's, or a
//! coroutine's, which is only ever a stack the OS thread switched to). A thread that does a
//! guarded allocation or free, or explores under shuttle, without one (started outside std) gets
//! a 64 KiB mapped one from [`ensure_altstack`], never freed.

mod coroutine;

pub(crate) use coroutine::{running, ShuttleRun};

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicUsize, Ordering::*};

/// The handler that was installed before ours, per signal in `SIGNALS`, for chaining: its
/// address and flags. Atomics, because `ensure_installed` may update them while another
/// thread's fault is being handled.
static PREV_HANDLER: [AtomicUsize; 2] = [AtomicUsize::new(libc::SIG_DFL), AtomicUsize::new(0)];
static PREV_FLAGS: [AtomicI32; 2] = [AtomicI32::new(0), AtomicI32::new(0)];
const SIGNALS: [libc::c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];
/// Set once another handler is chained behind ours: nobody else should install one now.
static SETTLED: AtomicBool = AtomicBool::new(false);
static INSTALLING: AtomicBool = AtomicBool::new(false);
/// Checks left before we stop looking (for programs where nobody else installs a handler).
static CHECKS_LEFT: AtomicU32 = AtomicU32::new(4096);

/// loom's `generator` installs a handler of its own, once per process, at its first generator,
/// over whatever handler is installed then, and it hands every fault that is not on a generator's
/// stack to that one only after printing a backtrace from inside the signal handler (which on a
/// small signal stack crashes with a bare SIGSEGV) and putting that handler back in its place.
/// So before lockhound's first exploration installs ours, [`install_over_engines`] has
/// generator install its handler, and records which handler it covers (per signal in
/// `SIGNALS`): ours then hands a fault to generator's only while the faulting thread explores
/// under loom, where generator turns an overflow of its stack into a finding, and otherwise
/// to the one generator covers.
static GENERATOR: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];
static BELOW_GENERATOR: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];
static BELOW_GENERATOR_FLAGS: [AtomicI32; 2] = [AtomicI32::new(0), AtomicI32::new(0)];

thread_local! {
    // `const`, no destructor: readable from the signal handler (see `coroutine`).
    /// This OS thread explores under loom.
    static IN_LOOM: Cell<bool> = const { Cell::new(false) };
}

/// The action installed for `sig` now.
fn current_action(sig: libc::c_int) -> libc::sigaction {
    // SAFETY: a zeroed sigaction is a valid value to read the current action into.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut current);
        current
    }
}

/// Installs our handler for an exploration, over loom's generator's (see `GENERATOR`).
pub(crate) fn install_over_engines() {
    static GENERATOR_FIRST: std::sync::Once = std::sync::Once::new();
    GENERATOR_FIRST.call_once(|| {
        let before = SIGNALS.map(current_action);
        // Creating a generator installs generator's handler (`overflow::init_once`); this one
        // runs to its end at once.
        let mut g = generator::Gn::<()>::new_scoped(|_| ());
        while !g.is_done() {
            g.resume();
        }
        let ours = handler as *const () as usize;
        for (i, &sig) in SIGNALS.iter().enumerate() {
            let after = current_action(sig);
            // Only a handler generator installed just now covers the one seen before; over
            // ours (a guard allocator installed it first), it chains back to ours itself.
            if after.sa_sigaction != before[i].sa_sigaction && before[i].sa_sigaction != ours {
                BELOW_GENERATOR_FLAGS[i].store(before[i].sa_flags, Relaxed);
                BELOW_GENERATOR[i].store(before[i].sa_sigaction, Relaxed);
                GENERATOR[i].store(after.sa_sigaction, Release);
            }
        }
    });
    ensure_installed();
    ensure_altstack();
}

/// This OS thread explores under loom until dropped: a fault goes on to generator's handler.
pub(crate) struct LoomRun {
    before: bool,
}

impl LoomRun {
    pub(crate) fn enter() -> LoomRun {
        install_over_engines();
        LoomRun { before: IN_LOOM.with(|l| l.replace(true)) }
    }
}

impl Drop for LoomRun {
    fn drop(&mut self) {
        let _ = IN_LOOM.try_with(|l| l.set(self.before));
    }
}

/// Makes sure our handler is the one installed for SIGSEGV and SIGBUS, keeping whatever it
/// replaces for chaining. Called on guarded allocations and frees and when a shuttle run
/// begins, not just once: the first guarded allocation can happen inside std's runtime
/// start-up, between std reading the SIGSEGV action and installing its stack-overflow handler
/// over ours. Once a handler is chained behind ours (std's, in any Rust program), start-up is
/// over and checking stops: reinstalling over a handler that chains back to ours (loom's
/// `generator` keeps the action it replaced) would make the two call each other forever.
pub(crate) fn ensure_installed() {
    if SETTLED.load(Relaxed) {
        return;
    }
    if INSTALLING.swap(true, Acquire) {
        return; // another thread is at it
    }
    let ours = handler as *const () as usize;
    let mut chained = true;
    for (i, &sig) in SIGNALS.iter().enumerate() {
        // SAFETY: a zeroed sigaction is a valid value to read into and, with its handler,
        // flags and mask set, a valid action to install.
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut current);
            if current.sa_sigaction != ours {
                PREV_FLAGS[i].store(current.sa_flags, Relaxed);
                PREV_HANDLER[i].store(current.sa_sigaction, Release);
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = ours;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(sig, &action, std::ptr::null_mut());
            }
        }
        chained &= PREV_HANDLER[i].load(Relaxed) != libc::SIG_DFL;
    }
    if chained || CHECKS_LEFT.fetch_sub(1, Relaxed) <= 1 {
        SETTLED.store(true, Relaxed);
    }
    INSTALLING.store(false, Release);
}

thread_local! {
    static ALT_CHECKED: Cell<bool> = const { Cell::new(false) };
}

/// Gives the calling thread an alternate signal stack if it has none.
pub(crate) fn ensure_altstack() {
    if ALT_CHECKED.try_with(|c| c.replace(true)).unwrap_or(true) {
        return;
    }
    const SIZE: usize = 64 * 1024;
    // SAFETY: sigaltstack with a null new stack only reads the current one. A new stack is a
    // fresh mapping that is never unmapped, so it outlives the thread that uses it.
    unsafe {
        let mut current: libc::stack_t = std::mem::zeroed();
        if libc::sigaltstack(std::ptr::null(), &mut current) != 0 || current.ss_flags & libc::SS_DISABLE == 0
        {
            return;
        }
        let sp = libc::mmap(
            std::ptr::null_mut(),
            SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if sp == libc::MAP_FAILED {
            return;
        }
        let stack = libc::stack_t { ss_sp: sp, ss_flags: 0, ss_size: SIZE };
        libc::sigaltstack(&stack, std::ptr::null_mut());
    }
}

/// Writes all of `bytes` to `fd` (retrying after a signal), or as much as it takes;
/// async-signal-safe.
pub(crate) fn write_all(fd: i32, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: writes from a live, initialized buffer, at most its length.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            bytes = &bytes[n as usize..];
        } else if n < 0 && errno() == libc::EINTR {
            continue;
        } else {
            break;
        }
    }
}

/// The calling thread's `errno` (a thread-local read: async-signal-safe).
fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    if crate::guard::signal::claim(addr, ctx) {
        // Die of this very signal: with the default action back, returning re-executes the
        // access, which faults again and kills the process, so the parent sees SIGSEGV.
        set_default(sig);
        return;
    }
    if coroutine::claim(addr, stack_pointer(ctx)) {
        // The message is out; a coroutine's frames past its guard page cannot be unwound
        // or resumed soundly, so the process ends here, as std's does for an OS thread.
        std::process::abort();
    }
    chain(sig, info, ctx);
}

fn set_default(sig: libc::c_int) {
    // SAFETY: installing SIG_DFL with an empty mask is always valid.
    unsafe {
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut dfl.sa_mask);
        libc::sigaction(sig, &dfl, std::ptr::null_mut());
    }
}

/// Hands a fault that is not ours to whoever handled the signal before us (std's stack
/// overflow detector, loom's generator, a sanitizer...), or to the default action.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let Some(i) = SIGNALS.iter().position(|&s| s == sig) else {
        return set_default(sig);
    };
    let mut prev = PREV_HANDLER[i].load(Acquire);
    let mut flags = PREV_FLAGS[i].load(Relaxed);
    let generator = GENERATOR[i].load(Acquire);
    if generator != 0 && prev == generator && !IN_LOOM.try_with(Cell::get).unwrap_or(false) {
        // Not generator's to handle (see `GENERATOR`): the handler it covers.
        prev = BELOW_GENERATOR[i].load(Relaxed);
        flags = BELOW_GENERATOR_FLAGS[i].load(Relaxed);
    }
    match prev {
        libc::SIG_DFL | libc::SIG_IGN => set_default(sig),
        f if f == handler as *const () as usize => set_default(sig),
        f if flags & libc::SA_SIGINFO != 0 => {
            // SAFETY: with SA_SIGINFO the previous action is a three-argument handler.
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                unsafe { std::mem::transmute(f) };
            f(sig, info, ctx)
        }
        f => {
            // SAFETY: without SA_SIGINFO the previous action is a one-argument handler.
            let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(f) };
            f(sig)
        }
    }
}

/// The stack pointer of the interrupted code, from the machine context.
#[cfg(target_arch = "x86_64")]
fn stack_pointer(ctx: *mut libc::c_void) -> usize {
    // SAFETY: for SA_SIGINFO handlers the third argument is the interrupted ucontext.
    let gregs = unsafe { &(*(ctx as *const libc::ucontext_t)).uc_mcontext.gregs };
    gregs[libc::REG_RSP as usize] as usize
}

/// The stack pointer of the interrupted code, from the machine context.
#[cfg(target_arch = "aarch64")]
fn stack_pointer(ctx: *mut libc::c_void) -> usize {
    // SAFETY: for SA_SIGINFO handlers the third argument is the interrupted ucontext.
    unsafe { (*(ctx as *const libc::ucontext_t)).uc_mcontext.sp as usize }
}

/// Unknown elsewhere: no coroutine overflow is claimed.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn stack_pointer(_ctx: *mut libc::c_void) -> usize {
    0
}
