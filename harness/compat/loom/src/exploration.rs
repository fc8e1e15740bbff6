//! loom's `explore`, `stop_exploring` and `skip_branch`: requests to loom's search about the
//! execution in progress. Under lockhound's loom engine they go to loom; under its shuttle
//! strategies, which sample schedules rather than search a tree of them, there is nothing to
//! prune and they do nothing (every schedule shuttle runs is still a real one).

use std::cell::Cell;

/// Where the current execution's exploration stands. loom asserts on a request that does not
/// fit its state (`explore` while exploring); lockhound always starts exploring (it ignores
/// `Builder::expect_explicit_explore`), so requests that would change nothing are dropped here
/// rather than failing the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Exploring,
    Stopped,
    Skipping,
}

std::thread_local! {
    // One per OS thread: every simulated thread of an execution runs on the OS thread of the
    // execution, and loom's exploration state is the execution's, not a simulated thread's.
    static STATE: Cell<State> = const { Cell::new(State::Exploring) };
}

/// Called by the model at the start of every execution.
pub(crate) fn begin_execution() {
    STATE.with(|s| s.set(State::Exploring));
}

/// Tells loom to explore concurrent executions again from this point (after
/// [`stop_exploring`]).
pub fn explore() {
    if lockhound::is_loom_execution() && STATE.with(Cell::get) == State::Stopped {
        loom::explore();
        STATE.with(|s| s.set(State::Exploring));
    }
}

/// Tells loom to stop exploring concurrent executions from this point, until [`explore`].
pub fn stop_exploring() {
    if lockhound::is_loom_execution() && STATE.with(Cell::get) == State::Exploring {
        loom::stop_exploring();
        STATE.with(|s| s.set(State::Stopped));
    }
}

/// Tells loom to explore no further alternatives from this point in this execution; unlike
/// [`stop_exploring`], [`explore`] does not undo it.
pub fn skip_branch() {
    if lockhound::is_loom_execution() && STATE.with(Cell::get) != State::Skipping {
        loom::skip_branch();
        STATE.with(|s| s.set(State::Skipping));
    }
}
