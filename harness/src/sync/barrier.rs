//! A barrier, like `std::sync::Barrier`: std's own on real threads; under loom (whose
//! `Barrier` is a stub) and shuttle, std's algorithm over a facade mutex and condvar, so its
//! waits are explored like any other.

use super::{Condvar, Mutex};
use crate::rt::{self, Engine};
use std::fmt;

pub struct Barrier {
    imp: BarrierImp,
}

// The model variant holds a shuttle lock and its vector clock inline (see `Mutex`); a barrier
// is made once per body, so its size costs nothing worth an allocation.
#[allow(clippy::large_enum_variant)]
enum BarrierImp {
    Model { lock: Mutex<Generation>, all_here: Condvar, threads: usize },
    Std(std::sync::Barrier),
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
            Engine::Loom | Engine::Shuttle => BarrierImp::Model {
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
