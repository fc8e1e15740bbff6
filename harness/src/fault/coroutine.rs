//! A stack overflow in a shuttle coroutine, said in words instead of a bare SIGSEGV.
//!
//! shuttle runs every thread of the body (its main thread too) on a coroutine (corosensei's
//! `DefaultStack`: one mapping, its lowest page `PROT_NONE` as a guard). std's handler knows
//! only the OS thread's own guard page, and let an overflow into a coroutine's die as a bare
//! "Segmentation fault", which told the user nothing.
//!
//! The handler recognizes such an overflow from the kernel's map of the process
//! (`/proc/self/maps`, read with `open`/`read` only, a line at a time into a fixed buffer): the
//! faulting address lies in an inaccessible mapping right below a writable one, the
//! interrupted code's stack pointer lies in either (a stack probe moves it into the guard
//! before touching it), and the writable mapping is not the OS thread's own stack, which has the same shape (a pthread stack and its guard) and which std
//! reports itself: [`ShuttleRun`] marks it when a run begins, with the address of a local. The
//! map is read only while the faulting OS thread explores under shuttle. The decision itself
//! ([`Verdict`]) is safe code over bytes, tested under miri.
//!
//! Recognizing no coroutines other than shuttle's is deliberate: loom's generator has a
//! handler of its own (chained behind or in front of ours) that makes an overflow of a
//! generator stack a finding, which is better than an abort; a loom exploration makes no
//! `ShuttleRun`, so the handler never claims its faults.

use super::{errno, write_all};
use crate::guard::report::StackBuf;
use std::cell::Cell;

/// No simulated thread is known to run.
const UNKNOWN: usize = usize::MAX;

thread_local! {
    // `const` and no destructor: a slot of the executable's static TLS block, which a signal
    // handler may read (no lazy allocation, no registration).
    /// An address on this OS thread's own stack while it explores under shuttle, else 0.
    static OS_MARK: Cell<usize> = const { Cell::new(0) };
    /// The size of the coroutine stacks of the shuttle run this OS thread explores in.
    static STACK_SIZE: Cell<usize> = const { Cell::new(0) };
    /// The simulated thread shuttle runs now on this OS thread, or `UNKNOWN`.
    static RUNNING: Cell<usize> = const { Cell::new(UNKNOWN) };
}

/// shuttle's scheduler chose simulated thread `thread` to run next on this OS thread.
#[inline]
pub(crate) fn running(thread: usize) {
    let _ = RUNNING.try_with(|r| r.set(thread));
}

/// This OS thread explores under shuttle, with coroutine stacks of `stack_size` bytes, until
/// dropped: an overflow of one of its coroutines' stacks is told in words.
pub(crate) struct ShuttleRun {
    before: (usize, usize, usize),
}

impl ShuttleRun {
    pub(crate) fn enter(stack_size: usize) -> ShuttleRun {
        super::install_over_engines();
        // Any address on this OS thread's stack does: it only has to lie in the mapping
        // that is its stack, which outlives the run.
        let local = 0u8;
        let mark = std::hint::black_box(&local) as *const u8 as usize;
        let before = (
            OS_MARK.with(|m| m.replace(mark)),
            STACK_SIZE.with(|s| s.replace(stack_size)),
            RUNNING.with(|r| r.replace(UNKNOWN)),
        );
        ShuttleRun { before }
    }
}

impl Drop for ShuttleRun {
    fn drop(&mut self) {
        let (mark, size, running) = self.before;
        let _ = OS_MARK.try_with(|m| m.set(mark));
        let _ = STACK_SIZE.try_with(|s| s.set(size));
        let _ = RUNNING.try_with(|r| r.set(running));
    }
}

/// Claims the fault at `fault`, with the interrupted stack pointer `sp`, if it is an overflow
/// of a shuttle coroutine's stack: writes what happened on stderr and returns true. Called by
/// the signal handler: async-signal-safe.
pub(super) fn claim(fault: usize, sp: usize) -> bool {
    let mark = OS_MARK.try_with(Cell::get).unwrap_or(0);
    if mark == 0 || sp == 0 {
        return false;
    }
    // SAFETY: `open` of a NUL-terminated literal path; async-signal-safe.
    let fd = unsafe { libc::open(c"/proc/self/maps".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return false;
    }
    let mut verdict = Verdict::new(fault, sp, mark);
    // On the signal stack (std's is at least 8 KiB, ours 64 KiB): 1 KiB of it.
    let mut buf = [0u8; 1024];
    while !verdict.decided() {
        // SAFETY: reads at most `buf.len()` bytes into a live buffer; async-signal-safe.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            verdict.feed(&buf[..n as usize]);
        } else if n < 0 && errno() == libc::EINTR {
            continue;
        } else {
            break;
        }
    }
    // SAFETY: closes the descriptor opened above, once.
    unsafe { libc::close(fd) };
    if !verdict.overflowed() {
        return false;
    }
    let thread = RUNNING.try_with(Cell::get).unwrap_or(UNKNOWN);
    let size = STACK_SIZE.try_with(Cell::get).unwrap_or(0);
    let mut text = StackBuf::<MESSAGE_BYTES>::new();
    message((thread != UNKNOWN).then_some(thread), size, &mut text);
    // A signal handler's last words before abort: the harness prints nothing otherwise, but
    // nothing else is left to report this, and the process dies right after.
    write_all(libc::STDERR_FILENO, text.as_bytes());
    true
}

/// Room for the message.
pub(crate) const MESSAGE_BYTES: usize = 512;

/// What the user reads when thread `thread` (if known) overflowed a coroutine stack of
/// `stack_size` bytes (if known), ending with a newline.
pub(crate) fn message(thread: Option<usize>, stack_size: usize, out: &mut StackBuf<MESSAGE_BYTES>) {
    out.push(b"lockhound: ");
    match thread {
        Some(t) => {
            out.push(b"thread t");
            out.push_dec(t as i128);
        }
        None => out.push(b"a thread"),
    }
    out.push(b" of the body overflowed its stack under the shuttle engine (");
    if stack_size > 0 {
        out.push(b"its coroutine stacks are ");
        out.push_dec((stack_size / 1024) as i128);
        out.push(b" KiB");
    } else {
        out.push(b"it runs threads on coroutine stacks");
    }
    out.push(
        b"; recursion too deep, or large values on the stack? a spawned thread gets a larger \
          stack from lockhound::thread::Builder::stack_size; loom reports an overflow as a \
          finding)\n",
    );
}

/// One line of `/proc/self/maps`: a mapping's bounds and whether it can be read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mapping {
    pub start: usize,
    pub end: usize,
    pub readable: bool,
    pub writable: bool,
}

impl Mapping {
    fn contains(&self, addr: usize) -> bool {
        self.start <= addr && addr < self.end
    }
}

/// Parses the start of a `/proc/self/maps` line, `START-END PERMS ...` (hexadecimal bounds,
/// `rwxp`-style permissions); `None` for anything else.
pub(crate) fn parse_line(line: &[u8]) -> Option<Mapping> {
    let mut fields = line.split(|&b| b == b' ');
    let range = fields.next()?;
    let perms = fields.next()?;
    let dash = range.iter().position(|&b| b == b'-')?;
    let (start, end) = (hex(&range[..dash])?, hex(&range[dash + 1..])?);
    if start >= end || perms.len() < 3 {
        return None;
    }
    Some(Mapping { start, end, readable: perms[0] == b'r', writable: perms[1] == b'w' })
}

fn hex(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 2 * std::mem::size_of::<usize>() {
        return None;
    }
    digits.iter().try_fold(0usize, |v, &d| Some(v << 4 | (d as char).to_digit(16)? as usize))
}

/// The longest start of a line kept: the bounds and permissions of a 64-bit mapping take 38
/// bytes; the rest (offset, device, inode, path) is not needed.
const LINE: usize = 64;

/// Whether a fault was an overflow into a coroutine stack's guard, decided from the map of
/// the process fed to it in pieces of any size (mappings come in ascending order).
pub(crate) struct Verdict {
    fault: usize,
    sp: usize,
    os_mark: usize,
    /// The mapping before the current line's.
    below: Option<Mapping>,
    decided: Option<bool>,
    line: [u8; LINE],
    len: usize,
}

impl Verdict {
    /// For a fault at `fault` with the stack pointer at `sp`, on an OS thread whose own stack
    /// holds `os_mark`.
    pub(crate) fn new(fault: usize, sp: usize, os_mark: usize) -> Verdict {
        Verdict { fault, sp, os_mark, below: None, decided: None, line: [0; LINE], len: 0 }
    }

    /// The mappings around the faulting address have been seen.
    pub(crate) fn decided(&self) -> bool {
        self.decided.is_some()
    }

    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.decided() {
                return;
            }
            if b == b'\n' {
                self.end_line();
            } else if self.len < LINE {
                self.line[self.len] = b;
                self.len += 1;
            }
        }
    }

    fn end_line(&mut self) {
        let mapping = parse_line(&self.line[..self.len]);
        self.len = 0;
        let Some(m) = mapping else { return };
        match self.below {
            // `m` is the mapping right above the fault's: is that one a guard, `m` the stack
            // it guards, the stack pointer in either (a probe moves it into the guard before
            // it touches it), and the stack a coroutine's, not the OS thread's?
            Some(g) if g.contains(self.fault) => {
                let guard = !g.readable && !g.writable && g.end == m.start;
                let sp_in = g.start <= self.sp && self.sp < m.end;
                self.decided = Some(guard && m.writable && sp_in && !m.contains(self.os_mark));
            }
            // Past the fault, which lies in no mapping.
            _ if m.start > self.fault => self.decided = Some(false),
            _ => {}
        }
        self.below = Some(m);
    }

    /// The verdict, once the whole map (or as much as was read) has been fed.
    pub(crate) fn overflowed(&mut self) -> bool {
        if self.len > 0 && !self.decided() {
            self.end_line();
        }
        self.decided == Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = "\
55d0c0a00000-55d0c0a21000 r-xp 00000000 fd:01 1234                       /usr/bin/body
7f0000000000-7f0000001000 ---p 00000000 00:00 0 
7f0000001000-7f0000010000 rw-p 00000000 00:00 0 
7f0000010000-7f0000011000 ---p 00000000 00:00 0 
7f0000011000-7f0000811000 rw-p 00000000 00:00 0 
7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]
";

    fn verdict(fault: usize, sp: usize, os_mark: usize, pieces: usize) -> bool {
        let mut v = Verdict::new(fault, sp, os_mark);
        for chunk in MAP.as_bytes().chunks(pieces) {
            v.feed(chunk);
        }
        v.overflowed()
    }

    #[test]
    fn lines_parse_into_bounds_and_permissions() {
        let m = parse_line(b"7f0000000000-7f0000001000 ---p 00000000 00:00 0").unwrap();
        assert_eq!(
            m,
            Mapping { start: 0x7f00_0000_0000, end: 0x7f00_0000_1000, readable: false, writable: false }
        );
        let m = parse_line(b"7f0000001000-7f0000010000 rw-p").unwrap();
        assert!(m.readable && m.writable);
        for bad in [
            &b""[..],
            b"7f00-",
            b"zz-10 rw-p",
            b"10-10 rw-p",
            b"20-10 rw-p",
            b"10-20",
            b"10-20 r",
            b"11111111111111111-2 rw-p",
        ] {
            assert_eq!(parse_line(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn a_fault_in_the_guard_below_the_stack_pointers_mapping_is_an_overflow() {
        let os = 0x7f00_0011_0000; // on the OS thread's stack, the last pair
        for pieces in [1, 7, 64, 4096] {
            // The stack pointer near the bottom of the first coroutine stack, the fault in its guard.
            assert!(verdict(0x7f00_0000_0ff8, 0x7f00_0000_1010, os, pieces), "pieces {pieces}");
            // A fault far below the stack pointer, outside the guard: not an overflow.
            assert!(!verdict(0x55d0_c0a0_0010, 0x7f00_0000_1010, os, pieces));
            // A null dereference on a coroutine stack: not an overflow.
            assert!(!verdict(0, 0x7f00_0000_1010, os, pieces));
            // A probe moved the stack pointer into the guard before it touched it.
            assert!(verdict(0x7f00_0000_0ff8, 0x7f00_0000_0f00, os, pieces));
            // The fault in one coroutine's guard, the stack pointer on another stack.
            assert!(!verdict(0x7f00_0000_0ff8, 0x7f00_0001_1010, os, pieces));
        }
    }

    #[test]
    fn the_os_threads_own_stack_is_left_to_std() {
        // The same shape, but the mark says it is the OS thread's stack.
        let (fault, sp) = (0x7f00_0001_0ff8, 0x7f00_0001_1010);
        assert!(!verdict(fault, sp, 0x7f00_0080_0000, 64));
        assert!(verdict(fault, sp, 0x7f00_0000_5000, 64), "another stack's mark");
    }

    #[test]
    fn a_stack_pointer_without_an_inaccessible_mapping_right_below_is_no_overflow() {
        // The main thread's [stack]: the mapping below it is not adjacent.
        assert!(!verdict(0x7ffb_ffff_fff8, 0x7ffc_0000_0010, 0x1, 64));
        // A stack pointer in no mapping at all, or in code.
        assert!(!verdict(0x7f00_0000_0ff8, 0x10, 0x1, 64));
        assert!(!verdict(0x55d0_c0a0_0000 - 8, 0x55d0_c0a0_0010, 0x1, 64));
    }

    #[test]
    fn long_lines_are_cut_and_a_last_line_without_newline_counts() {
        let long = format!("{} {}\n", "7f0000000000-7f0000001000 ---p 00000000 00:00 0", "x".repeat(5000));
        let mut v = Verdict::new(0x7f00_0000_0ff8, 0x7f00_0000_1010, 1);
        v.feed(long.as_bytes());
        v.feed(b"7f0000001000-7f0000010000 rw-p 00000000 00:00 0");
        assert!(!v.decided());
        assert!(v.overflowed());
    }

    #[test]
    fn the_message_names_the_thread_the_engine_and_the_stack_size() {
        let mut out = StackBuf::<MESSAGE_BYTES>::new();
        message(Some(1), 0xf000, &mut out);
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        assert!(
            text.starts_with("lockhound: thread t1 of the body overflowed its stack under the shuttle engine (its coroutine stacks are 60 KiB;"),
            "{text}"
        );
        assert!(text.contains("lockhound::thread::Builder::stack_size") && text.ends_with(")\n"), "{text}");
        let mut out = StackBuf::<MESSAGE_BYTES>::new();
        message(None, 0, &mut out);
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        assert!(
            text.starts_with("lockhound: a thread of the body overflowed") && text.ends_with(")\n"),
            "{text}"
        );
    }
}
