//! Channels, like `std::sync::mpsc`: `channel` (unbounded) and `sync_channel` (bounded; a bound
//! of 0 makes each send wait for its receive), with std's errors and disconnect semantics.
//!
//! On real threads they are std's own. Under loom (which has no bounded channel and no
//! `recv_timeout`), an implementation over a facade mutex and condvar; under shuttle, shuttle's
//! own algorithm, with its scheduling points (see `shuttle`). Under both, every send and
//! receive is a scheduling point, and `recv_timeout` ends by a message or by its deadline,
//! whichever the scheduler lets happen first (see `Condvar::wait_timeout`), both explored and
//! replayable.

mod shuttle;

pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

use super::{note, Condvar, Mutex};
use crate::rt::record::Tag;
use crate::rt::{self, unwind, Engine};
use std::collections::VecDeque;
use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

/// The sending half of a [`channel`].
pub struct Sender<T> {
    imp: SenderImp<T>,
}

enum SenderImp<T> {
    Model(Arc<Channel<T>>),
    Std(std::sync::mpsc::Sender<T>),
}

/// The sending half of a [`sync_channel`].
pub struct SyncSender<T> {
    imp: SyncSenderImp<T>,
}

enum SyncSenderImp<T> {
    Model(Arc<Channel<T>>),
    Std(std::sync::mpsc::SyncSender<T>),
}

/// The receiving half of a channel.
pub struct Receiver<T> {
    imp: ReceiverImp<T>,
}

enum ReceiverImp<T> {
    Model(Arc<Channel<T>>),
    Std(std::sync::mpsc::Receiver<T>),
}

/// A model-checked channel: loom's or shuttle's.
struct Channel<T> {
    imp: ChannelImp<T>,
    tag: Tag,
}

// The loom variant holds a facade mutex inline (a shuttle lock's vector clock is in its type,
// see `Mutex`); a channel lives behind an `Arc` made once, so its size costs nothing worth an
// allocation more.
#[allow(clippy::large_enum_variant)]
enum ChannelImp<T> {
    Loom(LoomChannel<T>),
    Shuttle(shuttle::Channel<T>),
}

/// The channel under loom: its queue and ends behind a facade mutex, and two condvars.
struct LoomChannel<T> {
    state: Mutex<State<T>>,
    /// A message came, or the last sender went.
    readable: Condvar,
    /// Room came (bounded), a message was taken (bound 0), or the receiver went.
    writable: Condvar,
    /// `None` for an unbounded channel.
    bound: Option<usize>,
}

struct State<T> {
    queue: VecDeque<T>,
    senders: usize,
    receiver: bool,
    /// Messages ever sent and ever received: a sender on a rendezvous channel waits for its
    /// own message's number to be received.
    sent: u64,
    received: u64,
    /// Receivers waiting for a message now (a `try_send` on a rendezvous channel needs one).
    waiting_receivers: usize,
}

/// An unbounded channel, like `std::sync::mpsc::channel`.
#[track_caller]
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    match rt::engine() {
        Engine::Loom | Engine::Shuttle => {
            let chan = Channel::new(None);
            (Sender { imp: SenderImp::Model(chan.clone()) }, Receiver { imp: ReceiverImp::Model(chan) })
        }
        Engine::Std => {
            let (tx, rx) = std::sync::mpsc::channel();
            (Sender { imp: SenderImp::Std(tx) }, Receiver { imp: ReceiverImp::Std(rx) })
        }
    }
}

/// A channel that holds at most `bound` messages, like `std::sync::mpsc::sync_channel`: a
/// send waits for room, and with a bound of 0 for the receive of its message.
#[track_caller]
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    match rt::engine() {
        Engine::Loom | Engine::Shuttle => {
            let chan = Channel::new(Some(bound));
            (
                SyncSender { imp: SyncSenderImp::Model(chan.clone()) },
                Receiver { imp: ReceiverImp::Model(chan) },
            )
        }
        Engine::Std => {
            let (tx, rx) = std::sync::mpsc::sync_channel(bound);
            (SyncSender { imp: SyncSenderImp::Std(tx) }, Receiver { imp: ReceiverImp::Std(rx) })
        }
    }
}

impl<T> Channel<T> {
    #[track_caller]
    fn new(bound: Option<usize>) -> Arc<Channel<T>> {
        let tag = Tag::new("channel", Location::caller()).with_name("channel");
        let imp = match rt::engine() {
            Engine::Shuttle => ChannelImp::Shuttle(shuttle::Channel::new(bound, tag)),
            _ => ChannelImp::Loom(LoomChannel::new(bound)),
        };
        Arc::new(Channel { imp, tag })
    }

    /// Sends `message`, waiting for room if the channel is bounded (`block`), or fails at once.
    #[track_caller]
    fn send(&self, message: T, block: bool) -> Result<(), TrySendError<T>> {
        match &self.imp {
            ChannelImp::Loom(chan) => chan.send(message, block),
            ChannelImp::Shuttle(chan) => chan.send(message, block, Location::caller()),
        }
    }

    /// Receives a message: waits for one (`wait` with an optional timeout), or fails at once.
    #[track_caller]
    fn recv(&self, wait: Option<Option<Duration>>) -> Result<T, RecvTimeoutError> {
        match &self.imp {
            ChannelImp::Loom(chan) => chan.recv(wait),
            ChannelImp::Shuttle(chan) => chan.recv(wait, Location::caller()),
        }
    }

    fn add_sender(&self) {
        match &self.imp {
            ChannelImp::Loom(chan) => chan.add_sender(),
            ChannelImp::Shuttle(chan) => chan.add_sender(),
        }
    }

    fn drop_sender(&self) {
        match &self.imp {
            ChannelImp::Loom(chan) => chan.drop_sender(),
            ChannelImp::Shuttle(chan) => chan.drop_sender(),
        }
    }

    fn drop_receiver(&self) {
        match &self.imp {
            ChannelImp::Loom(chan) => chan.drop_receiver(),
            ChannelImp::Shuttle(chan) => chan.drop_receiver(),
        }
    }

    #[track_caller]
    fn note(&self, op: &str) {
        note(rt::model_engine(), &self.tag, op);
    }
}

impl<T> LoomChannel<T> {
    fn new(bound: Option<usize>) -> LoomChannel<T> {
        LoomChannel {
            state: Mutex::named(
                "channel",
                State {
                    queue: VecDeque::new(),
                    senders: 1,
                    receiver: true,
                    sent: 0,
                    received: 0,
                    waiting_receivers: 0,
                },
            ),
            readable: Condvar::named("channel"),
            writable: Condvar::named("channel"),
            bound,
        }
    }

    fn lock(&self) -> super::MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `message`, waiting for room if the channel is bounded (`block`), or fails at once.
    #[track_caller]
    fn send(&self, message: T, block: bool) -> Result<(), TrySendError<T>> {
        let mut state = self.lock();
        if self.bound == Some(0)
            && !block
            && state.receiver
            && (state.waiting_receivers == 0 || !state.queue.is_empty())
        {
            // A rendezvous `try_send` hands over only to a receiver that waits now.
            return Err(TrySendError::Full(message));
        }
        if let Some(bound) = self.bound {
            // A rendezvous channel holds the message being handed over, one at a time.
            let room = bound.max(1);
            while state.receiver && state.queue.len() >= room {
                if !block {
                    return Err(TrySendError::Full(message));
                }
                state = self.writable.wait_as(state, "send").unwrap_or_else(|p| p.into_inner());
            }
        }
        if !state.receiver {
            return Err(TrySendError::Disconnected(message));
        }
        state.queue.push_back(message);
        state.sent += 1;
        let mine = state.sent;
        self.readable.notify_one();
        if self.bound == Some(0) && block {
            // The handover: wait until the receiver has taken this message.
            while state.received < mine && state.receiver {
                state = self.writable.wait_as(state, "send").unwrap_or_else(|p| p.into_inner());
            }
            if state.received < mine {
                // The receiver went first: the message is still queued, and comes back.
                let message = state.queue.pop_back().expect("an untaken message is queued");
                return Err(TrySendError::Disconnected(message));
            }
        }
        Ok(())
    }

    /// Receives a message: waits for one (`wait` with an optional timeout), or fails at once.
    #[track_caller]
    fn recv(&self, wait: Option<Option<Duration>>) -> Result<T, RecvTimeoutError> {
        let mut state = self.lock();
        loop {
            if let Some(message) = state.queue.pop_front() {
                state.received += 1;
                if self.bound.is_some() {
                    self.writable.notify_all();
                }
                return Ok(message);
            }
            if state.senders == 0 {
                return Err(RecvTimeoutError::Disconnected);
            }
            match wait {
                None => return Err(RecvTimeoutError::Timeout),
                Some(None) => {
                    state.waiting_receivers += 1;
                    state = self.readable.wait_as(state, "recv").unwrap_or_else(|p| p.into_inner());
                    state.waiting_receivers -= 1;
                }
                Some(Some(timeout)) => {
                    state.waiting_receivers += 1;
                    let (woken, result) =
                        self.readable.wait_timeout(state, timeout).unwrap_or_else(|p| p.into_inner());
                    state = woken;
                    state.waiting_receivers -= 1;
                    if result.timed_out() && state.queue.is_empty() {
                        return Err(if state.senders == 0 {
                            RecvTimeoutError::Disconnected
                        } else {
                            RecvTimeoutError::Timeout
                        });
                    }
                }
            }
        }
    }

    fn add_sender(&self) {
        self.lock().senders += 1;
    }

    fn drop_sender(&self) {
        let mut state = self.lock();
        state.senders -= 1;
        if state.senders == 0 {
            self.readable.notify_all();
        }
    }

    fn drop_receiver(&self) {
        let mut state = self.lock();
        state.receiver = false;
        self.writable.notify_all();
    }
}

impl<T> Sender<T> {
    /// Sends `message`; `Err` gives it back when the receiver is gone.
    #[track_caller]
    pub fn send(&self, message: T) -> Result<(), SendError<T>> {
        match &self.imp {
            SenderImp::Model(chan) => {
                chan.note("send");
                chan.send(message, true).map_err(|e| match e {
                    TrySendError::Full(m) | TrySendError::Disconnected(m) => SendError(m),
                })
            }
            SenderImp::Std(tx) => tx.send(message),
        }
    }
}

impl<T> SyncSender<T> {
    /// Sends `message`, waiting for room; `Err` gives it back when the receiver is gone.
    #[track_caller]
    pub fn send(&self, message: T) -> Result<(), SendError<T>> {
        match &self.imp {
            SyncSenderImp::Model(chan) => {
                chan.note("send");
                chan.send(message, true).map_err(|e| match e {
                    TrySendError::Full(m) | TrySendError::Disconnected(m) => SendError(m),
                })
            }
            SyncSenderImp::Std(tx) => tx.send(message),
        }
    }

    /// Sends `message` if there is room now (on a channel of bound 0: if a receiver waits).
    #[track_caller]
    pub fn try_send(&self, message: T) -> Result<(), TrySendError<T>> {
        match &self.imp {
            SyncSenderImp::Model(chan) => {
                chan.note("try_send");
                chan.send(message, false)
            }
            SyncSenderImp::Std(tx) => tx.try_send(message),
        }
    }
}

impl<T> Receiver<T> {
    /// Waits for a message; `Err` once every sender is gone and the queue is empty.
    #[track_caller]
    pub fn recv(&self) -> Result<T, RecvError> {
        match &self.imp {
            ReceiverImp::Model(chan) => {
                chan.note("recv");
                chan.recv(Some(None)).map_err(|_| RecvError)
            }
            ReceiverImp::Std(rx) => {
                rt::expect_real();
                rx.recv()
            }
        }
    }

    /// A message if one is queued now.
    #[track_caller]
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        match &self.imp {
            ReceiverImp::Model(chan) => {
                chan.note("try_recv");
                chan.recv(None).map_err(|e| match e {
                    RecvTimeoutError::Timeout => TryRecvError::Empty,
                    RecvTimeoutError::Disconnected => TryRecvError::Disconnected,
                })
            }
            ReceiverImp::Std(rx) => rx.try_recv(),
        }
    }

    /// Waits for a message at most `timeout`. Under loom and shuttle the timeout is the
    /// scheduler's choice, whatever its length; on real threads it is real.
    #[track_caller]
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        match &self.imp {
            ReceiverImp::Model(chan) => {
                chan.note("recv_timeout");
                chan.recv(Some(Some(timeout)))
            }
            ReceiverImp::Std(rx) => rx.recv_timeout(timeout),
        }
    }

    /// An iterator that waits for each message, until every sender is gone.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over the messages queued now.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }
}

/// Waits for each message of a [`Receiver`]; see [`Receiver::iter`].
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

/// The messages a [`Receiver`] holds now; see [`Receiver::try_iter`].
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

/// Waits for each message of a [`Receiver`] it owns.
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        let imp = match &self.imp {
            SenderImp::Model(chan) => {
                chan.add_sender();
                SenderImp::Model(chan.clone())
            }
            SenderImp::Std(tx) => SenderImp::Std(tx.clone()),
        };
        Sender { imp }
    }
}

impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> Self {
        let imp = match &self.imp {
            SyncSenderImp::Model(chan) => {
                chan.add_sender();
                SyncSenderImp::Model(chan.clone())
            }
            SyncSenderImp::Std(tx) => SyncSenderImp::Std(tx.clone()),
        };
        SyncSender { imp }
    }
}

// The ends of a model-checked channel tell the others when they go, except while the engine
// fails or tears down the execution (see `rt::unwind`): no one is left to tell then.

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let SenderImp::Model(chan) = &self.imp {
            if !unwind::engine_gone() {
                chan.drop_sender();
            }
        }
    }
}

impl<T> Drop for SyncSender<T> {
    fn drop(&mut self) {
        if let SyncSenderImp::Model(chan) = &self.imp {
            if !unwind::engine_gone() {
                chan.drop_sender();
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let ReceiverImp::Model(chan) = &self.imp {
            if !unwind::engine_gone() {
                chan.drop_receiver();
            }
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sender { .. }")
    }
}

impl<T> fmt::Debug for SyncSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SyncSender { .. }")
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Receiver { .. }")
    }
}
