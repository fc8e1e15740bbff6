//! What happened in one failing execution, step by step: the data behind a Lincheck-style
//! trace. Recorded by the facade while a failure is replayed (never during the search, which
//! keeps exploration fast). Every field is typed data (the object, the values, the source
//! line), never text made for a person: [`text`] renders it for `lockhound::check`'s failures
//! and the reports crate alike, and the reports crate's JSON keeps every event as recorded.

pub mod text;

use serde::Serialize;

/// One execution, as the facade saw it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Trace {
    /// Threads, by id: 0 is the body's main thread, the others in the order they were spawned.
    pub threads: usize,
    pub events: Vec<Event>,
    /// The failure that ended the execution.
    pub failure: Option<TraceFailure>,
}

/// One facade operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    /// 1-based position in the execution.
    pub step: usize,
    pub thread: usize,
    /// The object operated on; `None` for thread operations (`spawn`, `join`, ...).
    pub object: Option<Object>,
    /// `load`, `store`, `fetch_add`, `lock`, `unlock`, `wait`, `spawn`, `join`, ...
    pub op: String,
    /// Values read and written, when the operation has any.
    pub value: Option<Value>,
    /// Source line of the call, when it has one (a guard's drop has none).
    pub location: Option<SourceLine>,
    /// This step runs on another thread than the step before: a context switch.
    pub switched: bool,
    /// The switch before this step was a preemption: the thread of the step before could have
    /// gone on (it was not blocked in a lock another thread held, a join or a wait, had not
    /// yielded, slept or ended). Counted from what the facade saw, so it means the same under
    /// every engine.
    pub preempted: bool,
    /// The operation never returned: the thread was blocked in it when the execution ended
    /// (a deadlock's lock attempts).
    pub blocked: bool,
}

impl Trace {
    /// The preemptions of the execution: the switches away from a thread that could have
    /// gone on (see [`Event::preempted`]).
    pub fn preemptions(&self) -> usize {
        self.events.iter().filter(|e| e.preempted).count()
    }
}

/// A facade object, as a trace tells it apart from the others.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Object {
    /// `Mutex`, `AtomicUsize`, `Condvar`, ...
    pub kind: String,
    /// The name its author gave it (`Mutex::named`), if any.
    pub name: Option<String>,
    /// Where it was created.
    pub created: SourceLine,
    /// Its number among the objects created on that line in the execution, from 1: the
    /// elements of an array literal, or two constructors on one line, are 1, 2, ...
    pub instance: u32,
}

/// A line of source, `file` as the compiler names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceLine {
    pub file: String,
    pub line: u32,
}

/// What an operation read and wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    /// A load saw this.
    Read(Scalar),
    /// A store wrote this.
    Written(Scalar),
    /// A read-modify-write (a swap, a `fetch_*`, a successful compare-exchange) replaced
    /// `old` by `new`.
    Replaced { old: Scalar, new: Scalar },
    /// A compare-exchange that failed: it saw `seen` where it expected `expected`.
    ExchangeFailed { seen: Scalar, expected: Scalar },
    /// Anything else, said in words by the operation (an executor's task, say).
    Note(String),
}

/// One value of an atomic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scalar {
    Unsigned(u64),
    Signed(i64),
    Bool(bool),
    /// A pointer's address (0 for null).
    Address(u64),
}

/// How the execution failed.
#[derive(Clone, Debug, Serialize)]
pub struct TraceFailure {
    /// The thread that raised the failure (for a deadlock, the first blocked thread).
    pub thread: usize,
    pub message: String,
    pub location: Option<String>,
    /// For a deadlock: every thread blocked for good, by id. Empty otherwise.
    pub blocked: Vec<usize>,
}
