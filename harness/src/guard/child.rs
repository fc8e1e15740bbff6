//! The parent side: run a program under the guard allocator in a child process, wait for it
//! (never forever), read its raw report and symbolize it.
//!
//! Symbolization and ASLR: the handler cannot symbolize, so the child records raw return
//! addresses plus `anchor`, its own address of `report::anchor`. The child must be the same
//! executable as the parent (the CLI re-executes itself; a test re-executes its own test
//! binary), so `child_anchor - parent_anchor` is the difference between the two load bases
//! of that executable, and `pc - delta` is the same instruction in the parent's image, which
//! `backtrace::resolve` can name. Frames outside the executable (libc, the vDSO) load at
//! other, independent bases; they are kept as raw addresses without names.

use super::config::{Mode, Side};
#[cfg(target_os = "linux")]
use super::config::{ENV_MAX_SIZE, ENV_MODE, ENV_QUARANTINE, ENV_REPORT, ENV_REPORT_FD, ENV_SIDE, ENV_SLOTS};
#[cfg(target_os = "linux")]
use super::report::parse_raw;
use super::report::{ser_hex, Access, FaultKind, ParsedReport};
use serde::Serialize;
use std::io;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// How to run the child.
#[derive(Clone, Debug)]
pub struct GuardOptions {
    pub mode: Mode,
    pub side: Side,
    /// Quarantine length in blocks (default: the allocator's, 256).
    pub quarantine: Option<u32>,
    /// Guarded slots (default: the allocator's, 4096).
    pub slots: Option<u32>,
    /// Largest guarded allocation in bytes (default: the allocator's, 64 KiB).
    pub max_size: Option<u32>,
    /// The child is killed after this long (any length: one past what the clock can count
    /// means never). See [`GuardOptions::child_time_limit`].
    pub timeout: Duration,
    /// Name the frames (needs the child to be this same executable).
    pub symbolize: bool,
}

impl Default for GuardOptions {
    fn default() -> Self {
        GuardOptions {
            mode: Mode::All,
            side: Side::Random,
            quarantine: None,
            slots: None,
            max_size: None,
            timeout: Duration::from_secs(120),
            symbolize: true,
        }
    }
}

/// What a child that stops itself at a time limit gets on top of it, before it is killed:
/// start-up, the last execution, and writing its report.
pub const CHILD_MARGIN: Duration = Duration::from_secs(30);

impl GuardOptions {
    /// Sets the timeout for a child that stops itself after `limit`: `limit` plus
    /// [`CHILD_MARGIN`], saturating, so a limit of any size never wraps into a short one.
    pub fn child_time_limit(mut self, limit: Duration) -> Self {
        self.timeout = limit.saturating_add(CHILD_MARGIN);
        self
    }
}

/// What one guarded child run came to.
#[derive(Debug, Serialize)]
pub struct GuardRun {
    #[serde(flatten)]
    pub outcome: GuardOutcome,
    pub elapsed_ms: u64,
    /// The child's output, kept to its last 64 KiB each.
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum GuardOutcome {
    /// Exited with status 0 and no report.
    Passed,
    /// The guard allocator caught a memory error.
    Fault(GuardReport),
    /// Died or failed for another reason: a signal that was not ours, a panic, an exit code.
    Crashed { signal: Option<i32>, exit_code: Option<i32> },
    /// Still running at the time limit, so it was killed.
    TimedOut { after_ms: u64 },
}

/// A memory error, symbolized.
#[derive(Clone, Debug, Serialize)]
pub struct GuardReport {
    pub kind: FaultKind,
    pub access: Access,
    #[serde(serialize_with = "ser_hex")]
    pub address: u64,
    /// `address` minus the start of the block it was attributed to.
    pub offset: i64,
    /// Size of that block.
    pub size: u64,
    /// The thread that faulted or freed badly.
    pub thread: ThreadInfo,
    /// The faulting instruction, or the stack of the bad free.
    pub access_site: Vec<Frame>,
    pub alloc_thread: Option<u32>,
    pub alloc_site: Vec<Frame>,
    pub free_thread: Option<u32>,
    pub free_site: Vec<Frame>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ThreadInfo {
    pub tid: u32,
    pub name: Option<String>,
}

/// One frame; an address with inlined calls gives one frame per function, innermost first.
#[derive(Clone, Debug, Serialize)]
pub struct Frame {
    #[serde(serialize_with = "ser_hex")]
    pub address: u64,
    pub symbol: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
}

/// Runs `command` with the guard allocator configured by `options`, waits at most
/// `options.timeout`, and classifies what happened. `Err` only if the child cannot be started
/// or waited for, or on a platform without guard pages (Linux only). The command's stdout
/// and stderr are captured (their last 64 KiB each); its stdin is null.
///
/// The call ends within the budget whatever the child does: at the deadline the child is
/// killed, and so is everything it started in its process group (which `run_guarded` gives
/// it), also when it ends by itself; a descendant that left the group and still holds the
/// child's output pipes delays the return by at most a quarter of a second. The raw report
/// comes back through an unnamed temporary file the child inherits (see `channel`): no file
/// name is involved that someone else could plant or redirect, and a
/// `LOCKHOUND_GUARD_REPORT` set on `command` is removed.
pub fn run_guarded(command: Command, options: &GuardOptions) -> io::Result<GuardRun> {
    #[cfg(target_os = "linux")]
    return run_guarded_linux(command, options);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (command, options);
        Err(io::Error::new(io::ErrorKind::Unsupported, "guard pages need Linux"))
    }
}

#[cfg(target_os = "linux")]
fn run_guarded_linux(mut command: Command, options: &GuardOptions) -> io::Result<GuardRun> {
    let report = super::channel::ReportFile::new()?;
    let mode = match options.mode {
        Mode::Off => "off".to_string(),
        Mode::All => "all".to_string(),
        Mode::Sampled(n) => format!("sample:{n}"),
    };
    let side = match options.side {
        Side::Right => "right",
        Side::Left => "left",
        Side::Random => "random",
    };
    command.env(ENV_MODE, mode).env(ENV_SIDE, side).env_remove(ENV_REPORT);
    command.env(ENV_REPORT_FD, report.env_value()?);
    for (key, value) in
        [(ENV_QUARANTINE, options.quarantine), (ENV_SLOTS, options.slots), (ENV_MAX_SIZE, options.max_size)]
    {
        if let Some(v) = value {
            command.env(key, v.to_string());
        }
    }
    let done = super::supervise::run(command, report.fd(), options.timeout)?;
    let elapsed_ms = u64::try_from(done.elapsed.as_millis()).unwrap_or(u64::MAX);
    let text = report.read()?;
    let raw = if text.is_empty() { None } else { parse_raw(&text).ok() };
    let outcome = match (done.status, raw) {
        (_, Some(raw)) => GuardOutcome::Fault(symbolize(raw, options.symbolize)),
        (None, None) => GuardOutcome::TimedOut { after_ms: elapsed_ms },
        (Some(s), None) if s.success() => GuardOutcome::Passed,
        (Some(s), None) => GuardOutcome::Crashed { signal: signal_of(&s), exit_code: s.code() },
    };
    Ok(GuardRun { outcome, elapsed_ms, stdout: done.stdout, stderr: done.stderr })
}

#[cfg(target_os = "linux")]
fn signal_of(status: &std::process::ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(status)
}

/// Turns a parsed raw report into a [`GuardReport`], naming frames if asked.
pub fn symbolize(raw: ParsedReport, names: bool) -> GuardReport {
    let image = if names { Image::current() } else { None };
    let delta = raw.anchor.wrapping_sub(super::report::anchor() as u64);
    let frames = |pcs: &[u64], exact_first: bool| -> Vec<Frame> {
        let mut out = Vec::new();
        for (i, &pc) in pcs.iter().enumerate() {
            let local = pc.wrapping_sub(delta);
            let named = image.as_ref().is_some_and(|img| img.contains(local));
            let before = out.len();
            if named {
                // A return address points after its call: look up the call itself.
                let lookup = if exact_first && i == 0 { local } else { local - 1 };
                backtrace::resolve(lookup as usize as *mut std::ffi::c_void, |s| {
                    out.push(Frame {
                        address: pc,
                        symbol: s.name().map(|n| format!("{n:#}")),
                        file: s.filename().map(|f| f.display().to_string()),
                        line: s.lineno(),
                    })
                });
            }
            if out.len() == before {
                out.push(Frame { address: pc, symbol: None, file: None, line: None });
            }
        }
        strip_allocator_frames(out)
    };
    let tid = |t: u32| (t != 0).then_some(t);
    GuardReport {
        kind: raw.kind,
        access: raw.access,
        address: raw.address,
        offset: raw.offset,
        size: raw.size,
        thread: ThreadInfo {
            tid: raw.tid,
            name: (!raw.thread_name.is_empty()).then(|| raw.thread_name.clone()),
        },
        access_site: frames(&raw.at, raw.kind != FaultKind::DoubleFree && raw.kind != FaultKind::InvalidFree),
        alloc_thread: tid(raw.alloc_tid),
        alloc_site: frames(&raw.alloc, false),
        free_thread: tid(raw.free_tid),
        free_site: frames(&raw.free, false),
    }
}

/// Whether a named frame belongs to the allocator or the unwinder rather than to the program.
pub fn is_allocator_frame(symbol: &str) -> bool {
    const INTERNAL: [&str; 8] = [
        "lockhound::guard::",
        "backtrace::",
        "__rust_alloc",
        "__rust_dealloc",
        "__rust_realloc",
        "__rg_",
        "__rdl_",
        "alloc::alloc::",
    ];
    INTERNAL.iter().any(|p| symbol.contains(p))
}

/// Drops the innermost run of allocator frames (and the unnamed unwinder frames among
/// them): the stack then starts where the program called the allocator. The run ends at the
/// first named frame that is not the allocator's; a stack without one is kept whole.
fn strip_allocator_frames(frames: Vec<Frame>) -> Vec<Frame> {
    let mut cut = 0;
    for (i, f) in frames.iter().enumerate() {
        match f.symbol.as_deref() {
            Some(s) if is_allocator_frame(s) => cut = i + 1,
            Some(_) => break,
            None => {}
        }
    }
    frames.into_iter().skip(cut).collect()
}

/// The address range of this executable's mappings.
struct Image {
    start: u64,
    end: u64,
}

impl Image {
    fn current() -> Option<Image> {
        let exe = std::fs::read_link("/proc/self/exe").ok()?;
        let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
        image_range(&maps, &exe)
    }

    fn contains(&self, addr: u64) -> bool {
        (self.start..self.end).contains(&addr)
    }
}

/// The lowest start and highest end of the mappings of `exe` in a `/proc/PID/maps` text.
fn image_range(maps: &str, exe: &Path) -> Option<Image> {
    let exe = exe.to_str()?;
    let mut range: Option<Image> = None;
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(span), Some(path)) = (fields.next(), fields.nth(4)) else {
            continue;
        };
        if path != exe {
            continue;
        }
        let Some((a, b)) = span.split_once('-') else {
            continue;
        };
        let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else {
            continue;
        };
        let r = range.get_or_insert(Image { start: a, end: b });
        r.start = r.start.min(a);
        r.end = r.end.max(b);
    }
    range
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_time_limit_gets_its_margin_saturating() {
        let options = |secs| GuardOptions::default().child_time_limit(Duration::from_secs(secs));
        assert_eq!(options(5).timeout, Duration::from_secs(5) + CHILD_MARGIN);
        assert_eq!(options(18_446_744_073_709_551_600).timeout, Duration::MAX);
        assert_eq!(options(u64::MAX).timeout, Duration::MAX);
    }

    #[test]
    fn image_range_spans_the_executable_mappings() {
        let maps = "\
55d0c8e00000-55d0c8e10000 r--p 00000000 08:01 42 /usr/bin/lockhound
55d0c8e10000-55d0c8f00000 r-xp 00010000 08:01 42 /usr/bin/lockhound
7f3a2c000000-7f3a2c100000 r-xp 00000000 08:01 7 /usr/lib/libc.so.6
55d0c8f00000-55d0c8f10000 rw-p 00100000 08:01 42 /usr/bin/lockhound
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]
";
        let img = image_range(maps, Path::new("/usr/bin/lockhound")).unwrap();
        assert_eq!((img.start, img.end), (0x55d0_c8e0_0000, 0x55d0_c8f1_0000));
        assert!(!img.contains(0x7f3a_2c00_0010));
        assert!(image_range(maps, Path::new("/bin/other")).is_none());
    }

    #[test]
    fn allocator_frames_are_stripped_from_the_top_only() {
        let f = |s: Option<&str>| Frame { address: 0, symbol: s.map(str::to_string), file: None, line: None };
        let stack = vec![
            f(None),
            f(Some("backtrace::backtrace::trace_unsynchronized")),
            f(Some("lockhound::guard::stacks::capture")),
            f(Some("__rust_alloc")),
            f(Some("alloc::raw_vec::RawVec<T>::grow")),
            f(Some("my_app::main")),
            f(Some("lockhound::guard::child::run_guarded")),
        ];
        let kept = strip_allocator_frames(stack);
        let names: Vec<_> = kept.iter().map(|f| f.symbol.as_deref().unwrap()).collect();
        assert_eq!(
            names,
            ["alloc::raw_vec::RawVec<T>::grow", "my_app::main", "lockhound::guard::child::run_guarded"]
        );
        let plain = vec![f(Some("my_app::main")), f(Some("__rust_alloc"))];
        assert_eq!(strip_allocator_frames(plain).len(), 2);
    }
}
