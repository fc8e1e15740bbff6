//! Running the guarded child so that the parent always ends: within the time budget, whatever
//! the child's descendants do with its pipes.
//!
//! - The child gets a process group of its own. When it ends (or is killed at the deadline),
//!   whatever is left of the group, its descendants, is killed before the child is reaped:
//!   until then the child's zombie keeps its pid, and so the group's id, from being reused.
//! - Its stdout and stderr are read by this thread, `poll`ed between checks of the child, and
//!   never to an end-of-file that may not come: a descendant that left the group still holds
//!   the pipes' write ends, so once the child is reaped its output is read for at most
//!   [`DRAIN_GRACE`] more and the pipes are closed. Only the last [`KEEP`] bytes of each
//!   stream are kept, however much the child writes.
//! - The child is killed if the parent dies first (`PR_SET_PDEATHSIG`).
//! - A budget of any size is fine: a deadline past what `Instant` can hold means none.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Bytes of each output stream kept: its last 64 KiB.
pub(crate) const KEEP: usize = 64 * 1024;
/// How long the output is still read once the child is reaped, for a descendant outside its
/// process group that holds the pipes open.
pub(crate) const DRAIN_GRACE: Duration = Duration::from_millis(250);
/// The longest nap between two checks of the child.
const MAX_NAP: Duration = Duration::from_millis(50);

/// How the child ended.
pub(crate) struct Finished {
    /// The exit status; `None` if the child outlived its budget and was killed.
    pub status: Option<ExitStatus>,
    pub elapsed: Duration,
    pub stdout: String,
    pub stderr: String,
}

/// Spawns `command` (stdin null, stdout and stderr captured) with `report_fd` inherited,
/// waits for it at most `timeout`, and returns what it came to.
pub(crate) fn run(mut command: Command, report_fd: i32, timeout: Duration) -> io::Result<Finished> {
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    // SAFETY: the closure runs in the forked child before exec: it only makes system calls
    // that are async-signal-safe (fcntl, prctl, getppid) and allocates nothing (an
    // `io::Error` from an OS error code is a plain value).
    unsafe {
        command.pre_exec(move || {
            // The report file is close-on-exec in the parent (so no other child it starts
            // inherits it): this child alone keeps it across exec.
            if libc::fcntl(report_fd, libc::F_SETFD, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            // The parent died before the line above: nobody would ever wait for this child.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    let start = Instant::now();
    let deadline = start.checked_add(timeout);
    let mut child = command.spawn()?;
    let mut out = Stream::new(child.stdout.take().map(OwnedFd::from))?;
    let mut err = Stream::new(child.stderr.take().map(OwnedFd::from))?;
    let mut nap = Duration::from_millis(1);
    let timed_out = loop {
        let left = deadline.map_or(nap, |d| d.saturating_duration_since(Instant::now()));
        read_for(&mut out, &mut err, nap.min(left))?;
        if has_ended(&child)? {
            break false;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break true;
        }
        nap = (nap * 2).min(MAX_NAP);
    };
    kill_group(&child);
    let status = child.wait()?;
    let elapsed = start.elapsed();
    let grace_end = Instant::now() + DRAIN_GRACE;
    while out.is_open() || err.is_open() {
        let left = grace_end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        read_for(&mut out, &mut err, left)?;
    }
    Ok(Finished {
        status: (!timed_out).then_some(status),
        elapsed,
        stdout: out.tail.into_string(),
        stderr: err.tail.into_string(),
    })
}

/// Whether the child has ended, without reaping it (`WNOWAIT`): its zombie keeps holding its
/// pid and process group id until [`kill_group`] has run.
fn has_ended(child: &Child) -> io::Result<bool> {
    // SAFETY: a zeroed siginfo_t is valid plain data for waitid to fill in; with WNOHANG a
    // child that has not changed state leaves `si_pid` zero.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
        if libc::waitid(libc::P_PID, child.id(), &mut info, flags) != 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted { Ok(false) } else { Err(e) };
        }
        Ok(info.si_pid() != 0)
    }
}

/// Kills the child and every process left in its process group. The child is not reaped yet
/// (see [`has_ended`]), so the group id is still its own.
fn kill_group(child: &Child) {
    let pid = child.id() as libc::pid_t;
    // SAFETY: kill only sends a signal; the negative pid names the child's own group, and the
    // child (live or a zombie) still holds that id.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
        // The child may have moved itself to another group.
        libc::kill(pid, libc::SIGKILL);
    }
}

/// One captured output stream: the pipe's read end until end-of-file, and its tail.
struct Stream {
    pipe: Option<File>,
    tail: Tail,
}

impl Stream {
    fn new(fd: Option<OwnedFd>) -> io::Result<Stream> {
        if let Some(fd) = &fd {
            // SAFETY: F_GETFL and F_SETFL on a descriptor this stream owns.
            let ok = unsafe {
                let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
                flags >= 0 && libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) == 0
            };
            if !ok {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(Stream { pipe: fd.map(File::from), tail: Tail::default() })
    }

    fn is_open(&self) -> bool {
        self.pipe.is_some()
    }

    /// Reads what is there without blocking; closes the pipe at end-of-file.
    fn read_available(&mut self) {
        let Some(pipe) = &mut self.pipe else { return };
        let mut buf = [0u8; 16 * 1024];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break self.pipe = None,
                Ok(n) => self.tail.push(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // Any other error ends the stream as end-of-file would: nothing more to read.
                Err(_) => break self.pipe = None,
            }
        }
    }
}

/// Waits up to `wait` for output on either stream, then reads what is there.
fn read_for(out: &mut Stream, err: &mut Stream, wait: Duration) -> io::Result<()> {
    let mut fds: Vec<libc::pollfd> = [&*out, &*err]
        .iter()
        .filter_map(|s| s.pipe.as_ref())
        .map(|p| libc::pollfd { fd: p.as_raw_fd(), events: libc::POLLIN, revents: 0 })
        .collect();
    if fds.is_empty() {
        std::thread::sleep(wait);
        return Ok(());
    }
    // Rounded up, so a short wait is a wait and not a busy loop.
    let ms = wait.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
    // SAFETY: `fds` is a live array of `fds.len()` pollfd structures.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted { Ok(()) } else { Err(e) };
    }
    out.read_available();
    err.read_available();
    Ok(())
}

/// The last [`KEEP`] bytes of a stream, kept while it is read (never the whole stream).
#[derive(Default)]
pub(crate) struct Tail {
    bytes: Vec<u8>,
}

impl Tail {
    pub(crate) fn push(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
        // Trimmed when twice over, so the copy costs O(1) per byte kept.
        if self.bytes.len() > 2 * KEEP {
            let cut = self.bytes.len() - KEEP;
            self.bytes.drain(..cut);
        }
    }

    pub(crate) fn into_string(self) -> String {
        let tail = &self.bytes[self.bytes.len().saturating_sub(KEEP)..];
        String::from_utf8_lossy(tail).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_keeps_the_last_bytes_only() {
        let mut t = Tail::default();
        for i in 0..300u32 {
            t.push(&[b'a' + (i % 26) as u8; 1000]);
        }
        assert!(t.bytes.len() <= 2 * KEEP);
        let s = t.into_string();
        assert_eq!(s.len(), KEEP);
        assert!(s.ends_with(&"n".repeat(1000)), "the 300th push (i = 299, 'n') is last");
        let mut short = Tail::default();
        short.push(b"ok\n");
        assert_eq!(short.into_string(), "ok\n");
    }
}
