//! Which binary this is: the `lockhound` command line, or a user's lockhound test target; and
//! so how the commands it prints (replays, reruns) must be written to work when pasted.

use std::path::{Path, PathBuf};

/// Set by `cargo lockhound` for the targets it runs: how to invoke this target through it
/// (`cargo lockhound`, `cargo lockhound --package queue`), so that printed commands go back
/// through `cargo lockhound` too.
pub const PROGRAM_ENV: &str = "LOCKHOUND_PROGRAM";

/// What kind of binary runs the library, and what it knows of itself.
#[derive(Clone, Debug)]
pub struct Target {
    kind: Kind,
    miri: bool,
}

#[derive(Clone, Debug)]
enum Kind {
    /// A binary run by name or path, like the `lockhound` command line.
    CommandLine,
    /// A `harness = false` test target of a package.
    Test { package: String, name: String, manifest_dir: PathBuf },
}

impl Target {
    /// A command-line binary (the built-in `lockhound`): commands only, no test-harness mode;
    /// printed commands start the way this process was started.
    pub fn command_line() -> Target {
        Target { kind: Kind::CommandLine, miri: cfg!(miri) }
    }

    /// A test target (`harness = false`) called `name` in `package`, whose manifest is in
    /// `manifest_dir`; `miri` when built by `cargo miri`. Written by [`crate::target!`].
    pub fn test_target(package: &str, name: &str, manifest_dir: &str, miri: bool) -> Target {
        Target {
            kind: Kind::Test {
                package: package.to_string(),
                name: name.to_string(),
                manifest_dir: PathBuf::from(manifest_dir),
            },
            miri,
        }
    }

    /// Whether, without a lockhound command, this binary is a libtest-compatible harness.
    pub fn is_test_harness(&self) -> bool {
        matches!(self.kind, Kind::Test { .. })
    }

    /// Built to run under miri.
    pub fn is_miri(&self) -> bool {
        self.miri
    }

    /// Where the gate's config is looked for when `--config` is not given: the package root of
    /// a test target (whatever the working folder), the working folder otherwise.
    pub fn default_config(&self) -> PathBuf {
        match &self.kind {
            Kind::Test { manifest_dir, .. } => manifest_dir.join("lockhound.toml"),
            Kind::CommandLine => PathBuf::from("lockhound.toml"),
        }
    }

    /// The package of a test target.
    pub fn package(&self) -> Option<&str> {
        match &self.kind {
            Kind::Test { package, .. } => Some(package),
            Kind::CommandLine => None,
        }
    }

    /// How to invoke this binary's commands in a command a user pastes: what `cargo lockhound`
    /// said (`LOCKHOUND_PROGRAM`), else `cargo test -p PACKAGE --test NAME --` for a test
    /// target (with `--release` when this binary is a release build), else the way this
    /// process was started.
    pub fn program(&self) -> String {
        if let Some(program) = std::env::var_os(PROGRAM_ENV).and_then(|p| p.into_string().ok()) {
            if !program.trim().is_empty() {
                return program;
            }
        }
        match &self.kind {
            Kind::Test { package, name, .. } => {
                let release = if built_in_release() { " --release" } else { "" };
                format!("cargo test{release} -p {package} --test {name} --")
            }
            Kind::CommandLine => started_as(),
        }
    }
}

/// Whether this executable sits in a release profile's output (`target/release/deps/...`).
fn built_in_release() -> bool {
    std::env::current_exe().ok().is_some_and(|exe| {
        exe.parent().and_then(Path::parent).and_then(Path::file_name).is_some_and(|n| n == "release")
    })
}

/// The way this process was started: a bare name found on `PATH` as it is; a path relative to
/// the working folder when it is inside it.
fn started_as() -> String {
    let arg0 = std::env::args().next().unwrap_or_else(|| "lockhound".into());
    let path = Path::new(&arg0);
    if path.components().count() <= 1 {
        return arg0;
    }
    match std::env::current_dir().ok().and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf)) {
        Some(rel) => format!("./{}", rel.display()),
        None => arg0,
    }
}
