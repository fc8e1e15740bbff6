//! Who holds what and who waits for what, under the model checkers: the registry a deadlock is
//! described from, the same way under every engine, and the way a failing shuttle execution
//! ends quietly.
//!
//! **The registry.** The facade notes each lock a thread takes and gives back ([`acquired`],
//! [`released`]) and each blocking operation a thread enters ([`Entering::begin`]): a lock, a
//! join, a wait of lockhound's own. When an engine finds every thread blocked, the registry
//! says, for each blocked thread, the operation, the object's label, the call's source line
//! and who holds the object ([`describe`]), whichever engine found it. loom and shuttle run every
//! simulated thread of an execution on the OS thread that explores, so the registry is a
//! thread-local of that thread, emptied when an execution begins. What an engine's teardown
//! unwinds (the threads of a failed execution) leaves the registry as the failure found it.
//!
//! **Ending a shuttle execution without shuttle's failure path.** shuttle reports a failing
//! execution by printing on stderr ("test panicked in task ...", "Test deadlocked, and
//! SHUTTLE_CAPTURE_BACKTRACE is not set ..."), a line for every failing execution a search
//! and its minimization run, in the middle of a user's `cargo test`. So under shuttle a failure
//! never reaches shuttle: the facade catches the panic that escapes a thread (or raises the
//! deadlock itself, before the last runnable thread blocks, which shuttle would otherwise find),
//! keeps its payload here ([`halt`]), and lockhound's scheduler, asked for the next thread,
//! ends the execution ([`halting`]) as it ends one at the step limit. The exploring loop then
//! takes the payload back ([`take_halted`]) as the execution's failure.

use super::record::{self, Tag};
use super::Engine;
use std::any::Any;
use std::cell::RefCell;
use std::fmt::Write;
use std::panic::Location;

/// A simulated thread, as the registry keys it: loom's own id (reading loom's number out of
/// it takes formatting, done only when a deadlock is described), or shuttle's task number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ThreadKey {
    Loom(loom::thread::ThreadId),
    Shuttle(usize),
}

impl ThreadKey {
    /// The simulated thread running now.
    fn current(engine: Engine) -> ThreadKey {
        match engine {
            Engine::Loom => ThreadKey::Loom(loom::thread::current().id()),
            _ => ThreadKey::Shuttle(record::current_thread(engine)),
        }
    }

    /// The thread's number, as traces number it: 0 for the main thread, then in spawn order.
    pub(crate) fn number(self) -> usize {
        match self {
            // loom's ThreadId has no accessor; its Debug form is `ThreadId(n)`.
            ThreadKey::Loom(id) => {
                let text = format!("{id:?}");
                text.trim_start_matches("ThreadId(").trim_end_matches(')').parse().unwrap_or(0)
            }
            ThreadKey::Shuttle(n) => n,
        }
    }
}

/// What a thread blocks in.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Wait {
    /// A lock: exclusive (`lock`, `write`) or shared (`read`). `object` tells locks apart.
    Lock { object: usize, tag: Tag, exclusive: bool },
    /// A join of another thread.
    Join { thread: ThreadKey },
    /// A wait of lockhound's own for a notification (a condvar's).
    Notification { tag: Tag },
    /// `thread::park`, until an unpark.
    Park,
}

#[derive(Clone, Copy, Debug)]
struct Blocked {
    thread: ThreadKey,
    op: &'static str,
    wait: Wait,
    at: &'static Location<'static>,
}

#[derive(Clone, Copy, Debug)]
struct Holding {
    thread: ThreadKey,
    object: usize,
    exclusive: bool,
}

#[derive(Default)]
struct Registry {
    holdings: Vec<Holding>,
    blocked: Vec<Blocked>,
    /// The failure that ends this shuttle execution through the scheduler (see [`halt`]).
    halted: Option<Box<dyn Any + Send>>,
}

thread_local! {
    static REGISTRY: RefCell<Registry> = RefCell::new(Registry::default());
}

/// Forgets the execution before (call when an execution begins).
pub(crate) fn forget() {
    REGISTRY.with(|r| *r.borrow_mut() = Registry::default());
}

/// The simulated thread running now.
fn me(engine: Engine) -> ThreadKey {
    ThreadKey::current(engine)
}

/// Notes that the running thread took the lock `object`.
pub(crate) fn acquired(engine: Engine, object: usize, exclusive: bool) {
    let thread = me(engine);
    REGISTRY.with(|r| r.borrow_mut().holdings.push(Holding { thread, object, exclusive }));
}

/// Notes that the running thread gave the lock `object` back. Not while an engine tears the
/// execution down: the registry keeps what the failure found.
pub(crate) fn released(engine: Engine, object: usize) {
    if super::unwind::teardown() || super::unwind::engine_failing() {
        return;
    }
    let thread = me(engine);
    REGISTRY.with(|r| {
        let holdings = &mut r.borrow_mut().holdings;
        if let Some(i) = holdings.iter().rposition(|h| h.thread == thread && h.object == object) {
            holdings.remove(i);
        }
    });
}

/// A blocking operation the running thread is in; the registration ends with [`Entering::end`]
/// when the operation returns (never on an unwinding: a failed execution's registry stays as
/// the failure found it).
#[must_use]
pub(crate) struct Entering {
    engine: Engine,
}

impl Entering {
    /// Notes that the running thread enters `op` on `wait` at `at`. Under shuttle, if the
    /// operation cannot return (the lock is held, the thread joined is not done) and no other
    /// thread can run, this is a deadlock: raised here as lockhound's own finding, so that
    /// shuttle never sees it.
    pub(crate) fn begin(
        engine: Engine,
        op: &'static str,
        wait: Wait,
        at: &'static Location<'static>,
    ) -> Entering {
        let thread = me(engine);
        REGISTRY.with(|r| r.borrow_mut().blocked.push(Blocked { thread, op, wait, at }));
        if record::active() && blocks_while_recorded(thread, wait) {
            record::gives_way(engine);
        }
        if engine == Engine::Shuttle
            && would_block(thread, wait)
            && !shuttle_others_can_run()
            && shuttle_attached_unfinished()
        {
            deadlock_now();
        }
        Entering { engine }
    }

    pub(crate) fn end(self) {
        let thread = me(self.engine);
        REGISTRY.with(|r| r.borrow_mut().blocked.retain(|b| b.thread != thread));
    }
}

/// Under shuttle, from inside a wait of lockhound's own about to block the running task (which
/// is not notified yet): a deadlock if no other task can run, which shuttle would find once
/// the task blocks.
pub(crate) fn check_last_runnable() {
    if !shuttle_others_can_run() && shuttle_attached_unfinished() {
        deadlock_now();
    }
}

/// Whether `wait` cannot return now, by what the registry and shuttle know. When unsure, it
/// says no: the engine then finds the deadlock itself.
fn would_block(thread: ThreadKey, wait: Wait) -> bool {
    match wait {
        // A shared lock taken again by a thread that holds it shared blocks too: shuttle's
        // `RwLock` refuses a re-entrant read (it may deadlock on platforms whose readers wait
        // behind a waiting writer), and the registry says so in its words.
        Wait::Lock { object, exclusive, .. } => REGISTRY.with(|r| {
            r.borrow()
                .holdings
                .iter()
                .any(|h| h.object == object && (exclusive || h.exclusive || h.thread == thread))
        }),
        Wait::Join { thread: joined } => joined != thread && shuttle_task(joined.number(), |t| !t.finished()),
        Wait::Notification { .. } | Wait::Park => false,
    }
}

/// Whether `wait` cannot return now, under either engine, while a trace is recorded (the trace
/// tells a switch forced by it from a preemption). A wait for a notification always blocks.
fn blocks_while_recorded(thread: ThreadKey, wait: Wait) -> bool {
    match wait {
        Wait::Lock { .. } => would_block(thread, wait),
        Wait::Join { thread: joined } => joined != thread && !record::has_ended(joined.number()),
        Wait::Notification { .. } | Wait::Park => true,
    }
}

fn shuttle_task(id: usize, f: impl FnOnce(&shuttle_engine::runtime::task::Task) -> bool) -> bool {
    use shuttle_engine::runtime::execution::ExecutionState;
    use shuttle_engine::runtime::task::TaskId;
    ExecutionState::with(|s| s.try_get(TaskId::from(id)).is_some_and(f))
}

/// Whether a task other than the running one can get anywhere. Not one that is blocked, nor
/// one that can only wake spuriously (shuttle's own test), nor one that is runnable but has
/// entered a lock or join that cannot return (it is at the scheduling point before the lock
/// operation, and blocks when it runs): were it the last to block, shuttle would find the
/// deadlock only then. Every thread counted out this way waits for one of the others, so when
/// no thread is left, none can ever run again.
fn shuttle_others_can_run() -> bool {
    use shuttle_engine::runtime::execution::ExecutionState;
    use shuttle_engine::runtime::task::TaskId;
    let candidates: Vec<ThreadKey> = ExecutionState::with(|s| {
        let me = s.current().id();
        (0..)
            .map_while(|i| s.try_get(TaskId::from(i)))
            .filter(|t| t.id() != me && !t.finished() && t.runnable())
            .map(|t| ThreadKey::Shuttle(usize::from(t.id())))
            .collect()
    });
    candidates.into_iter().any(|thread| {
        let entered =
            REGISTRY.with(|r| r.borrow().blocked.iter().rev().find(|b| b.thread == thread).map(|b| b.wait));
        !entered.is_some_and(|wait| would_block(thread, wait))
    })
}

/// Whether an attached task is unfinished: with none, shuttle ends the execution when the
/// runnable tasks left are detached ones, and a blocked detached task is no deadlock.
fn shuttle_attached_unfinished() -> bool {
    use shuttle_engine::runtime::execution::ExecutionState;
    use shuttle_engine::runtime::task::TaskId;
    ExecutionState::with(|s| {
        (0..).map_while(|i| s.try_get(TaskId::from(i))).any(|t| !t.finished() && !t.is_detached())
    })
}

/// Fails the shuttle execution with the deadlock the registry describes.
fn deadlock_now() -> ! {
    let message = describe().unwrap_or_else(|| "deadlock: every thread is blocked".to_string());
    super::panic::escaped_deadlock(message.clone());
    halt(Box::new(super::panic::KindedPanic { kind: crate::finding::FindingKind::Deadlock, message }))
}

/// Ends the running shuttle execution with `payload` as its failure, through lockhound's
/// scheduler: the running task switches out, the scheduler ends the execution, and shuttle
/// tears it down without taking its failure path. The failure was recorded already (see
/// `panic::escaped_with`).
pub(crate) fn halt(payload: Box<dyn Any + Send>) -> ! {
    REGISTRY.with(|r| {
        let mut r = r.borrow_mut();
        if r.halted.is_none() {
            r.halted = Some(payload);
        }
    });
    shuttle_engine::runtime::thread::switch();
    // Not reached: the scheduler stops the execution at the switch, and teardown unwinds or
    // leaks this task's stack. Were it resumed anyway, the failure goes shuttle's way.
    let payload = REGISTRY.with(|r| r.borrow_mut().halted.take());
    std::panic::resume_unwind(payload.unwrap_or_else(|| Box::new("lockhound: halted execution resumed")))
}

/// Whether the running execution is to end now (asked by lockhound's shuttle schedulers).
pub(crate) fn halting() -> bool {
    REGISTRY.with(|r| r.borrow().halted.is_some())
}

/// The failure that ended the execution just run, if the facade ended it (see [`halt`]).
pub(crate) fn take_halted() -> Option<Box<dyn Any + Send>> {
    REGISTRY.with(|r| r.borrow_mut().halted.take())
}

/// The deadlock the registry shows: each blocked thread, what it is blocked in, and who holds
/// that; `None` if no thread is registered as blocked.
pub(crate) fn describe() -> Option<String> {
    REGISTRY.with(|r| {
        let r = r.borrow();
        if r.blocked.is_empty() {
            return None;
        }
        let mut blocked = r.blocked.clone();
        blocked.sort_by_key(|b| b.thread.number());
        let mut text = String::from("deadlock: ");
        for (i, b) in blocked.iter().enumerate() {
            if i > 0 {
                text.push_str("; ");
            }
            let at = format!("{}:{}", short(b.at.file()), b.at.line());
            let _ = write!(text, "{} is blocked in `{}`", thread_name(b.thread), b.op);
            match b.wait {
                Wait::Lock { object, tag, .. } => {
                    let _ = write!(text, " of {} at {at}", tag.name());
                    let holders: Vec<String> = r
                        .holdings
                        .iter()
                        .filter(|h| h.object == object)
                        .map(|h| thread_name(h.thread))
                        .collect();
                    match holders.as_slice() {
                        [] => text.push_str(", held by no thread"),
                        holders => {
                            let _ = write!(text, ", held by {}", holders.join(" and "));
                            // A lock taken again by its holder: the commonest self-deadlock,
                            // said in the words loom and shuttle users know.
                            if r.holdings.iter().any(|h| h.object == object && h.thread == b.thread) {
                                let _ =
                                    write!(text, " (it tried to acquire a {} it already holds)", tag.kind());
                            }
                        }
                    }
                }
                Wait::Join { thread } => {
                    let _ = write!(text, " of {} at {at}", thread_name(thread));
                }
                Wait::Notification { tag } => {
                    // A wait is notified; a channel's `recv` or `send` and a scope's end are
                    // woken by a message, room or the scope's threads.
                    let never = if b.op == "wait" { "never notified" } else { "never woken" };
                    let _ = write!(text, " of {} at {at}, {never}", tag.name());
                }
                Wait::Park => {
                    let _ = write!(text, " at {at}, never unparked");
                }
            }
        }
        Some(text)
    })
}

/// What the registry has each blocked thread in, by thread: the operation, the object (none
/// for a join) and the call's line.
pub(crate) fn blocked_attempts() -> Vec<(usize, &'static str, Option<Tag>, &'static Location<'static>)> {
    REGISTRY.with(|r| {
        let mut blocked = r.borrow().blocked.clone();
        blocked.sort_by_key(|b| b.thread.number());
        blocked
            .into_iter()
            .map(|b| {
                let tag = match b.wait {
                    Wait::Lock { tag, .. } | Wait::Notification { tag } => Some(tag),
                    Wait::Join { .. } | Wait::Park => None,
                };
                (b.thread.number(), b.op, tag, b.at)
            })
            .collect()
    })
}

fn thread_name(thread: ThreadKey) -> String {
    let thread = thread.number();
    if thread == 0 {
        "thread 0 (main)".to_string()
    } else {
        format!("thread {thread}")
    }
}

fn short(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}
