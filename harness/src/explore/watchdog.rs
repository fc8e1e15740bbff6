//! The watchdog: a run whose execution stops reaching scheduling points ends with a finding
//! that says so, instead of hanging.
//!
//! loom and shuttle run every thread of an execution as a coroutine of one OS thread, and
//! switch threads only at a scheduling point (a facade call). A body thread that loops
//! without one (`while !flag {}` on a plain variable, a long computation) never hands control
//! back: the engine's time budget is checked between executions, so it is never checked
//! again, and nothing can interrupt an OS thread.
//!
//! So a run (`explore::run`, `explore::replay`) does not explore on the caller's thread, but
//! on a companion thread of the caller's, while the caller waits and watches: every exploring
//! thread (the companion, and the pool threads of a parallel run's lanes) beats a counter of
//! its own at each scheduling point. When no watched thread has beaten for the window (the
//! run's time budget, between 1 and 60 seconds), the caller gives up on the run and returns a
//! `hang` finding naming the thread and the last scheduling point; the stuck thread is
//! abandoned, spinning until the process exits (the next run of the caller gets a new
//! companion). A thread that is blocked on purpose (a lane waiting for another lane, the
//! stress engine waiting for its real threads, which detect hangs themselves) says so and is
//! not a suspect.
//!
//! The cost: a beat is a thread-local read and two relaxed stores on the exploring thread; a
//! run is handed to a companion that stays awake for a moment after each run (as the lane
//! pool's threads do), so runs in series do not pay a wake-up each.

use crate::backend::{Backend, RunConfig};
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The shortest and the longest time without a scheduling point that ends a run.
const MIN_WINDOW: Duration = Duration::from_secs(1);
const MAX_WINDOW: Duration = Duration::from_secs(60);

/// How long a companion that finished a run stays awake for the next (see `pool::LINGER`).
const LINGER: Duration = Duration::from_millis(2);

/// How often a waiting caller looks at the beats.
const POLL: Duration = Duration::from_millis(50);

/// The stack of a companion thread: a program's main thread has as much.
const COMPANION_STACK: usize = 8 << 20;

/// Whether runs are watched: always, unless `LOCKHOUND_WATCHDOG=off` (a body stopped in a
/// debugger reaches no scheduling point either; a benchmark may measure the run alone).
fn enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var_os("LOCKHOUND_WATCHDOG").is_none_or(|v| v != "off"))
}

/// How long a run may go without a scheduling point: its time budget, within bounds.
pub(super) fn window(config: &RunConfig) -> Duration {
    config.budget.time.clamp(MIN_WINDOW, MAX_WINDOW)
}

/// No thread is known to run (the value of `Slot::thread`).
const UNKNOWN: usize = usize::MAX;

/// What an exploring OS thread tells the watchdog. One per thread that ever explored under
/// a watch, leaked: the watch and the thread may end in either order, and a thread has one.
struct Slot {
    /// Scheduling points passed, ever.
    beats: AtomicU64,
    /// Executions started, ever.
    executions: AtomicU64,
    /// The site of the last facade call, or null.
    site: AtomicPtr<Location<'static>>,
    /// The simulated thread the scheduler ran last, when the engine says (shuttle), or
    /// `UNKNOWN` (loom, after a facade call: loom switches inside its operations).
    thread: AtomicUsize,
    /// The engine exploring, as an index into `Backend::ALL` (or `u8::MAX`).
    backend: AtomicU8,
    /// The thread is blocked on purpose, and beats no more until it is done waiting.
    waiting: AtomicBool,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            beats: AtomicU64::new(0),
            executions: AtomicU64::new(0),
            site: AtomicPtr::new(std::ptr::null_mut()),
            thread: AtomicUsize::new(UNKNOWN),
            backend: AtomicU8::new(u8::MAX),
            waiting: AtomicBool::new(false),
        }
    }

    /// Only this slot's thread writes it: a load and a store count as well as an atomic add,
    /// at a fraction of the cost.
    #[inline]
    fn beat(&self) {
        self.beats.store(self.beats.load(Relaxed).wrapping_add(1), Relaxed);
    }

    fn site(&self) -> Option<&'static Location<'static>> {
        let site = self.site.load(Relaxed);
        // SAFETY: `site` is null or was stored from a `&'static Location<'static>` (in
        // `facade_call`), so it points to a location that lives, unchanged, forever.
        unsafe { site.as_ref() }
    }

    fn backend(&self) -> Option<Backend> {
        Backend::ALL.get(usize::from(self.backend.load(Relaxed))).copied()
    }
}

/// The threads of one run, with the executions each had started when it joined.
#[derive(Default)]
pub(crate) struct Watch {
    slots: Mutex<Vec<(&'static Slot, u64)>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

thread_local! {
    /// This thread's slot, while it explores under a watch: what a beat writes to.
    static ACTIVE: Cell<Option<&'static Slot>> = const { Cell::new(None) };
    /// The watch this thread explores under.
    static WATCH: RefCell<Option<Arc<Watch>>> = const { RefCell::new(None) };
    /// This thread's slot, taken the first time it explores under a watch and given back to
    /// [`FREE_SLOTS`] when the thread ends.
    static OWN: OwnSlot = OwnSlot::take();
    /// The caller's companion, which runs its runs.
    static COMPANION: RefCell<Option<Companion>> = const { RefCell::new(None) };
}

/// Slots of threads that have ended, for the next thread that explores. A slot is `'static`
/// (a watch reads the slots of other threads, and a stuck thread's slot must outlive any
/// guard), so slots are never freed: they are reused, and the ones in use are bounded by the
/// threads exploring at once. No watch still lists a free slot: a thread leaves every watch
/// (`Entered`'s drop) before it ends.
static FREE_SLOTS: Mutex<Vec<&'static Slot>> = Mutex::new(Vec::new());

/// A thread's own slot, returned to [`FREE_SLOTS`] when the thread ends.
struct OwnSlot(&'static Slot);

impl OwnSlot {
    fn take() -> OwnSlot {
        let reused = lock(&FREE_SLOTS).pop();
        OwnSlot(reused.unwrap_or_else(|| Box::leak(Box::new(Slot::new()))))
    }
}

impl Drop for OwnSlot {
    fn drop(&mut self) {
        lock(&FREE_SLOTS).push(self.0);
    }
}

/// A facade call at `site`: a scheduling point (the engine may switch threads in it).
#[inline]
pub(crate) fn facade_call(site: &'static Location<'static>) {
    ACTIVE.with(|active| {
        if let Some(slot) = active.get() {
            slot.beat();
            slot.site.store((site as *const Location<'static>).cast_mut(), Relaxed);
            slot.thread.store(UNKNOWN, Relaxed);
        }
    });
}

/// shuttle's scheduler chose simulated thread `thread` to run next.
#[inline]
pub(crate) fn scheduled(thread: usize) {
    if let Some(slot) = ACTIVE.with(Cell::get) {
        slot.beat();
        slot.thread.store(thread, Relaxed);
    }
}

/// An execution begins: its main thread (t0) runs.
pub(crate) fn execution_starts() {
    if let Some(slot) = ACTIVE.with(Cell::get) {
        slot.beat();
        slot.executions.store(slot.executions.load(Relaxed).wrapping_add(1), Relaxed);
        slot.site.store(std::ptr::null_mut(), Relaxed);
        slot.thread.store(0, Relaxed);
    }
}

/// `backend`'s engine explores on this thread from now on.
pub(crate) fn searching(backend: Backend) {
    if let Some(slot) = ACTIVE.with(Cell::get) {
        let index = Backend::ALL.iter().position(|&b| b == backend).unwrap_or(usize::from(u8::MAX));
        slot.backend.store(u8::try_from(index).unwrap_or(u8::MAX), Relaxed);
    }
}

/// This thread blocks on purpose until the returned guard is dropped: no suspect meanwhile.
pub(crate) fn waiting() -> Waiting {
    let slot = ACTIVE.with(Cell::get);
    let before = slot.map(|s| s.waiting.swap(true, Relaxed));
    Waiting(slot.zip(before))
}

pub(crate) struct Waiting(Option<(&'static Slot, bool)>);

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some((slot, before)) = self.0 {
            slot.beat();
            slot.waiting.store(before, Relaxed);
        }
    }
}

/// The watch of the run this thread explores in, for a lane it hands to another thread.
pub(crate) fn current() -> Option<Arc<Watch>> {
    WATCH.with(|w| w.borrow().clone())
}

/// This thread explores under `watch` until the returned guard is dropped.
pub(crate) fn enter(watch: Arc<Watch>) -> Entered {
    let slot = OWN.with(|own| own.0);
    lock(&watch.slots).push((slot, slot.executions.load(Relaxed)));
    slot.waiting.store(false, Relaxed);
    let before_watch = WATCH.with(|w| w.replace(Some(watch.clone())));
    let before_active = ACTIVE.with(|a| a.replace(Some(slot)));
    Entered { watch, slot, before_watch, before_active }
}

pub(crate) struct Entered {
    watch: Arc<Watch>,
    slot: &'static Slot,
    before_watch: Option<Arc<Watch>>,
    before_active: Option<&'static Slot>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        ACTIVE.with(|a| a.set(self.before_active));
        WATCH.with(|w| *w.borrow_mut() = self.before_watch.take());
        let mut slots = lock(&self.watch.slots);
        if let Some(i) = slots.iter().position(|(s, _)| std::ptr::eq(*s, self.slot)) {
            slots.remove(i);
        }
    }
}

/// A run that made no scheduling call for the window.
#[derive(Clone, Debug)]
pub(crate) struct Stall {
    pub window: Duration,
    /// The engine that was exploring, if known.
    pub backend: Option<Backend>,
    /// The simulated thread that was running, when the engine said.
    pub thread: Option<usize>,
    /// The last scheduling point: the site of the last facade call.
    pub site: Option<&'static Location<'static>>,
    /// Executions the run had started.
    pub executions: u64,
}

impl Stall {
    /// The finding's message: what was seen, and the likely cause.
    pub(crate) fn message(&self) -> String {
        let secs = self.window.as_secs_f64();
        let site = self.site.map(|s| format!("{}:{}", s.file(), s.line()));
        match (self.thread, site) {
            (Some(t), Some(site)) => format!(
                "no scheduling point for {secs:.0} s in thread t{t}: a loop without yield_now? (the \
                 last scheduling point: the facade call at {site})"
            ),
            (Some(t), None) => format!(
                "no scheduling point for {secs:.0} s in thread t{t}: a loop without yield_now? (it \
                 made no facade call since the execution began)"
            ),
            (None, Some(site)) => format!(
                "no scheduling point for {secs:.0} s in the thread that ran after the facade call at \
                 {site}: a loop without yield_now?"
            ),
            (None, None) => format!("no scheduling point for {secs:.0} s: a loop without yield_now?"),
        }
    }
}

impl Watch {
    /// What the watch sees now: the beats of its threads, and its suspect (a thread not
    /// waiting), if any.
    fn look(&self) -> (u64, Option<&'static Slot>, u64) {
        let slots = lock(&self.slots);
        let beats = slots.iter().fold(0u64, |sum, (s, _)| sum.wrapping_add(s.beats.load(Relaxed)));
        let suspect = slots.iter().map(|(s, _)| *s).find(|s| !s.waiting.load(Relaxed));
        let executions =
            slots.iter().map(|(s, base)| s.executions.load(Relaxed).wrapping_sub(*base)).sum::<u64>();
        (beats, suspect, executions)
    }
}

/// A job for a companion.
type Job = Box<dyn FnOnce() + Send>;

/// A thread that runs its caller's runs, one at a time.
struct Companion {
    jobs: mpsc::Sender<Job>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Companion {
    fn start() -> Option<Companion> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("lockhound-run".into())
            .stack_size(COMPANION_STACK)
            .spawn(move || serve(queue))
            .ok()?;
        Some(Companion { jobs, thread: Some(thread) })
    }
}

/// Runs jobs until the caller is gone; awake for a moment after each, then asleep.
fn serve(queue: mpsc::Receiver<Job>) {
    loop {
        let since = Instant::now();
        let job = loop {
            match queue.try_recv() {
                Ok(job) => break job,
                Err(TryRecvError::Disconnected) => return,
                Err(TryRecvError::Empty) if since.elapsed() < LINGER => std::thread::yield_now(),
                Err(TryRecvError::Empty) => match queue.recv() {
                    Ok(job) => break job,
                    Err(_) => return,
                },
            }
        };
        job();
    }
}

impl Drop for Companion {
    /// The caller's thread ends: so does its companion (with the coroutine stacks it keeps),
    /// unless it is stuck in an abandoned run, which `abandon` has already let go of.
    fn drop(&mut self) {
        let (jobs, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.jobs, jobs));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs `job` on the caller's companion under a new watch, and returns its result, or the
/// stall that made the caller give up on it. Already under a watch (a run inside a run), or
/// when no thread can be started, `job` runs here.
pub(super) fn guarded<T: Send + 'static>(
    window: Duration,
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Stall> {
    if current().is_some() || !enabled() {
        return Ok(job());
    }
    let watch = Arc::new(Watch::default());
    let (done, result) = mpsc::sync_channel(1);
    let watched = watch.clone();
    let subscriber = super::dispatch::Lent::take();
    let job: Job = Box::new(move || {
        let _entered = enter(watched);
        let _subscriber = subscriber.lend();
        let _ = done.send(panic::catch_unwind(AssertUnwindSafe(job)));
    });
    // The job waits here until the companion takes it: one that never does (a companion
    // that could not start, or that does not exist in a process forked since) is taken back.
    let pending = Arc::new(Mutex::new(Some(job)));
    let taken = pending.clone();
    let handoff: Job = Box::new(move || {
        let job = lock(&taken).take();
        if let Some(job) = job {
            job();
        }
    });
    COMPANION.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Companion::start();
        }
        if let Some(companion) = c.as_ref() {
            let _ = companion.jobs.send(handoff);
        }
    });
    let start = Instant::now();
    let (mut last_beats, mut last_change) = (watch.look().0, Instant::now());
    loop {
        // Asleep until the result comes, or the next look at the beats: a caller that spun
        // awake here (yielding and locking the watch's slots) slowed short runs on 2 cores by
        // a quarter (the facade bench, 200 executions a run: 1.16 ms against 0.86 ms).
        let outcome = match result.recv_timeout(POLL) {
            Ok(r) => Some(r),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => lost(),
        };
        match outcome {
            Some(Ok(value)) => return Ok(value),
            Some(Err(payload)) => panic::resume_unwind(payload),
            None => {}
        }
        if start.elapsed() >= MIN_WINDOW || COMPANION.with(|c| c.borrow().is_none()) {
            let job = lock(&pending).take();
            if let Some(job) = job {
                // No companion took it: the run goes unwatched rather than not at all.
                abandon();
                job();
                continue;
            }
        }
        let (beats, suspect, executions) = watch.look();
        match suspect {
            Some(slot) if beats == last_beats && last_change.elapsed() >= window => {
                abandon();
                let thread = slot.thread.load(Relaxed);
                return Err(Stall {
                    window,
                    backend: slot.backend(),
                    thread: (thread != UNKNOWN).then_some(thread),
                    site: slot.site(),
                    executions,
                });
            }
            Some(_) if beats == last_beats => {}
            // Progress, or every thread of the run waits on purpose.
            _ => (last_beats, last_change) = (beats, Instant::now()),
        }
    }
}

/// The job sends its result, or its panic, before its thread can end: a run without either
/// is lockhound's own bug.
#[cold]
fn lost() -> ! {
    panic!("lockhound: a run's thread ended without a result")
}

/// Lets go of the caller's companion, stuck in a run: it is never joined, and the caller's
/// next run starts a new one.
fn abandon() {
    COMPANION.with(|c| {
        if let Some(mut companion) = c.borrow_mut().take() {
            companion.thread = None;
        }
    });
}
