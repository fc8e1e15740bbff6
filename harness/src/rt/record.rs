//! Records facade operations while a failure is replayed. Off during exploration: the only
//! cost there is one thread-local flag read per operation of the model-checked engines.

use super::Engine;
use crate::trace::{Event, Object, SourceLine, Value};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::panic::Location;

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static LOG: RefCell<Log> = RefCell::new(Log::default());
    /// Objects created so far in this execution per label: creation line (file and line:
    /// objects created on one line, like the elements of an array literal, are told apart by
    /// number), kind and name (objects a label tells apart already need no number).
    static INSTANCES: RefCell<HashMap<LabelKey, u32>> = RefCell::new(HashMap::new());
}

/// What an object's label says without its number: creation file and line, kind, name.
type LabelKey = (&'static str, u32, &'static str, Option<&'static str>);

/// The next number of an object labelled `key` in this execution, from 1.
fn count(key: LabelKey) -> u32 {
    INSTANCES.with(|instances| {
        let mut instances = instances.borrow_mut();
        let n = instances.entry(key).or_insert(0);
        *n += 1;
        *n
    })
}

/// Takes back the number [`count`] gave the latest object labelled `key`.
fn uncount(key: LabelKey, instance: u32) {
    INSTANCES.with(|instances| {
        if let Some(n) = instances.borrow_mut().get_mut(&key) {
            if *n == instance {
                *n -= 1;
            }
        }
    })
}

#[derive(Default)]
struct Log {
    events: Vec<Event>,
    threads: usize,
    /// Threads that, since their last event, gave the turn away: a switch away from one of
    /// them is no preemption (see [`gives_way`]).
    gave_way: Vec<usize>,
    /// Threads whose closure returned or unwound.
    ended: Vec<usize>,
}

/// An object's name in a trace (its kind, creation site and instance at that site), and the
/// execution it belongs to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tag {
    kind: &'static str,
    site: &'static Location<'static>,
    instance: u32,
    /// The execution the object was created in (see `rt::begin_execution`).
    born: u32,
    /// The name its author gave it, if any.
    name: Option<&'static str>,
}

impl Tag {
    /// Names a new object. Under the model checkers its instance is counted per creation line
    /// and execution, so that every object a trace or a deadlock names has a label of its own
    /// (`Mutex bank.rs:49`, `Mutex bank.rs:49 #2`); on real threads the tracker names locks.
    #[inline]
    pub(crate) fn new(kind: &'static str, site: &'static Location<'static>) -> Tag {
        let instance =
            if super::model_engine().is_some() { count((site.file(), site.line(), kind, None)) } else { 0 };
        Tag { kind, site, instance, born: super::execution(), name: None }
    }

    /// Panics unless the calling thread runs the execution this object was created in, under
    /// `engine`: the check before every operation.
    #[track_caller]
    #[inline]
    pub(crate) fn expect(&self, engine: Engine) {
        super::expect(engine, self.born)
    }

    /// The same object, under the name its author chose.
    pub(crate) fn with_name(self, name: &'static str) -> Tag {
        let (file, line) = (self.site.file(), self.site.line());
        let instance = if self.instance > 0 {
            uncount((file, line, self.kind, self.name), self.instance);
            count((file, line, self.kind, Some(name)))
        } else {
            0
        };
        Tag { name: Some(name), instance, ..self }
    }

    /// The object's kind: `Mutex`, `RwLock`, ...
    pub(crate) fn kind(&self) -> &'static str {
        self.kind
    }

    /// The object as a trace records it.
    pub(crate) fn object(&self) -> Object {
        Object {
            kind: self.kind.to_string(),
            name: self.name.map(str::to_string),
            created: SourceLine { file: self.site.file().to_string(), line: self.site.line() },
            instance: self.instance.max(1),
        }
    }

    /// The object's label in a message (a deadlock's): as the reports crate labels it in
    /// traces, `Mutex bank.rs:49 #2` or the author's name.
    pub(crate) fn name(&self) -> String {
        if let Some(name) = self.name {
            let suffix = if self.instance > 1 { format!(" #{}", self.instance) } else { String::new() };
            return format!("{name}{suffix}");
        }
        let file = self.site.file().rsplit('/').next().unwrap_or(self.site.file());
        let suffix = if self.instance > 1 { format!(" #{}", self.instance) } else { String::new() };
        format!("{} {file}:{}{suffix}", self.kind, self.site.line())
    }
}

/// Forgets the objects counted in the execution before (call when an execution begins).
pub(crate) fn forget_instances() {
    INSTANCES.with(|instances| instances.borrow_mut().clear());
}

/// Whether operations are being recorded on this thread.
#[inline]
pub(crate) fn active() -> bool {
    ACTIVE.with(Cell::get)
}

/// Starts recording on this thread (loom and shuttle run every simulated thread on it).
pub(crate) fn begin() {
    LOG.with(|log| *log.borrow_mut() = Log::default());
    ACTIVE.with(|a| a.set(true));
}

/// Stops recording and returns the events and the number of threads seen.
pub(crate) fn end() -> (Vec<Event>, usize) {
    ACTIVE.with(|a| a.set(false));
    LOG.with(|log| {
        let log = std::mem::take(&mut *log.borrow_mut());
        (log.events, log.threads)
    })
}

loom::thread_local! {
    /// The facade's number of the loom thread running now, set when it starts (`None` on the
    /// main thread, 0).
    static LOOM_THREAD: Cell<Option<usize>> = Cell::new(None);
}

/// A loom thread the facade spawned starts: `number` is its number in the execution, the one
/// loom gives it too (`rt::limit::before_spawn`), when lockhound's loom engine counts.
pub(crate) fn loom_thread_is(number: Option<usize>) {
    if number.is_some() {
        LOOM_THREAD.with(|t| t.set(number));
    }
}

/// The simulated thread running now: shuttle's task id, or the facade's number of the loom
/// thread (loom's `ThreadId` has no accessor, and its `Debug` text is no interface).
pub(crate) fn current_thread(engine: Engine) -> usize {
    match engine {
        Engine::Shuttle => shuttle::current::get_current_task().map(usize::from).unwrap_or(0),
        Engine::Loom => LOOM_THREAD.with(Cell::get).unwrap_or(0),
        Engine::Std => 0,
    }
}

/// The running thread gives the turn away: it is about to block (a lock another thread holds,
/// a join of a thread that has not ended, a condvar's or a park's wait), or yields, sleeps or
/// times out, which under the model checkers lets the others run. A switch away from it before
/// its next event is the scheduler's only way on, not a preemption. (A thread that yields and
/// is run on anyway keeps the mark until its next event: a switch at the operation after the
/// yield counts as part of the yield.)
pub(crate) fn gives_way(engine: Engine) {
    if !active() {
        return;
    }
    let thread = current_thread(engine);
    LOG.with(|log| {
        let mut log = log.borrow_mut();
        if !log.gave_way.contains(&thread) {
            log.gave_way.push(thread);
        }
    });
}

/// The running thread's closure returned or unwound: it gives way for good.
pub(crate) fn ended(engine: Engine) {
    if !active() {
        return;
    }
    gives_way(engine);
    let thread = current_thread(engine);
    LOG.with(|log| log.borrow_mut().ended.push(thread));
}

/// Whether the thread numbered `thread` has ended in the execution being recorded.
pub(crate) fn has_ended(thread: usize) -> bool {
    LOG.with(|log| log.borrow().ended.contains(&thread))
}

/// Appends to a deadlock's `events` the operations its threads are blocked in for good (see
/// `rt::blocking`), marked blocked; returns those threads.
pub(crate) fn blocked_attempts(events: &mut Vec<Event>) -> Vec<usize> {
    let mut threads = Vec::new();
    for (thread, op, tag, at) in super::blocking::blocked_attempts() {
        let switched = events.last().is_some_and(|e| e.thread != thread);
        events.push(Event {
            step: events.len() + 1,
            thread,
            object: tag.as_ref().map(Tag::object),
            op: traced_op(op).to_string(),
            value: None,
            location: Some(SourceLine { file: at.file().to_string(), line: at.line() }),
            switched,
            // Threads blocked for good: every switch between them is forced.
            preempted: false,
            blocked: true,
        });
        threads.push(thread);
    }
    threads.dedup();
    threads
}

/// How the trace names a blocking operation the registry knows by its method: an `RwLock`'s
/// `read` and `write` are `read-lock` and `write-lock`, as its acquisitions are recorded (a
/// cell's accesses are `read` and `write`), so a blocked attempt reads like the ones that got
/// the lock. The deadlock's message keeps the method's name.
fn traced_op(op: &str) -> &str {
    match op {
        "read" => "read-lock",
        "write" => "write-lock",
        op => op,
    }
}

/// Records one operation on `tag`'s object (`None` for thread operations).
pub(crate) fn op(
    engine: Engine,
    tag: Option<&Tag>,
    op: &str,
    value: Option<Value>,
    at: Option<&'static Location<'static>>,
) {
    let thread = current_thread(engine);
    LOG.with(|log| {
        let mut log = log.borrow_mut();
        let before = log.events.last().map(|e| e.thread);
        let switched = before.is_some_and(|t| t != thread);
        let preempted = before.is_some_and(|t| t != thread && !log.gave_way.contains(&t));
        log.gave_way.retain(|&t| t != thread);
        log.threads = log.threads.max(thread + 1);
        let step = log.events.len() + 1;
        log.events.push(Event {
            step,
            thread,
            object: tag.map(Tag::object),
            op: op.to_string(),
            value,
            location: at.map(|at| SourceLine { file: at.file().to_string(), line: at.line() }),
            switched,
            preempted,
            blocked: false,
        });
    });
}
