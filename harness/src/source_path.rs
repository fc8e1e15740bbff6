//! Source paths as a person reads them in a report: relative to the user's workspace, and a
//! dependency's file by its crate (`parking_lot-0.12.5/src/mutex.rs`) instead of the
//! absolute path of the build machine's Cargo cache.
//!
//! Paths come in two forms: `#[track_caller]` locations of a workspace member's code are
//! already relative to the workspace root (Cargo runs rustc there), while debug information
//! (symbolized stacks) has absolute paths. Both are shortened the same way, by what the paths
//! themselves show (Cargo's cache layout, the Rust toolchain's) and by the workspace root,
//! which is found from `CARGO_MANIFEST_DIR` (set by `cargo run` and `cargo test`) or else
//! the current directory, never from this repository's own layout.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// `path` as a report shows it: see the module documentation. A path none of the rules
/// shortens is returned as it is.
pub fn shorten(path: &str) -> String {
    shorten_in(path, workspace_roots())
}

/// [`shorten`] against the given workspace roots.
pub fn shorten_in(path: &str, roots: &[PathBuf]) -> String {
    if let Some((_, rest)) = cache_entry(path, "/registry/src/") {
        // `<CARGO_HOME>/registry/src/<index>-<hash>/<crate>-<version>/...`
        return rest.to_owned();
    }
    if let Some((repo, rest)) = cache_entry(path, "/git/checkouts/") {
        // `<CARGO_HOME>/git/checkouts/<repo>-<hash>/<revision>/...`
        let rest = rest.split_once('/').map_or(rest, |(_, r)| r);
        return format!("{repo}/{rest}");
    }
    if let Some(rest) = toolchain_library(path) {
        // The Rust toolchain's own sources: `std/src/...`, `core/src/...`.
        return rest.to_owned();
    }
    let p = Path::new(path);
    if p.is_absolute() {
        // The deepest root that contains it (a workspace nested in another's folder).
        let relative = roots
            .iter()
            .filter_map(|root| p.strip_prefix(root).ok())
            .min_by_key(|rest| rest.components().count());
        if let Some(rest) = relative {
            return rest.display().to_string();
        }
    }
    path.to_owned()
}

/// The folder after `marker`, if it is named like a Cargo cache entry (`<name>-<16 hex
/// digits>`): its name without the hash, and what follows it.
fn cache_entry<'a>(path: &'a str, marker: &str) -> Option<(&'a str, &'a str)> {
    let i = path.find(marker)? + marker.len();
    let (dir, rest) = path[i..].split_once('/')?;
    let (name, hash) = dir.rsplit_once('-')?;
    let hashed = !name.is_empty() && hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit());
    (hashed && !rest.is_empty()).then_some((name, rest))
}

/// The part of `path` from a Rust toolchain's library folder on, if it is one
/// (`/rustc/<commit>/library/std/src/...` in debug information, or a `rust-src` component's
/// `.../lib/rustlib/src/rust/library/std/src/...`).
fn toolchain_library(path: &str) -> Option<&str> {
    const RUST_SRC: &str = "/lib/rustlib/src/rust/library/";
    if let Some(i) = path.find(RUST_SRC) {
        return Some(&path[i + RUST_SRC.len()..]);
    }
    let rest = path.strip_prefix("/rustc/")?;
    let (commit, rest) = rest.split_once('/')?;
    let hex = !commit.is_empty() && commit.bytes().all(|b| b.is_ascii_hexdigit());
    hex.then(|| rest.strip_prefix("library/")).flatten()
}

/// The user's workspace roots, found once: from `CARGO_MANIFEST_DIR` if it is set, and from
/// the current directory.
fn workspace_roots() -> &'static [PathBuf] {
    static ROOTS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let starts =
            [std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from), std::env::current_dir().ok()];
        let mut roots: Vec<PathBuf> = Vec::new();
        for root in starts.into_iter().flatten().filter_map(|dir| workspace_root(&dir)) {
            if !roots.contains(&root) {
                roots.push(root);
            }
        }
        roots
    })
}

/// The root of the Cargo workspace `dir` is in: the nearest folder at or above it whose
/// `Cargo.toml` has a `[workspace]` table, else the nearest folder with a `Cargo.toml` (a
/// package alone), else none.
pub fn workspace_root(dir: &Path) -> Option<PathBuf> {
    let mut package = None;
    for d in dir.ancestors() {
        let Ok(text) = std::fs::read_to_string(d.join("Cargo.toml")) else { continue };
        // A `[workspace]` table (or one of its sub-tables) starts a line of its own; reading
        // the manifest's lines spares the harness a TOML parser.
        if declares_workspace(&text) {
            return Some(d.to_path_buf());
        }
        package.get_or_insert_with(|| d.to_path_buf());
    }
    package
}

/// Whether a manifest's text has a `[workspace]` table (or a `[workspace.*]` sub-table).
fn declares_workspace(manifest: &str) -> bool {
    manifest.lines().map(str::trim_start).any(|line| {
        line.strip_prefix("[workspace").is_some_and(|rest| rest.starts_with(']') || rest.starts_with('.'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_tables_are_told_from_packages() {
        assert!(declares_workspace("[package]\nname = \"a\"\n\n[workspace]\n"));
        assert!(declares_workspace("[workspace.dependencies]\nx = \"1\"\n"));
        assert!(!declares_workspace("[package]\nname = \"workspace\"\n# [workspace]\n"));
        assert!(!declares_workspace("[workspaces]\n"));
    }

    fn roots() -> Vec<PathBuf> {
        vec![PathBuf::from("/home/ana/shop"), PathBuf::from("/home/ana/shop/tools/gen")]
    }

    #[test]
    fn dependencies_are_shown_by_crate_and_toolchain_files_by_library() {
        let r = roots();
        for (path, shown) in [
            (
                "/home/ana/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/parking_lot-0.12.5/src/mutex.rs",
                "parking_lot-0.12.5/src/mutex.rs",
            ),
            ("/usr/local/cargo/registry/src/github.com-1ecc6299db9ec823/rand-0.8.5/src/lib.rs", "rand-0.8.5/src/lib.rs"),
            ("/home/ana/.cargo/git/checkouts/loom-0a1b2c3d4e5f6789/4d1e2f3/src/rt/mod.rs", "loom/src/rt/mod.rs"),
            (
                "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/std/src/thread/mod.rs",
                "std/src/thread/mod.rs",
            ),
            (
                "/home/ana/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/lib/rustlib/src/rust/library/core/src/ops/function.rs",
                "core/src/ops/function.rs",
            ),
        ] {
            assert_eq!(shorten_in(path, &r), shown, "{path}");
        }
    }

    #[test]
    fn workspace_files_are_relative_to_the_deepest_root() {
        let r = roots();
        assert_eq!(shorten_in("/home/ana/shop/orders/src/queue.rs", &r), "orders/src/queue.rs");
        assert_eq!(shorten_in("/home/ana/shop/tools/gen/src/main.rs", &r), "src/main.rs");
        // Already relative (a `#[track_caller]` location), or outside every root: unchanged.
        assert_eq!(shorten_in("orders/src/queue.rs", &r), "orders/src/queue.rs");
        assert_eq!(shorten_in("/opt/vendor/lib.rs", &r), "/opt/vendor/lib.rs");
        // Folders that only look like Cargo's cache are not trimmed.
        assert_eq!(shorten_in("/srv/registry/src/notes/a.rs", &r), "/srv/registry/src/notes/a.rs");
        assert_eq!(shorten_in("/home/ana/shop/library/src/lib.rs", &r), "library/src/lib.rs");
    }

    #[test]
    fn the_workspace_root_is_the_nearest_folder_declaring_a_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("shop");
        let member = ws.join("orders");
        std::fs::create_dir_all(member.join("src")).unwrap();
        std::fs::write(ws.join("Cargo.toml"), "[workspace]\nmembers = [\"orders\"]\n").unwrap();
        std::fs::write(member.join("Cargo.toml"), "[package]\nname = \"orders\"\n").unwrap();
        assert_eq!(workspace_root(&member.join("src")), Some(ws.clone()));
        assert_eq!(workspace_root(&ws), Some(ws.clone()));
        // A package alone is its own root; a broken manifest does not stop the search.
        let alone = dir.path().join("alone");
        std::fs::create_dir_all(&alone).unwrap();
        std::fs::write(alone.join("Cargo.toml"), "[package\nname = ").unwrap();
        assert_eq!(workspace_root(&alone), Some(alone.clone()));
    }
}
