//! Counts the facade keeps of a loom execution, so that a body loom cannot model ends loom's
//! attempt with a typed reason instead of a panic that would read like the body's own.
//!
//! loom models at most `loom::MAX_THREADS` threads per execution (the main thread included)
//! and asserts it when one too many is spawned. The facade counts the threads of the current
//! execution and, at the spawn of one too many, notes the limit here and unwinds the execution
//! with a payload of its own, before loom's assertion. It also counts `yield_now` calls: they
//! say why an execution that ran past loom's branch limit was so long (a spin or retry loop).
//!
//! Every thread of a loom execution runs as a coroutine of the OS thread that runs the search,
//! so one thread-local serves them all.

use std::cell::Cell;

#[derive(Clone, Copy, Default)]
struct Counts {
    /// A search of lockhound's loom engine is running on this thread. Outside one (a body
    /// driven by `loom::model` itself through `explore::with_engine`) nothing is counted and
    /// loom's limits are loom's own.
    active: bool,
    /// Threads of the current execution, main included.
    threads: usize,
    /// `yield_now` calls in the current execution.
    yields: u64,
    /// The most threads any execution of the search had.
    most_threads: usize,
    /// Some execution of the search tried to spawn more threads than loom models.
    over_thread_limit: bool,
    /// Where the current execution spawned its threads, in order.
    spawns: SpawnSites,
}

/// Where an execution spawned its threads, in order: a digest of each spawn's source location
/// (file, line, column). A loom path is only meaningful on the body it was recorded on, and a
/// body from elsewhere spawns its threads elsewhere (`explore::loom::replay`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SpawnSites {
    sites: [u32; SpawnSites::MAX],
    len: u8,
}

impl SpawnSites {
    /// More than loom's threads: a spawn past its limit ends the execution anyway.
    const MAX: usize = 8;

    fn push(&mut self, at: &std::panic::Location<'_>) {
        if usize::from(self.len) < Self::MAX {
            self.sites[usize::from(self.len)] = digest(at);
            self.len += 1;
        }
    }

    pub(crate) fn as_slice(&self) -> &[u32] {
        &self.sites[..usize::from(self.len)]
    }
}

/// FNV-1a over a location's file, line and column: stable from build to build of the same
/// source, which is what a schedule is replayed on.
fn digest(at: &std::panic::Location<'_>) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let line = at.line().to_le_bytes();
    let column = at.column().to_le_bytes();
    for &b in at.file().as_bytes().iter().chain(&[0]).chain(&line).chain(&column) {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h
}

thread_local! {
    static COUNTS: Cell<Counts> = const {
        Cell::new(Counts {
            active: false,
            threads: 0,
            yields: 0,
            most_threads: 0,
            over_thread_limit: false,
            spawns: SpawnSites { sites: [0; SpawnSites::MAX], len: 0 },
        })
    };
}

fn update(f: impl FnOnce(&mut Counts)) {
    COUNTS.with(|c| {
        let mut counts = c.get();
        f(&mut counts);
        c.set(counts);
    });
}

/// The payload that unwinds a loom execution at the spawn of one thread too many.
pub(crate) struct OverThreadLimit;

/// Counting on for a search of lockhound's loom engine, from zero, until the returned guard is
/// dropped.
pub(crate) fn search_starts() -> Counting {
    COUNTS.with(|c| c.set(Counts { active: true, ..Counts::default() }));
    Counting
}

/// Counting stops when dropped (the counts stay readable).
pub(crate) struct Counting;

impl Drop for Counting {
    fn drop(&mut self) {
        update(|c| c.active = false);
    }
}

/// Called before each execution of a loom search.
pub(crate) fn execution_starts() {
    update(|c| {
        c.threads = 1;
        c.yields = 0;
        c.spawns = SpawnSites::default();
        c.most_threads = c.most_threads.max(1);
    });
}

/// Called by the facade before it asks loom for a thread, which the body spawns `at`; returns
/// the new thread's number in the execution (loom numbers its threads in the order they are
/// created, main 0), inside a search of lockhound's loom engine.
#[track_caller]
pub(crate) fn before_spawn(at: &'static std::panic::Location<'static>) -> Option<usize> {
    let mut over = false;
    let mut number = None;
    update(|c| {
        if !c.active {
            return;
        }
        c.spawns.push(at);
        if c.threads >= loom::MAX_THREADS {
            c.over_thread_limit = true;
            over = true;
        } else {
            number = Some(c.threads);
            c.threads += 1;
            c.most_threads = c.most_threads.max(c.threads);
        }
    });
    if over {
        std::panic::panic_any(OverThreadLimit);
    }
    number
}

/// Called by the facade's `yield_now` under loom.
pub(crate) fn yielded() {
    update(|c| c.yields += u64::from(c.active));
}

/// What the search has counted so far.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seen {
    pub most_threads: usize,
    /// Yields of the current (or last) execution.
    pub yields: u64,
    pub over_thread_limit: bool,
    /// Where the current (or last) execution spawned its threads.
    pub spawns: SpawnSites,
}

pub(crate) fn seen() -> Seen {
    let c = COUNTS.with(Cell::get);
    Seen {
        most_threads: c.most_threads,
        yields: c.yields,
        over_thread_limit: c.over_thread_limit,
        spawns: c.spawns,
    }
}
