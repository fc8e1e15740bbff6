//! What happened in one failing execution, step by step: the data behind a Lincheck-style
//! trace. Recorded by the facade while a failure is replayed (never during the search, which
//! keeps exploration fast); rendered by the reports crate.

use serde::Serialize;

/// One execution, as the facade saw it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Trace {
    /// Threads, by id: 0 is the body's main thread, the others in the order they were spawned.
    pub threads: usize,
    pub events: Vec<Event>,
    /// The failure that ended the execution, raised by the last thread in `events`.
    pub failure: Option<TraceFailure>,
}

/// One facade operation.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// 1-based position in the execution.
    pub step: usize,
    pub thread: usize,
    /// The object operated on: its kind and creation site (`Mutex rwlock_timeout.rs:230`),
    /// with `#n` for the n-th object created at that site; empty for thread operations.
    pub object: String,
    /// `load`, `store`, `fetch_add`, `lock`, `unlock`, `wait`, `spawn`, `join`, ...
    pub op: String,
    /// Values read and written: `0x1B`, `0x1B -> 0x0B`; empty when the operation has none.
    pub value: String,
    /// Source location of the call, `file:line`.
    pub location: String,
    /// This step runs on another thread than the step before: a context switch.
    pub switched: bool,
}

/// How the execution failed.
#[derive(Clone, Debug, Serialize)]
pub struct TraceFailure {
    pub thread: usize,
    pub message: String,
    pub location: Option<String>,
}
