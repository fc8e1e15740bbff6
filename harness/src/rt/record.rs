//! Records facade operations while a failure is replayed. Off during exploration: the only
//! cost there is one thread-local flag read per operation of the model-checked engines.

use super::Engine;
use crate::trace::Event;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::panic::Location;

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static LOG: RefCell<Log> = RefCell::new(Log::default());
    /// Objects created so far in this execution per creation line (file and line: objects
    /// created on one line, like the elements of an array literal, are told apart by number).
    static INSTANCES: RefCell<HashMap<(&'static str, u32), u32>> = RefCell::new(HashMap::new());
}

#[derive(Default)]
struct Log {
    events: Vec<Event>,
    threads: usize,
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
        let instance = if super::model_engine().is_some() {
            INSTANCES.with(|instances| {
                let mut instances = instances.borrow_mut();
                let n = instances.entry((site.file(), site.line())).or_insert(0);
                *n += 1;
                *n
            })
        } else {
            0
        };
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
        Tag { name: Some(name), ..self }
    }

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

/// The simulated thread running now: shuttle's task id, or loom's thread id.
pub(crate) fn current_thread(engine: Engine) -> usize {
    match engine {
        Engine::Shuttle => shuttle::current::get_current_task().map(usize::from).unwrap_or(0),
        Engine::Loom => {
            // loom's ThreadId has no accessor; its Debug form is `ThreadId(n)`.
            let text = format!("{:?}", loom::thread::current().id());
            text.trim_start_matches("ThreadId(").trim_end_matches(')').parse().unwrap_or(0)
        }
        Engine::Std => 0,
    }
}

/// Records one operation on `tag`'s object (`None` for thread operations).
pub(crate) fn op(
    engine: Engine,
    tag: Option<&Tag>,
    op: &str,
    value: String,
    at: Option<&'static Location<'static>>,
) {
    let thread = current_thread(engine);
    LOG.with(|log| {
        let mut log = log.borrow_mut();
        let switched = log.events.last().is_some_and(|e| e.thread != thread);
        log.threads = log.threads.max(thread + 1);
        let step = log.events.len() + 1;
        log.events.push(Event {
            step,
            thread,
            object: tag.map(Tag::name).unwrap_or_default(),
            op: op.to_string(),
            value,
            location: at.map(|at| format!("{}:{}", at.file(), at.line())).unwrap_or_default(),
            switched,
        });
    });
}

/// How a trace shows an unsigned number: in hex, grouped by four digits past four
/// (`0x0B`, `0xFFFF_FFFF_FFFF_FFFF`), the way lock words and pointers are read.
pub(crate) fn show<T: Into<u128> + Copy>(value: T) -> String {
    let v: u128 = value.into();
    let hex = format!("{v:02X}");
    let hex = if hex.len() % 4 != 0 && hex.len() > 4 {
        format!("{hex:0>width$}", width = hex.len().div_ceil(4) * 4)
    } else {
        hex
    };
    let groups: Vec<&str> = (0..hex.len()).step_by(4).map(|i| &hex[i..(i + 4).min(hex.len())]).collect();
    if hex.len() > 4 {
        format!("0x{}", groups.join("_"))
    } else {
        format!("0x{hex}")
    }
}

#[cfg(test)]
mod tests {
    use super::show;

    #[test]
    fn numbers_read_like_lock_words() {
        assert_eq!(show(7u64), "0x07");
        assert_eq!(show(0x1Bu64), "0x1B");
        assert_eq!(show(u64::MAX), "0xFFFF_FFFF_FFFF_FFFF");
        assert_eq!(show(0x12345u64), "0x0001_2345");
    }
}
