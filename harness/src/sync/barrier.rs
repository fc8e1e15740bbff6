//! A barrier, like `std::sync::Barrier`: std's own on real threads; under loom (whose
//! `Barrier` is a stub), std's algorithm over a facade mutex and condvar, so its waits are
//! explored like any other; under shuttle, a barrier of lockhound's own with the scheduling
//! points of shuttle's (see [`ShuttleBarrier`]).

use super::{note_at, Condvar, Mutex};
use crate::rt::blocking::{Entering, Wait};
use crate::rt::record::Tag;
use crate::rt::wait::{self, Sleeper};
use crate::rt::{self, Engine};
use shuttle_engine::runtime::execution::ExecutionState;
use shuttle_engine::runtime::task::clock::VectorClock;
use std::cell::RefCell;
use std::fmt;
use std::panic::Location;

pub struct Barrier {
    imp: BarrierImp,
}

// The model variant holds a shuttle lock and its vector clock inline (see `Mutex`); a barrier
// is made once per body, so its size costs nothing worth an allocation.
#[allow(clippy::large_enum_variant)]
enum BarrierImp {
    Model { lock: Mutex<Generation>, all_here: Condvar, threads: usize },
    Shuttle(ShuttleBarrier),
    Std(std::sync::Barrier),
}

/// A barrier under shuttle, with one scheduling point per wait, where shuttle's own barrier
/// has it: before the wait that releases the others (its arrival is seen by them), and the
/// switch away from a thread that blocks. Arrivals that block commute with each other (who
/// waits is a set), so the one before a blocking arrival is left out, as shuttle leaves it
/// out. The mutex and condvar of the loom version take five scheduling points for a waiter
/// and three for the last to arrive: on a body with a few barriers, the difference is most
/// of an exhaustive search's schedules.
struct ShuttleBarrier {
    state: RefCell<ShuttleState>,
    tag: Tag,
}

struct ShuttleState {
    threads: usize,
    /// Generations released so far.
    generation: u64,
    /// The threads of the current generation that wait.
    waiting: Vec<Sleeper>,
    /// What the arrivals of the current generation did, joined: each released thread joins it
    /// (a barrier's wait synchronizes with every other thread's wait of that generation).
    arrived: VectorClock,
    /// The released generations whose waiters have not all run since: (generation, what its
    /// arrivals did, waiters yet to take it).
    released: Vec<(u64, VectorClock, usize)>,
}

// SAFETY: a shuttle barrier belongs to one shuttle execution (its tag checks that every
// operation runs in it), whose simulated threads all run on one OS thread, one at a time; its
// state is only borrowed between two of their scheduling points, never across one.
unsafe impl Send for ShuttleBarrier {}
// SAFETY: as for `Send`.
unsafe impl Sync for ShuttleBarrier {}

impl ShuttleBarrier {
    fn new(threads: usize, at: &'static Location<'static>) -> ShuttleBarrier {
        ShuttleBarrier {
            state: RefCell::new(ShuttleState {
                threads,
                generation: 0,
                waiting: Vec::new(),
                arrived: VectorClock::new(),
                released: Vec::new(),
            }),
            // Named as the loom version's condvar is, so a deadlock reads the same under both.
            tag: Tag::new("Barrier", at).with_name("Barrier"),
        }
    }

    fn wait(&self, at: &'static Location<'static>) -> BarrierWaitResult {
        self.tag.expect(Engine::Shuttle);
        note_at(Some(Engine::Shuttle), &self.tag, "wait", at);
        let releases = {
            let state = self.state.borrow();
            state.waiting.len() + 1 >= state.threads
        };
        if releases {
            shuttle_engine::runtime::thread::switch();
        }
        let mut state = self.state.borrow_mut();
        ExecutionState::with(|s| {
            let clock = s.increment_clock();
            state.arrived.update(clock);
        });
        let mine = state.generation;
        if state.waiting.len() + 1 < state.threads {
            state.waiting.push(Sleeper::current(Engine::Shuttle));
            drop(state);
            let entering = Entering::begin(Engine::Shuttle, "wait", Wait::Notification { tag: self.tag }, at);
            // Woken only by the release of this thread's generation; a stray wake-up blocks
            // again.
            while self.state.borrow().generation == mine {
                wait::block(Engine::Shuttle);
            }
            entering.end();
            let mut state = self.state.borrow_mut();
            let i = state.released.iter().position(|(g, _, _)| *g == mine).expect("a released generation");
            let clock = state.released[i].1.clone();
            state.released[i].2 -= 1;
            if state.released[i].2 == 0 {
                state.released.swap_remove(i);
            }
            drop(state);
            ExecutionState::with(|s| s.update_clock(&clock));
            note_at(Some(Engine::Shuttle), &self.tag, "released", at);
            BarrierWaitResult(false)
        } else {
            // The last to arrive: releases the generation and leads it (std's leader).
            let waiting = std::mem::take(&mut state.waiting);
            let clock = std::mem::replace(&mut state.arrived, VectorClock::new());
            if !waiting.is_empty() {
                state.released.push((mine, clock.clone(), waiting.len()));
            }
            state.generation += 1;
            drop(state);
            ExecutionState::with(|s| s.update_clock(&clock));
            for sleeper in waiting {
                sleeper.wake();
            }
            BarrierWaitResult(true)
        }
    }
}

struct Generation {
    arrived: usize,
    id: usize,
}

/// What [`Barrier::wait`] returns, like `std::sync::BarrierWaitResult`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// Whether this thread was the leader: the last one to arrive, exactly one per generation.
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` threads (a barrier for 0 or 1 threads never blocks).
    #[track_caller]
    pub fn new(n: usize) -> Barrier {
        let imp = match rt::engine() {
            Engine::Shuttle => BarrierImp::Shuttle(ShuttleBarrier::new(n, Location::caller())),
            Engine::Loom => BarrierImp::Model {
                lock: Mutex::named("Barrier", Generation { arrived: 0, id: 0 }),
                all_here: Condvar::named("Barrier"),
                threads: n,
            },
            Engine::Std => BarrierImp::Std(std::sync::Barrier::new(n)),
        };
        Barrier { imp }
    }

    /// Blocks until `n` threads have called `wait`, then lets them all go on.
    #[track_caller]
    pub fn wait(&self) -> BarrierWaitResult {
        match &self.imp {
            BarrierImp::Model { lock, all_here, threads } => {
                let mut generation = lock.lock().unwrap_or_else(|p| p.into_inner());
                let mine = generation.id;
                generation.arrived += 1;
                if generation.arrived < *threads {
                    while mine == generation.id {
                        generation = all_here.wait_as(generation, "wait").unwrap_or_else(|p| p.into_inner());
                    }
                    BarrierWaitResult(false)
                } else {
                    generation.arrived = 0;
                    generation.id = generation.id.wrapping_add(1);
                    all_here.notify_all();
                    BarrierWaitResult(true)
                }
            }
            BarrierImp::Shuttle(barrier) => barrier.wait(Location::caller()),
            BarrierImp::Std(barrier) => {
                rt::expect_real();
                BarrierWaitResult(barrier.wait().is_leader())
            }
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Barrier { .. }")
    }
}

// As std's `Barrier` (a mutex and a condvar, both unwind safe): it holds no user data.
impl std::panic::RefUnwindSafe for Barrier {}
