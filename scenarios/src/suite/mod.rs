//! The bug-finding suite: classic and hard concurrency programs, each in a correct version and
//! one or more buggy ones, beyond the built-in catalog (which models real incidents). It
//! measures the search itself: which engine finds which bug, in how many executions
//! (`benches/suite.rs`, docs/performance.md), and that no engine flags a correct version
//! (`tests/suite.rs`).
//!
//! The programs are written for lockhound against the facade, after the shapes that
//! concurrency-testing benchmarks use (dining philosophers, SCTBench's reorder and two-stage
//! programs, spin and ticket locks, a work-stealing deque, a Treiber stack, a bounded buffer, a
//! barrier) and sized where searches get hard: many threads, long executions, retry loops.

pub mod aba_stack;
pub mod barrier;
pub mod bounded_buffer;
pub mod long_run;
pub mod philosophers;
pub mod reorder;
pub mod spinlock;
pub mod ticket_lock;
pub mod twostage;
pub mod work_stealing;

/// A program of the suite.
#[derive(Debug)]
pub struct Program {
    /// Short name, like `dining-philosophers`.
    pub name: &'static str,
    /// One line saying what the program does and where its bugs are.
    pub description: &'static str,
    pub versions: &'static [Version],
}

/// One version of a program.
#[derive(Debug)]
pub struct Version {
    /// `correct`, `buggy`, with the size when a program comes in several (`buggy-8`).
    pub name: &'static str,
    pub expected: Expected,
    /// One line saying what this version does.
    pub description: &'static str,
    pub body: fn(),
}

/// What a version must do under exploration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// The bug is there: an engine that finds it is right.
    Fail,
    /// Correct: no engine may ever flag it.
    Pass,
}

/// Every program of the suite.
pub fn suite() -> &'static [&'static Program] {
    static SUITE: [&Program; 10] = [
        &philosophers::PROGRAM,
        &reorder::PROGRAM,
        &twostage::PROGRAM,
        &spinlock::PROGRAM,
        &ticket_lock::PROGRAM,
        &work_stealing::PROGRAM,
        &aba_stack::PROGRAM,
        &bounded_buffer::PROGRAM,
        &barrier::PROGRAM,
        &long_run::PROGRAM,
    ];
    &SUITE
}

/// Every version of every program, with its program.
pub fn versions() -> impl Iterator<Item = (&'static Program, &'static Version)> {
    suite().iter().flat_map(|p| p.versions.iter().map(move |v| (*p, v)))
}
