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

/// Crates whose frames are machinery, not the user's code: the standard library's (thread
/// start, `catch_unwind`, boxed closures), the unwinder's, lockhound's own (the facade, the
/// tracker, the engine that runs the body) and libtest's (the base of a `cargo test` thread).
const MACHINERY: &[&str] = &["std", "core", "alloc", "backtrace", "lockhound", "test"];

/// Symbols without a Rust path below and around every thread: the C runtime's and std's.
const RUNTIME: &[&str] = &[
    "main",
    "_start",
    "__libc_start_main",
    "__libc_start_call_main",
    "start_thread",
    "clone",
    "clone3",
    "__clone",
    "__clone3",
    "__rust_try",
    "__rust_begin_short_backtrace",
    "__rust_end_short_backtrace",
    "rust_begin_unwind",
];

/// Whether a demangled function name is machinery: a C runtime symbol, or a Rust path
/// whose every owner is a [`MACHINERY`] crate. The owners of `a::b::f` are `a`; of
/// `<Type as Trait>::f` the crates of `Type` and of `Trait` (`<core::panic::AssertUnwindSafe<F>
/// as core::ops::FnOnce<()>>::call_once` is machinery, `<app::Pool as core::ops::Drop>::drop`
/// is the user's); of `<Type>::f` the crate of `Type`.
pub(crate) fn is_noise(function: &str) -> bool {
    let owners: Vec<&str> = match qualified_self(function) {
        Some((ty, tr)) => [Some(ty), tr].into_iter().flatten().filter_map(crate_of).collect(),
        None => crate_of(function).into_iter().collect(),
    };
    if owners.is_empty() {
        // A qualified path over primitive types or generic parameters only (`<[T]>::sort`,
        // `<F as Trait>` without a crate) is std's; a bare symbol, the runtime's if listed.
        return function.starts_with('<') || RUNTIME.contains(&function);
    }
    owners.iter().all(|c| MACHINERY.contains(c))
}

/// Whether a frame's source file is machinery: std's (`/rustc/<hash>/library/...`), a
/// [`MACHINERY`] crate's folder (`backtrace-0.3.75/src/...`), or lockhound's own sources.
/// Needed because names are not always paths: debug info of `debug = "line-tables-only"`
/// names a frame `lock<u64>`, not `lockhound::sync::Mutex<T>::lock`.
pub(crate) fn is_machinery_file(path: &str) -> bool {
    let path = path.replace('\\', "/");
    if path.starts_with("/rustc/") && path.contains("/library/") {
        return true;
    }
    let own = concat!(env!("CARGO_MANIFEST_DIR"), "/src/").replace('\\', "/");
    if path.starts_with(&own) {
        return true;
    }
    // A registry or vendored crate folder, `<name>-<version>/src/`.
    path.split('/').collect::<Vec<_>>().windows(2).any(|w| {
        w[1] == "src"
            && w[0].rsplit_once('-').is_some_and(|(name, version)| {
                version.starts_with(|c: char| c.is_ascii_digit()) && MACHINERY.contains(&name)
            })
    })
}

/// `<Type as Trait>::...` split into `Type` and `Trait`; `<Type>::...` into `Type` alone.
fn qualified_self(function: &str) -> Option<(&str, Option<&str>)> {
    let rest = function.strip_prefix('<')?;
    let bytes = rest.as_bytes();
    let mut depth = 0usize;
    let mut as_at = None;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'<' => depth += 1,
            // The arrow of `dyn Fn() -> T` closes nothing.
            b'>' if i > 0 && bytes[i - 1] == b'-' => {}
            b'>' if depth == 0 => {
                return Some(match as_at {
                    Some(a) => (&rest[..a], Some(&rest[a + 4..i])),
                    None => (&rest[..i], None),
                });
            }
            b'>' => depth -= 1,
            b' ' if depth == 0 && as_at.is_none() && rest[i..].starts_with(" as ") => as_at = Some(i),
            _ => {}
        }
    }
    None
}

/// The crate a type or path starts with (`alloc` for `alloc::boxed::Box<..>`, `core` for
/// `&mut core::fmt::Formatter`), if it starts with a path at all.
fn crate_of(path: &str) -> Option<&str> {
    let mut p = path.trim_start();
    loop {
        let before = p;
        for prefix in ["&", "*const ", "*mut ", "mut ", "dyn ", "impl ", "[", "("] {
            p = p.strip_prefix(prefix).unwrap_or(p).trim_start();
        }
        if p == before {
            break;
        }
    }
    let end = p.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(p.len());
    (end > 0 && p[end..].starts_with("::")).then(|| &p[..end])
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
                let path = sym.filename().map(|p| p.to_string_lossy().into_owned());
                if is_noise(&function) || path.as_deref().is_some_and(is_machinery_file) {
                    continue;
                }
                frames.push(Frame {
                    function,
                    file: path.map(|p| crate::source_path::shorten(&p)),
                    line: sym.lineno(),
                });
            }
        }
        out.insert(id, frames);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::is_noise;

    #[test]
    fn machinery_frames_are_noise_and_the_users_are_not() {
        for f in [
            "<std::sys::thread::unix::Thread>::new::thread_start",
            "<alloc::boxed::Box<dyn core::ops::function::FnOnce<(), Output = ()> + core::marker::Send> as \
             core::ops::function::FnOnce<()>>::call_once",
            "<core::panic::unwind_safe::AssertUnwindSafe<F> as core::ops::function::FnOnce<()>>::call_once",
            "<F as core::ops::function::FnOnce<()>>::call_once",
            "std::panicking::try::do_call",
            "std::sys::backtrace::__rust_begin_short_backtrace",
            "std::thread::Builder::spawn_unchecked_::{{closure}}::{{closure}}",
            "core::ops::function::FnOnce::call_once{{vtable.shim}}",
            "<lockhound::sync::mutex::Mutex<T>>::lock",
            "lockhound::rt::std_run::run_iteration::{{closure}}",
            "backtrace::backtrace::trace_unsynchronized",
            "test::run_test::{{closure}}",
            "<[T]>::sort_by",
            "start_thread",
            "clone3",
        ] {
            assert!(is_noise(f), "{f} kept");
        }
        for f in [
            "lockhound_scenarios::bounded_cache::Cache::get_or_prepare",
            "myapp::main::{{closure}}",
            "<myapp::Pool as core::ops::drop::Drop>::drop",
            "<core::option::Option<T> as myapp::OptionExt>::or_log",
            "<myapp::Router<dyn core::ops::function::Fn() -> u32>>::route",
            "<&mut myapp::Conn as std::io::Write>::write",
            "lockhound_user::work",
            "my_c_callback",
        ] {
            assert!(!is_noise(f), "{f} dropped");
        }
    }

    #[test]
    fn machinery_files_are_told_by_their_folder_whatever_the_names_say() {
        let own = concat!(env!("CARGO_MANIFEST_DIR"), "/src/tracker/mutex.rs");
        for f in [
            "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/std/src/thread/mod.rs",
            "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/backtrace-0.3.75/src/backtrace/mod.rs",
            "/usr/local/cargo/registry/src/x/lockhound-0.1.0/src/sync/mutex.rs",
            own,
        ] {
            assert!(super::is_machinery_file(f), "{f} kept");
        }
        for f in [
            "/home/u/myapp/src/pool.rs",
            "/home/u/myapp/src/lockhound.rs",
            "/home/u/.cargo/registry/src/x/lockhound-scenarios-0.1.0/src/bounded_cache.rs",
            "/home/u/.cargo/registry/src/x/parking_lot-0.12.4/src/raw_mutex.rs",
        ] {
            assert!(!super::is_machinery_file(f), "{f} dropped");
        }
    }
}
