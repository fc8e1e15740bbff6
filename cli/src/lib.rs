//! lockhound's command line as a library. The `lockhound` binary is this library over the
//! built-in catalog; a user's test target is this library over the user's own scenarios:
//!
//! ```toml
//! # Cargo.toml
//! [dev-dependencies]
//! lockhound = "0.1"
//! lockhound-cli = "0.1"
//!
//! [[test]]
//! name = "lockhound"
//! harness = false
//! ```
//!
//! ```ignore
//! // tests/lockhound.rs
//! lockhound_cli::main!(my_crate_tests::queue(), my_crate_tests::cache());
//! ```
//!
//! That test binary is lockhound for those scenarios: `cargo test --test lockhound -- run queue
//! --variant buggy`, `... -- check --junit FILE`, `track`, `replay`, `run --guard-pages`; and
//! with no command a libtest-compatible harness, one test per gate case, so plain `cargo test`
//! and `cargo nextest run` run the gate (see [`harness`]). `cargo lockhound` (the
//! `cargo-lockhound` binary of this package) finds such targets in a workspace and forwards a
//! command to them.
//!
//! The library parses and prints; exploring is the harness's (`lockhound`), rendering is
//! `lockhound-reports`'. The CI gate's policy (its config file, corpus, shards) is in [`gate`].

mod args;
pub mod cargo;
mod commands;
pub mod gate;
pub mod harness;
mod logging;
mod output;
mod target;

pub use lockhound::scenario::{IntoScenarios, Scenario, Variant};
pub use target::Target;

use std::process::ExitCode;

/// A command's failure: bad usage or input (exit 2), said in one line.
#[derive(Debug)]
pub(crate) struct UsageError(pub String);

impl<T: std::fmt::Display> From<T> for UsageError {
    fn from(e: T) -> Self {
        UsageError(e.to_string())
    }
}

/// What a command reports back: whether it found something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Clean,
    Found,
}

/// Runs this process as lockhound over `scenarios`: parses the command line, runs the command
/// and returns the exit status (0 nothing found, 1 a finding, 2 bad usage or input). As a test
/// target ([`Target::test_target`]), a command line without a lockhound command runs the gate's
/// cases as a libtest-compatible test harness instead.
pub fn run(scenarios: impl IntoScenarios, target: Target) -> ExitCode {
    let scenarios = scenarios.into_scenarios();
    let catalog = match commands::Catalog::new(scenarios) {
        Ok(catalog) => catalog,
        Err(e) => return output::usage_error(&e.0),
    };
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if target.is_test_harness() && !args::names_a_command(&args) {
        return harness::run(&catalog, &target);
    }
    commands::run(&catalog, &target, args)
}

/// The `main` of a lockhound test target: `lockhound_cli::main!(scenario, ...)` expands to a
/// `fn main` that runs [`run`] over the scenarios given (each a [`Scenario`] or a collection of
/// them) and installs lockhound's guard-page allocator as the global allocator (off unless
/// `run --guard-pages` turns it on, in a child process; one relaxed load per allocation
/// otherwise). A target that has its own global allocator writes `fn main` itself and calls
/// [`run`] with [`target!`].
#[macro_export]
macro_rules! main {
    ($($scenarios:expr),+ $(,)?) => {
        #[global_allocator]
        static LOCKHOUND_GUARD_ALLOC: $crate::__private::GuardAlloc = $crate::__private::GuardAlloc::from_env_lazy();

        fn main() -> ::std::process::ExitCode {
            let mut scenarios = ::std::vec::Vec::new();
            $(scenarios.extend($crate::IntoScenarios::into_scenarios($scenarios));)+
            $crate::run(scenarios, $crate::target!())
        }
    };
}

/// The [`Target`] of the crate this is written in: a test target of its package, built with
/// or without miri (the macro expands where the target is compiled, so `cfg!(miri)` and the
/// package's name are the target's own).
#[macro_export]
macro_rules! target {
    () => {
        $crate::Target::test_target(
            env!("CARGO_PKG_NAME"),
            env!("CARGO_CRATE_NAME"),
            env!("CARGO_MANIFEST_DIR"),
            cfg!(miri),
        )
    };
}

#[doc(hidden)]
pub mod __private {
    pub use lockhound::guard::GuardAlloc;
}
