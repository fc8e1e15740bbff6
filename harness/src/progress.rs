//! How far a run has got, for a progress line: the executions begun since a point in time,
//! read from the number every execution takes when it begins (no counting of its own, so it
//! costs a run nothing).
//!
//! The count is process-wide: every engine, every lane, and every run going on at the same
//! time (tests of one binary run side by side) add to it. A command line that runs one thing
//! at a time shows exactly that thing's executions, replays and minimization included.

/// Executions counted from the moment [`ExecutionCounter::start`] was called.
#[derive(Clone, Copy, Debug)]
pub struct ExecutionCounter {
    at_start: u32,
}

impl ExecutionCounter {
    /// Counting from now.
    pub fn start() -> ExecutionCounter {
        ExecutionCounter { at_start: crate::rt::executions_begun() }
    }

    /// Executions begun since [`ExecutionCounter::start`] (exact up to 2^32 of them; the
    /// count wraps beyond, which no progress line lives long enough to see).
    pub fn executions(&self) -> u64 {
        u64::from(crate::rt::executions_begun().wrapping_sub(self.at_start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Backend, Check};

    #[test]
    fn every_execution_of_a_run_is_counted() {
        let counter = ExecutionCounter::start();
        let report = Check::new().backend(Backend::ShuttleRandom).iterations(50).explore(|| {
            let t = crate::thread::spawn(|| {});
            t.join().unwrap();
        });
        assert!(report.passed());
        // Tests of this binary run side by side and count too: at least this run's 50.
        assert!(counter.executions() >= 50, "{} executions counted", counter.executions());
    }
}
