//! The guard allocator's part of the fault handler (`crate::fault` owns SIGSEGV and SIGBUS
//! and asks [`claim`] first) and the report writer. Everything here is async-signal-safe:
//! atomics, `write(2)`, `prctl(2)`, `gettid(2)`, no allocation, no locks, no `std::fmt`.
//!
//! The handler runs on the thread's alternate signal stack (`crate::fault::ensure_altstack`
//! gives one to a thread that does a guarded allocation or free without one) and keeps its
//! stack use small: the report is formatted into a static buffer that only the first reporter
//! touches.

use super::pages::{self, Pool};
use super::report::{format_raw, Access, Frames, RawReport, StackBuf, REPORT_BYTES};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering::*};

/// Only the first report is written: after it the process is going down.
static REPORTED: AtomicBool = AtomicBool::new(false);
struct ReportBuf(UnsafeCell<StackBuf<REPORT_BYTES>>);
// SAFETY: only the thread that wins `REPORTED` touches the buffer, once.
unsafe impl Sync for ReportBuf {}
static REPORT_BUF: ReportBuf = ReportBuf(UnsafeCell::new(StackBuf::new()));

/// Writes a report, once per process; async-signal-safe.
pub(crate) fn write_report(fd: i32, report: &RawReport) {
    if REPORTED.swap(true, AcqRel) {
        return;
    }
    // SAFETY: winning `REPORTED` makes this the only access to the buffer, ever.
    let buf = unsafe { &mut *REPORT_BUF.0.get() };
    format_raw(report, buf);
    crate::fault::write_all(fd, buf.as_bytes());
}

/// Writes the report of a bad free and aborts, as a C allocator would.
pub(crate) fn die_of_bad_free(pool: &Pool, report: &RawReport) -> ! {
    write_report(pool.report_fd, report);
    std::process::abort()
}

/// Claims a fault of the guarded region (`crate::fault`'s handler asks first): writes its
/// report and returns true, with the signal's default action back so that the access, which
/// runs again when the handler returns, kills the process with this very signal (the parent
/// sees SIGSEGV). False for any other fault, which the handler passes on.
pub(crate) fn claim(addr: usize, ctx: *mut libc::c_void) -> bool {
    let ours = pages::pool().and_then(|pool| Some((pool, pool.geo.classify(addr, |i| pool.view(i))?)));
    let Some((pool, c)) = ours else {
        return false;
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
    true
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
