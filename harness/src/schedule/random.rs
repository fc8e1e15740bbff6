//! Uniformly random scheduling, seeded. shuttle's own `RandomScheduler` prints its seed to
//! stderr whenever it is dropped mid-run, which a tool that stops on its own budget always
//! does; lockhound's recorder already makes every failure replayable, so it needs only the
//! choice itself.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use shuttle::scheduler::{Schedule as ShuttleSchedule, Scheduler, Task, TaskId};

pub(crate) struct Random {
    rng: SmallRng,
    seed: u64,
}

impl Random {
    pub(crate) fn new(seed: u64) -> Self {
        Random { rng: SmallRng::seed_from_u64(seed), seed }
    }
}

impl Scheduler for Random {
    fn new_execution(&mut self) -> Option<ShuttleSchedule> {
        Some(ShuttleSchedule::new(self.seed))
    }

    fn next_task(&mut self, runnable: &[&Task], _current: Option<TaskId>, _yielding: bool) -> Option<TaskId> {
        Some(runnable[self.rng.gen_range(0..runnable.len())].id())
    }

    fn next_u64(&mut self) -> u64 {
        self.rng.gen()
    }
}
