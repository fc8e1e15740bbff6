//! Where a panic was raised: in the body (or the facade on its behalf: facade calls carry the
//! caller's location), or inside a model checker's own code. Only an engine's own panics are
//! classified as its verdicts (a data race, a deadlock, a leak), loom's by the file that raised
//! them (`FindingKind::of_engine_panic`): a body's assertion that happens to say "leaked" is a
//! panic of the body.

/// The crate an engine's source file belongs to, from the file's path as a panic location
/// gives it: `.../loom-0.7.3/src/rt/path.rs`, a git checkout or a vendored copy alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EngineCrate {
    Loom,
    Shuttle,
}

/// The engine crate `location` (`file:line`) lies in, if any, and the file's path inside that
/// crate's `src/` (`rt/path.rs`).
pub(crate) fn engine_file(location: &str) -> Option<(EngineCrate, &str)> {
    let file = location.rsplit_once(':').map_or(location, |(file, _)| file);
    let parts: Vec<&str> = file.split('/').collect();
    // The last `<crate>[-<version>]/src/` pair: a path may pass through other folders of that
    // name before it.
    let at = (0..parts.len().saturating_sub(1))
        .rev()
        .find(|&i| parts[i + 1] == "src" && crate_of(parts[i]).is_some())?;
    let engine = crate_of(parts[at])?;
    let inner_start: usize = parts[..at + 2].iter().map(|p| p.len() + 1).sum();
    Some((engine, file.get(inner_start..).unwrap_or("")))
}

/// The engine of a source folder named `loom`, `loom-0.7.3`, `shuttle-engine-0.1.7`, ...
fn crate_of(folder: &str) -> Option<EngineCrate> {
    let name = match folder.rfind('-') {
        Some(i) if folder[i + 1..].starts_with(|c: char| c.is_ascii_digit()) => &folder[..i],
        _ => folder,
    };
    match name {
        "loom" => Some(EngineCrate::Loom),
        "shuttle" | "shuttle-engine" | "shuttle-schedulers" | "shuttle-std" => Some(EngineCrate::Shuttle),
        _ => None,
    }
}

/// Whether `location` is inside loom's or shuttle's own code.
pub(crate) fn raised_by_engine(location: &str) -> bool {
    engine_file(location).is_some()
}

/// Whether `location` is loom's exploration-path bookkeeping (`rt/path.rs`), whose assertions
/// are its branch limit and the consistency of a path it replays: never the body's failure.
pub(crate) fn in_loom_path(location: &str) -> bool {
    engine_file(location) == Some((EngineCrate::Loom, "rt/path.rs"))
}

/// Whether `location` is in the parts of loom that follow an exploration path: its path
/// (`rt/path.rs`), the object store the path indexes into (`rt/object.rs`) and the thread set
/// it schedules from (`rt/thread.rs`: a path recorded before the body changed can name a
/// thread that does not exist yet). A replayed path that does not fit the body fails there
/// (an assertion, an index out of bounds); loom's findings (deadlocks, data races, leaks) are
/// raised elsewhere.
pub(crate) fn in_loom_path_following(location: &str) -> bool {
    matches!(engine_file(location), Some((EngineCrate::Loom, "rt/path.rs" | "rt/object.rs" | "rt/thread.rs")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_sources_are_told_from_the_body_by_their_crate_folder() {
        let registry =
            "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/loom-0.7.3/src/rt/path.rs:117";
        assert_eq!(engine_file(registry), Some((EngineCrate::Loom, "rt/path.rs")));
        assert!(in_loom_path(registry));
        assert!(in_loom_path("/vendor/loom/src/rt/path.rs:117"));
        let shuttle = "/r/shuttle-engine-0.1.7/src/runtime/execution.rs:271";
        assert_eq!(engine_file(shuttle), Some((EngineCrate::Shuttle, "runtime/execution.rs")));
        // A user's crate that merely has an engine's name in its folder's name, or a file
        // called path.rs of its own, is the body.
        for body in [
            "/home/u/loom-tests/src/rt/path.rs:3",
            "/home/u/shuttle-demo/src/lib.rs:9",
            "src/rt/path.rs:12",
            "scenarios/src/idr_aba.rs:40",
            "/home/u/my-loom/src/main.rs:1",
        ] {
            assert_eq!(engine_file(body), None, "{body}");
        }
        assert!(!in_loom_path("/r/loom-0.7.3/src/rt/thread.rs:230"));
        // Following a path: loom's thread set too, but never where loom raises its findings.
        assert!(in_loom_path_following("/r/loom-0.7.3/src/rt/thread.rs:259"));
        assert!(in_loom_path_following("/r/loom-0.7.3/src/rt/object.rs:12"));
        for finding_site in ["rt/execution.rs:230", "rt/location.rs:115", "rt/arc.rs:40"] {
            assert!(!in_loom_path_following(&format!("/r/loom-0.7.3/src/{finding_site}")), "{finding_site}");
        }
    }
}
