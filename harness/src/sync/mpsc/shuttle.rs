//! The channel under shuttle: shuttle's own algorithm (shuttle-std's `mpsc`), with lockhound's
//! deadlock registry, trace notes and timed receives.
//!
//! Why not the loom version's mutex and condvar: they make an unbounded send three scheduling
//! points (lock, notify, unlock), a receive that waits five, and every clone and drop of a
//! sender two, where shuttle's channel has one scheduling point per send and per receive
//! (before it: sends, and receives, do not commute, since waiters are served in order) and
//! none for a clone or a drop, which no other thread can tell apart from a moment later. An
//! exhaustive search's schedules grow exponentially with the scheduling points, so a test
//! with a few messages that shuttle's `check_dfs` runs in milliseconds took lockhound minutes.
//!
//! Happens-before travels as in shuttle: each message carries its sender's vector clock,
//! which the receiver joins; a bounded channel carries the receiver's clock back to the send
//! that its receive made room for; a rendezvous send joins the clock of the receiver it hands
//! over to. A model checker runs one simulated thread at a time and switches only at its
//! scheduling points, so the state is plain memory, borrowed only between two of them.

use crate::rt::blocking::{Entering, Wait};
use crate::rt::record::Tag;
use crate::rt::wait;
use crate::rt::Engine;
use shuttle_engine::runtime::execution::ExecutionState;
use shuttle_engine::runtime::task::clock::VectorClock;
use shuttle_engine::runtime::task::TaskId;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::panic::Location;
use std::sync::mpsc::{RecvTimeoutError, TrySendError};

pub(super) struct Channel<T> {
    state: RefCell<State<T>>,
    /// `None` for an unbounded channel; `Some(0)` a rendezvous.
    bound: Option<usize>,
    tag: Tag,
}

// SAFETY: a shuttle channel belongs to one shuttle execution (its tag checks that every
// operation runs in it), whose simulated threads all run on one OS thread, one at a time; its
// state is only borrowed between two of their scheduling points, never across one. The
// messages it holds move between simulated threads as `T: Send` values do.
unsafe impl<T: Send> Send for Channel<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send> Sync for Channel<T> {}

struct State<T> {
    messages: VecDeque<(T, VectorClock)>,
    /// A bounded channel's receivers' clocks, one a receive, for the sends they make room for
    /// (it starts with `bound` empty clocks: the first `bound` sends need no room).
    receiver_clocks: VecDeque<VectorClock>,
    senders: usize,
    receiver: bool,
    /// Senders blocked on a bounded channel, served first come first.
    waiting_senders: VecDeque<TaskId>,
    /// The receiver, while it waits (there is one receiver: std's is neither `Clone` nor
    /// `Sync`).
    waiting_receiver: Option<TaskId>,
}

fn me() -> TaskId {
    ExecutionState::me()
}

fn wake(task: TaskId) {
    ExecutionState::with(|s| s.get_mut(task).unblock());
}

impl<T> Channel<T> {
    pub(super) fn new(bound: Option<usize>, tag: Tag) -> Channel<T> {
        Channel {
            state: RefCell::new(State {
                messages: VecDeque::new(),
                receiver_clocks: (0..bound.unwrap_or(0)).map(|_| VectorClock::new()).collect(),
                senders: 1,
                receiver: true,
                waiting_senders: VecDeque::new(),
                waiting_receiver: None,
            }),
            bound,
            tag,
        }
    }

    fn rendezvous(&self) -> bool {
        self.bound == Some(0)
    }

    /// Whether the message a bounded channel would take now has room (a rendezvous holds the
    /// one being handed over, and needs a receiver waiting for it).
    fn room(&self, state: &State<T>) -> bool {
        match self.bound {
            None => true,
            Some(bound) => {
                state.messages.len() < bound.max(1) && (bound > 0 || state.waiting_receiver.is_some())
            }
        }
    }

    /// Sends `message`, waiting for room if `block`, or fails at once.
    pub(super) fn send(
        &self,
        message: T,
        block: bool,
        at: &'static Location<'static>,
    ) -> Result<(), TrySendError<T>> {
        self.tag.expect(Engine::Shuttle);
        shuttle_engine::runtime::thread::switch();
        let me = me();
        let mut state = self.state.borrow_mut();
        if !state.receiver {
            return Err(TrySendError::Disconnected(message));
        }
        if !state.waiting_senders.is_empty() || !self.room(&state) {
            if !block {
                return Err(TrySendError::Full(message));
            }
            state.waiting_senders.push_back(me);
            drop(state);
            let entering = Entering::begin(Engine::Shuttle, "send", Wait::Notification { tag: self.tag }, at);
            // Woken when there is room for the first in line (or the receiver went); a
            // timed receive that gave up in between takes the room away again.
            loop {
                wait::block(Engine::Shuttle);
                let state = self.state.borrow();
                if !state.receiver || (state.waiting_senders.front() == Some(&me) && self.room(&state)) {
                    break;
                }
            }
            entering.end();
            state = self.state.borrow_mut();
            if !state.receiver {
                state.waiting_senders.retain(|t| *t != me);
                return Err(TrySendError::Disconnected(message));
            }
            state.waiting_senders.pop_front();
        }
        let clock = ExecutionState::with(|s| s.increment_clock().clone());
        state.messages.push_back((message, clock));
        if let Some(receiver) = state.waiting_receiver {
            wake(receiver);
            if self.rendezvous() {
                // The receiver waits for this message: its arrival happens before the send
                // returns.
                ExecutionState::with(|s| {
                    let theirs = s.get_clock(receiver).clone();
                    s.update_clock(&theirs);
                });
            }
        }
        if let Some(&next) = state.waiting_senders.front() {
            if self.room(&state) {
                wake(next);
            }
        }
        if self.bound.is_some_and(|b| b > 0) {
            if let Some(theirs) = state.receiver_clocks.pop_front() {
                ExecutionState::with(|s| s.update_clock(&theirs));
            }
        }
        Ok(())
    }

    /// Receives a message: waits for one (`wait`, with an optional timeout), or fails at once.
    pub(super) fn recv(
        &self,
        wait: Option<Option<std::time::Duration>>,
        at: &'static Location<'static>,
    ) -> Result<T, RecvTimeoutError> {
        self.tag.expect(Engine::Shuttle);
        shuttle_engine::runtime::thread::switch();
        let me = me();
        let mut state = self.state.borrow_mut();
        if state.messages.is_empty() && state.senders == 0 {
            return Err(RecvTimeoutError::Disconnected);
        }
        let mut timed = wait.and_then(|timeout| timeout).is_some();
        if state.messages.is_empty() {
            if self.rendezvous() && !state.waiting_senders.is_empty() {
                // A sender waits to hand a message over: this receive waits for it, even a
                // `try_recv` (the message is as good as there).
                if let Some(&sender) = state.waiting_senders.front() {
                    wake(sender);
                }
                timed = false;
            } else if wait.is_none() {
                return Err(RecvTimeoutError::Timeout);
            }
            // Counted now, for a rendezvous sender that joins this receiver's clock.
            ExecutionState::with(|s| {
                s.increment_clock();
            });
            state.waiting_receiver = Some(me);
            drop(state);
            if timed {
                // Timeouts are scheduler choices (see `rt::wait`): whatever came while the
                // others ran is received, else the deadline passed.
                wait::let_others_run(Engine::Shuttle);
            } else {
                let entering =
                    Entering::begin(Engine::Shuttle, "recv", Wait::Notification { tag: self.tag }, at);
                loop {
                    wait::block(Engine::Shuttle);
                    let state = self.state.borrow();
                    if !state.messages.is_empty() || state.senders == 0 {
                        break;
                    }
                }
                entering.end();
            }
            state = self.state.borrow_mut();
            state.waiting_receiver = None;
            if state.messages.is_empty() {
                return Err(if state.senders == 0 {
                    RecvTimeoutError::Disconnected
                } else {
                    RecvTimeoutError::Timeout
                });
            }
        }
        let (message, clock) = state.messages.pop_front().expect("a message is queued");
        if let Some(&sender) = state.waiting_senders.front() {
            if self.room(&state) {
                wake(sender);
            }
        }
        let mine = ExecutionState::with(|s| {
            s.update_clock(&clock);
            s.get_clock(me).clone()
        });
        if self.bound.is_some_and(|b| b > 0) {
            state.receiver_clocks.push_back(mine);
        }
        Ok(message)
    }

    pub(super) fn add_sender(&self) {
        self.state.borrow_mut().senders += 1;
    }

    pub(super) fn drop_sender(&self) {
        let mut state = self.state.borrow_mut();
        state.senders -= 1;
        if state.senders == 0 {
            if let Some(receiver) = state.waiting_receiver {
                wake(receiver);
            }
        }
    }

    pub(super) fn drop_receiver(&self) {
        let mut state = self.state.borrow_mut();
        state.receiver = false;
        for &sender in &state.waiting_senders {
            wake(sender);
        }
    }
}
