//! `async-starvation`: the hotdog pattern. A connection task handles every line already
//! buffered on its socket in one poll, never returning `Pending` while there is work, so the
//! single-threaded executor cannot poll anything else: the heartbeat that shares it is starved.
//! The fix yields to the executor after each line.
//!
//! Time is counted in work units on the executor's clock (`lockhound::executor`), not
//! measured, so a schedule always gives the same numbers: a line costs `LINE_WORK` units, and
//! a task that was ready and waited more than `BOUND` units for its poll is a finding of kind
//! `starvation`. The buggy connection task is only long-running when the client thread got
//! ahead of it (two lines buffered while the heartbeat is due): a scheduling bug, which
//! the engines find by letting the client thread run early.
//!
//! Which engines see it:
//! - loom, shuttle random, shuttle PCT and `auto` find the buggy variant (loom needs one
//!   preemption: the client thread delivering two lines before the executor drains the
//!   socket), with a replayable schedule and the same message on replay.
//! - On real threads (`stress`) the executor's virtual clock runs the heartbeat out in
//!   microseconds, before a newly spawned thread has delivered anything, so the body lets the
//!   client thread get ahead (a busy server, as under hotdog's load test) by pausing 1 ms
//!   before it runs the executor. The stress engine then sees the same finding every
//!   iteration.
//! - The fixed variant waits at most `LINE_WORK` units in every schedule: a poll handles at
//!   most one line.

use lockhound::executor::{yield_now, Clock, Executor, Units};
use lockhound::scenario::{Scenario, Variant};
use lockhound::sync::{Arc, Mutex};
use lockhound::thread;
use std::cell::Cell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// The scenario, as `lockhound list` shows it and the gate runs it.
pub fn scenario() -> Scenario {
    Scenario::new("async-starvation")
        .summary(
            "a connection task drains its buffered lines without yielding and starves the \
            heartbeat on the same executor",
        )
        .provenance(
            "hotdog, a syslog-to-Kafka forwarder (github.com/reiseburo/hotdog): R. Tyler \
            Croy, \"Building and debugging a high-throughput daemon in Rust\", brokenco.de, \
            2020-07-15; fix commit 4a6ede2, release 0.3.3",
            "After hotdog moved to async-std 1.6 (smol underneath), a connection task's loop over \
            the lines it had read (parse, match rules, template, send on channels with room) \
            never returned Pending while lines were buffered, so the executor thread polled \
            nothing else until the buffer was empty. Throughput \"dropped like a rock\": a load \
            test of 100k messages took 2:02. Wrapping futures to report polls that ran far too \
            long found it.",
            "Yield to the executor (`yield_now().await`) after each action, and handle each \
            message in a task of its own: the same load test took 7.7 s.",
        )
        .with(Variant::must_fail("buggy", buggy).description(
            "the connection task handles every buffered line in one poll and returns \
                    Pending only once the socket buffer is empty",
        ))
        .with(
            Variant::must_pass("fixed", fixed)
                .description("the connection task yields to the executor after each line it handles"),
        )
}

/// Lines the client sends.
const LINES: u32 = 3;
/// Work to handle one line (parse, rules, template, send), in units.
const LINE_WORK: Units = 3;
/// The heartbeat's period, and how many beats it sends: a bounded task, so that every
/// execution ends even where the client thread never runs.
const BEAT_EVERY: Units = 2;
const BEATS: u32 = 2;
/// The longest a ready task may wait for its poll: one line's work.
const BOUND: Units = LINE_WORK;

/// The connection's socket: lines received and not yet read, as the kernel buffers them.
#[derive(Default)]
struct Buffer {
    lines: VecDeque<u32>,
    closed: bool,
    /// The reader waiting for a line, if it found the buffer empty.
    reader: Option<Waker>,
}

struct Socket {
    buffer: Mutex<Buffer>,
}

impl Socket {
    fn new() -> Self {
        Socket { buffer: Mutex::named("socket buffer", Buffer::default()) }
    }

    /// The network side: a line arrives, and a waiting reader is woken.
    fn deliver(&self, line: u32) {
        let reader = {
            let mut buffer = self.buffer.lock().unwrap();
            buffer.lines.push_back(line);
            buffer.reader.take()
        };
        if let Some(reader) = reader {
            reader.wake();
        }
    }

    /// The client hangs up.
    fn close(&self) {
        let reader = {
            let mut buffer = self.buffer.lock().unwrap();
            buffer.closed = true;
            buffer.reader.take()
        };
        if let Some(reader) = reader {
            reader.wake();
        }
    }
}

/// The next line: ready at once while lines are buffered, as a buffered reader's
/// `lines().next()` is. That is what lets a loop over it run without ever yielding.
fn next_line(socket: &Arc<Socket>) -> NextLine {
    NextLine(socket.clone())
}

struct NextLine(Arc<Socket>);

impl Future for NextLine {
    type Output = Option<u32>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<u32>> {
        let mut buffer = self.0.buffer.lock().unwrap();
        match buffer.lines.pop_front() {
            Some(line) => Poll::Ready(Some(line)),
            None if buffer.closed => Poll::Ready(None),
            None => {
                buffer.reader = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// hotdog's connection handler: read lines until the client hangs up, handle each one.
async fn connection(socket: Arc<Socket>, clock: Clock, handled: Rc<Cell<u32>>, yield_per_line: bool) {
    while let Some(_line) = next_line(&socket).await {
        // Parse, match the rules, render the template, hand it to the Kafka publisher.
        clock.work(LINE_WORK);
        handled.set(handled.get() + 1);
        if yield_per_line {
            // The fix: let every other ready task run before the next line.
            yield_now().await;
        }
    }
}

/// A task that must run every `BEAT_EVERY` units (a health check, a metrics flush).
async fn heartbeat(clock: Clock, beats: Rc<Cell<u32>>) {
    for _ in 0..BEATS {
        clock.sleep(BEAT_EVERY).await;
        beats.set(beats.get() + 1);
    }
}

fn serve(yield_per_line: bool) {
    let socket = Arc::new(Socket::new());
    let client = {
        let socket = socket.clone();
        thread::spawn(move || {
            for line in 0..LINES {
                socket.deliver(line);
            }
            socket.close();
        })
    };
    if !lockhound::is_model_checked() {
        // On real threads the virtual clock would run the heartbeat out before the new thread
        // delivers anything: let the client get ahead, as a busy server lets lines pile up.
        std::thread::sleep(Duration::from_millis(1));
    }
    // Oracle counters: plain cells on the executor's thread, no scheduling points.
    let (handled, beats) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let mut executor = Executor::new().starvation_bound(BOUND);
    executor.spawn("heartbeat", heartbeat(executor.clock(), beats.clone()));
    executor.spawn("connection", connection(socket, executor.clock(), handled.clone(), yield_per_line));
    executor.run();
    client.join().unwrap();
    assert_eq!(handled.get(), LINES, "every line handled");
    assert_eq!(beats.get(), BEATS, "every beat sent");
}

fn buggy() {
    serve(false)
}

fn fixed() {
    serve(true)
}
