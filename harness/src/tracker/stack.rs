//! Stacks: captured raw (`Backtrace::new_unresolved`, no symbol lookup) and interned by their
//! instruction pointers; symbolized only when a report is built. An acquisition site keeps
//! the first stack seen reaching it, lockdep style, so the uncontended path never unwinds.

use backtrace::Backtrace;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::OnceLock;

/// Index of an interned stack.
pub(crate) type StackId = u32;

/// No stack was captured.
pub(crate) const NO_STACK: StackId = u32::MAX;

#[derive(Default)]
struct Stacks {
    by_ips: HashMap<Vec<usize>, StackId>,
    raw: Vec<Backtrace>,
    /// First stack seen at each acquisition site (keyed by the `Location` address).
    by_site: HashMap<usize, StackId>,
    /// The sites themselves, so an address published by a thread can be read back safely.
    sites: HashMap<usize, &'static Location<'static>>,
}

fn stacks() -> &'static Mutex<Stacks> {
    static STACKS: OnceLock<Mutex<Stacks>> = OnceLock::new();
    STACKS.get_or_init(Default::default)
}

/// Captures the calling thread's stack, unresolved, and interns it.
#[inline(never)]
pub(crate) fn capture() -> StackId {
    let bt = Backtrace::new_unresolved();
    let ips: Vec<usize> = bt.frames().iter().map(|f| f.ip() as usize).collect();
    let mut s = stacks().lock();
    if let Some(&id) = s.by_ips.get(&ips) {
        return id;
    }
    let id = s.raw.len() as StackId;
    s.raw.push(bt);
    s.by_ips.insert(ips, id);
    id
}

/// The first stack seen at `site`, capturing the current one if there is none yet.
pub(crate) fn site_stack(site: &'static Location<'static>) -> StackId {
    let key = site as *const Location as usize;
    if let Some(&id) = stacks().lock().by_site.get(&key) {
        return id;
    }
    let id = capture();
    let mut s = stacks().lock();
    s.sites.insert(key, site);
    *s.by_site.entry(key).or_insert(id)
}

/// The site whose address is `key`, if a thread acquired a lock there.
pub(crate) fn site_of(key: usize) -> Option<&'static Location<'static>> {
    stacks().lock().sites.get(&key).copied()
}

/// The first stack recorded at `site`, if any (never captures).
pub(crate) fn known_site_stack(site: usize) -> StackId {
    stacks().lock().by_site.get(&site).copied().unwrap_or(NO_STACK)
}

/// One symbolized frame.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Frame {
    /// Demangled function name without its hash.
    pub function: String,
    pub file: Option<String>,
    pub line: Option<u32>,
}

/// Frames of lockhound's own machinery and of the std runtime: noise in a user's report.
fn is_noise(function: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "lockhound::tracker::",
        "lockhound::sync::",
        "lockhound::rt::",
        "lockhound::thread::",
        "backtrace::",
        "std::rt::",
        "std::sys",
        "std::panic",
        "std::thread::",
        "core::ops::function",
        "core::panic",
        "<alloc::boxed::Box<F,A> as core::ops::function",
    ];
    const EXACT: &[&str] = &[
        "__rust_begin_short_backtrace",
        "__rust_try",
        "start_thread",
        "clone3",
        "__clone",
        "__libc_start_main",
        "__libc_start_call_main",
        "_start",
        "main",
    ];
    PREFIXES.iter().any(|p| function.starts_with(p))
        || EXACT.contains(&function)
        || function.starts_with("std::sys::backtrace::__rust_begin_short_backtrace")
}

/// Resolves stacks to frames, innermost first, trimmed of noise. Symbolization is slow, so
/// it happens once per stack and only here.
pub(crate) fn symbolize(ids: &[StackId]) -> HashMap<StackId, Vec<Frame>> {
    let mut out = HashMap::new();
    let mut s = stacks().lock();
    for &id in ids {
        if id == NO_STACK || out.contains_key(&id) {
            continue;
        }
        let Some(bt) = s.raw.get_mut(id as usize) else { continue };
        bt.resolve();
        let mut frames = Vec::new();
        for frame in bt.frames() {
            for sym in frame.symbols() {
                let Some(name) = sym.name() else { continue };
                let function = format!("{name:#}");
                if is_noise(&function) {
                    continue;
                }
                frames.push(Frame {
                    function,
                    file: sym.filename().map(|p| p.display().to_string()),
                    line: sym.lineno(),
                });
            }
        }
        out.insert(id, frames);
    }
    out
}
