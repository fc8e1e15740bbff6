//! The SIGSEGV/SIGBUS handler and the report writer. Everything here is async-signal-safe:
//! atomics, `write(2)`, `sigaction(2)`, `prctl(2)`, `gettid(2)`, no allocation, no locks,
//! no `std::fmt`.
//!
//! Alternate stacks: std gives every thread it starts (and the main thread) a small
//! alternate signal stack for its stack-overflow handler, and our handler is installed with
//! `SA_ONSTACK`, so it runs there; a thread that does a guarded allocation or free without
//! one (started outside std) gets a 64 KiB mapped one, never freed. A thread with neither
//! runs the handler on its own stack, which is fine for every fault the handler claims
//! (stack overflows are never ours and are chained). The handler keeps its stack use small:
//! the report is formatted into a static buffer that only the first reporter touches.

use super::pages::{self, Pool};
use super::report::{format_raw, Access, Frames, RawReport, StackBuf, REPORT_BYTES};
use std::cell::{Cell, UnsafeCell};
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

/// Only the first report is written: after it the process is going down.
static REPORTED: AtomicBool = AtomicBool::new(false);
struct ReportBuf(UnsafeCell<StackBuf<REPORT_BYTES>>);
// SAFETY: only the thread that wins `REPORTED` touches the buffer, once.
unsafe impl Sync for ReportBuf {}
static REPORT_BUF: ReportBuf = ReportBuf(UnsafeCell::new(StackBuf::new()));

/// Makes sure our handler is the one installed for SIGSEGV and SIGBUS, keeping whatever it
/// replaces for chaining. Called on guarded allocations and frees, not just once: the first
/// guarded allocation can happen inside std's runtime start-up, between std reading the
/// SIGSEGV action and installing its stack-overflow handler over ours. Once a handler is
/// chained behind ours (std's, in any Rust program), start-up is over and checking stops.
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

/// Writes a report, once per process; async-signal-safe.
pub(crate) fn write_report(fd: i32, report: &RawReport) {
    if REPORTED.swap(true, AcqRel) {
        return;
    }
    // SAFETY: winning `REPORTED` makes this the only access to the buffer, ever.
    let buf = unsafe { &mut *REPORT_BUF.0.get() };
    format_raw(report, buf);
    let mut bytes = buf.as_bytes();
    while !bytes.is_empty() {
        // SAFETY: writes from a live, initialized buffer.
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

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Writes the report of a bad free and aborts, as a C allocator would.
pub(crate) fn die_of_bad_free(pool: &Pool, report: &RawReport) -> ! {
    write_report(pool.report_fd, report);
    std::process::abort()
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    let ours = pages::pool().and_then(|pool| Some((pool, pool.geo.classify(addr, |i| pool.view(i))?)));
    let Some((pool, c)) = ours else {
        chain(sig, info, ctx);
        return;
    };
    let (access, pc) = access_and_pc(ctx);
    let mut report = pool.report(c.kind, access, addr, c.slot);
    if c.slot.is_none() {
        report.offset = 0;
    }
    report.at = Frames::EMPTY;
    if pc != 0 {
        report.at.pcs[0] = pc;
        report.at.len = 1;
    }
    write_report(pool.report_fd, &report);
    // Die of this very signal: with the default action back, returning re-executes the
    // access, which faults again and kills the process, so the parent sees SIGSEGV.
    set_default(sig);
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
/// overflow detector, a sanitizer...), or to the default action.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let Some(i) = SIGNALS.iter().position(|&s| s == sig) else {
        return set_default(sig);
    };
    let prev = PREV_HANDLER[i].load(Acquire);
    let flags = PREV_FLAGS[i].load(Relaxed);
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

/// Read or write, and the faulting instruction, from the machine context.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn access_and_pc(ctx: *mut libc::c_void) -> (Access, usize) {
    // SAFETY: for SA_SIGINFO handlers the third argument is the interrupted ucontext.
    let gregs = unsafe { &(*(ctx as *const libc::ucontext_t)).uc_mcontext.gregs };
    // The page-fault error code: bit 1 set for a write.
    let err = gregs[libc::REG_ERR as usize];
    let access = if err & 2 != 0 { Access::Write } else { Access::Read };
    (access, gregs[libc::REG_RIP as usize] as usize)
}

/// Read or write from the ESR record the kernel puts in the signal frame (WnR, bit 6, is
/// meaningful for data aborts), and the faulting instruction.
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
fn access_and_pc(ctx: *mut libc::c_void) -> (Access, usize) {
    const ESR_MAGIC: u32 = 0x4553_5201;
    // SAFETY: for SA_SIGINFO handlers the third argument is the interrupted ucontext; the
    // records after `pstate` (16-byte aligned, 4096 bytes) are read within those bounds.
    unsafe {
        let mc = &(*(ctx as *const libc::ucontext_t)).uc_mcontext;
        let pc = mc.pc as usize;
        let start = (std::ptr::addr_of!(mc.pstate) as usize + 8 + 15) & !15;
        let mut off = 0usize;
        while off + 16 <= 4096 {
            let head = (start + off) as *const u32;
            let (magic, size) = (head.read(), head.add(1).read() as usize);
            if magic == 0 || size < 8 {
                break;
            }
            if magic == ESR_MAGIC && size >= 16 {
                let esr = ((start + off + 8) as *const u64).read();
                let class = esr >> 26;
                if class == 0x24 || class == 0x25 {
                    let write = esr & (1 << 6) != 0;
                    return (if write { Access::Write } else { Access::Read }, pc);
                }
                break;
            }
            off += size;
        }
        (Access::Unknown, pc)
    }
}

#[cfg(not(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))))]
fn access_and_pc(_ctx: *mut libc::c_void) -> (Access, usize) {
    (Access::Unknown, 0)
}
