//! The watchdog: a thread that keeps the coarse clock of the registry and looks for waits
//! longer than a threshold. Each stuck episode (the long waits, every thread they wait for,
//! transitively, and every other waiter of those locks) is reported once, with verdicts.
//!
//! A wait counts only once two consecutive scans saw it long, and a lock counts as having no
//! holder only if both scans saw none: entries are published without a seqlock, and an
//! acquisition is registered a few instructions after the lock is taken.

use super::class::{self, lock_label, ClassInfo};
use super::registry::{self, HeldSnap, ThreadSnap, WaitKind};
use super::report::{HolderInfo, Site, Verdict, WaiterInfo, WatchdogReport};
use super::stack;
use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the coarse clock advances.
const TICK: Duration = Duration::from_millis(2);

type WaitKey = (u64, u64, Instant);

#[derive(Default)]
struct ScanState {
    prev_long: HashSet<WaitKey>,
    prev_unheld: HashSet<u64>,
    reported: HashSet<WaitKey>,
    reports: Vec<WatchdogReport>,
}

/// A running watchdog; [`Watchdog::stop`] ends it and returns its reports.
pub(crate) struct Watchdog {
    stop: Arc<AtomicBool>,
    state: Arc<Mutex<ScanState>>,
    handle: Option<JoinHandle<()>>,
    epoch: u64,
    threshold: Duration,
    started: Instant,
}

impl Watchdog {
    pub fn start(epoch: u64, threshold: Duration, started: Instant) -> Watchdog {
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(Mutex::new(ScanState::default()));
        let scan_every = (threshold / 4).clamp(Duration::from_millis(5), Duration::from_millis(250));
        let (stop2, state2) = (stop.clone(), state.clone());
        let handle = std::thread::Builder::new()
            .name("lockhound-watchdog".into())
            .spawn(move || {
                let mut last_scan = Instant::now();
                while !stop2.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    registry::set_tick(started.elapsed().as_millis() as u64);
                    if last_scan.elapsed() >= scan_every {
                        last_scan = Instant::now();
                        scan(epoch, threshold, started, &mut state2.lock());
                    }
                }
            })
            .ok();
        Watchdog { stop, state, handle, epoch, threshold, started }
    }

    /// Scans at once (twice, so a stuck state is confirmed): used before a hung iteration's
    /// threads are abandoned.
    pub fn scan_now(&self) {
        for _ in 0..2 {
            registry::set_tick(self.started.elapsed().as_millis() as u64);
            scan(self.epoch, self.threshold, self.started, &mut self.state.lock());
            std::thread::sleep(TICK);
        }
    }

    pub fn stop(mut self) -> Vec<WatchdogReport> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        std::mem::take(&mut self.state.lock().reports)
    }
}

fn key(t: &ThreadSnap) -> Option<WaitKey> {
    t.waiting.as_ref().map(|w| (t.index, w.lock, w.since))
}

fn scan(epoch: u64, threshold: Duration, started: Instant, state: &mut ScanState) {
    let snap = registry::snapshot(epoch);
    let now = Instant::now();
    let holders_of = |lock: u64| -> Vec<(&ThreadSnap, &HeldSnap)> {
        snap.iter().flat_map(|t| t.held.iter().filter(move |h| h.lock == lock).map(move |h| (t, h))).collect()
    };
    let unheld: HashSet<u64> = snap
        .iter()
        .filter_map(|t| t.waiting.as_ref())
        .map(|w| w.lock)
        .filter(|&l| holders_of(l).is_empty())
        .collect();
    let long: HashSet<WaitKey> = snap
        .iter()
        .filter(|t| t.waiting.as_ref().is_some_and(|w| now.duration_since(w.since) >= threshold))
        .filter_map(key)
        .collect();
    let confirmed: Vec<WaitKey> =
        long.iter().filter(|k| state.prev_long.contains(k) && !state.reported.contains(k)).copied().collect();
    let orphaned: HashSet<u64> = unheld.intersection(&state.prev_unheld).copied().collect();
    state.prev_long = long;
    state.prev_unheld = unheld;
    if confirmed.is_empty() {
        return;
    }
    let classes = class::snapshot();
    let by_index: HashMap<u64, &ThreadSnap> = snap.iter().map(|t| (t.index, t)).collect();
    let mut done: HashSet<u64> = HashSet::new();
    for start in confirmed {
        if done.contains(&start.0) {
            continue;
        }
        // The episode: threads reachable through "waits for a lock held by", plus every
        // other waiter of the locks involved.
        let mut members: BTreeSet<u64> = BTreeSet::new();
        let mut todo = vec![start.0];
        while let Some(i) = todo.pop() {
            if !members.insert(i) {
                continue;
            }
            let Some(w) = by_index.get(&i).and_then(|t| t.waiting.as_ref()) else { continue };
            for (h, _) in holders_of(w.lock) {
                todo.push(h.index);
            }
            for t in &snap {
                if t.waiting.as_ref().is_some_and(|o| o.lock == w.lock) {
                    todo.push(t.index);
                }
            }
        }
        let threads: Vec<&ThreadSnap> = members.iter().filter_map(|i| by_index.get(i).copied()).collect();
        done.extend(members.iter().copied());
        state.reported.extend(threads.iter().filter_map(|t| key(t)));
        let report = episode(&threads, &holders_of, &orphaned, &classes, threshold, now, started);
        state.reports.push(report);
    }
}

fn episode<'a>(
    threads: &[&'a ThreadSnap],
    holders_of: &dyn Fn(u64) -> Vec<(&'a ThreadSnap, &'a HeldSnap)>,
    orphaned: &HashSet<u64>,
    classes: &[ClassInfo],
    threshold: Duration,
    now: Instant,
    started: Instant,
) -> WatchdogReport {
    let tick = registry::tick();
    let mut waiters = Vec::new();
    let mut holders = Vec::new();
    let mut verdicts = Vec::new();
    let mut waited_locks: Vec<u64> = Vec::new();
    for t in threads {
        let Some(w) = &t.waiting else { continue };
        let lock = lock_label(classes, w.class, w.lock);
        waiters.push(WaiterInfo {
            thread: t.label.clone(),
            lock: lock.clone(),
            lock_id: w.lock,
            mode: w.mode,
            kind: w.kind,
            site: Site::of(w.site),
            waited_ms: now.duration_since(w.since).as_millis() as u64,
            stack: Vec::new(),
            stack_id: w.stack,
        });
        if !waited_locks.contains(&w.lock) {
            waited_locks.push(w.lock);
        }
        let reentrant =
            matches!(w.kind, WaitKind::Lock | WaitKind::Timed) && t.held.iter().any(|h| h.lock == w.lock);
        if reentrant {
            verdicts.push(Verdict::SelfReentry {
                thread: t.label.clone(),
                lock: lock.clone(),
                description: format!(
                    "{} waits at {} for {lock}, which it already holds: it can never get it",
                    t.label,
                    Site::of(w.site)
                ),
            });
        }
    }
    for &lock in &waited_locks {
        for (t, h) in holders_of(lock) {
            let held_ms = tick.saturating_sub(h.since_ms);
            let name = lock_label(classes, h.class, lock);
            let site = stack::site_of(h.site).map_or_else(Site::unknown, Site::of);
            holders.push(HolderInfo {
                thread: t.label.clone(),
                lock: name.clone(),
                lock_id: lock,
                mode: h.mode,
                site: site.clone(),
                held_ms,
                stack: Vec::new(),
                stack_id: stack::known_site_stack(h.site),
            });
            if held_ms >= threshold.as_millis() as u64 {
                verdicts.push(Verdict::LongHolder {
                    thread: t.label.clone(),
                    lock: name.clone(),
                    held_ms,
                    description: format!(
                        "{} has held {name} ({} at {site}) for {held_ms} ms while others wait",
                        t.label,
                        h.mode.name()
                    ),
                });
            }
        }
        if orphaned.contains(&lock) {
            let ws: Vec<_> =
                threads.iter().filter(|t| t.waiting.as_ref().is_some_and(|w| w.lock == lock)).collect();
            let names: Vec<String> = ws.iter().map(|t| t.label.clone()).collect();
            let condvar = ws.iter().all(|t| t.waiting.as_ref().is_some_and(|w| w.kind == WaitKind::Condvar));
            let class = ws.first().and_then(|t| t.waiting.as_ref()).map(|w| w.class).unwrap_or(0);
            let name = lock_label(classes, class, lock);
            verdicts.push(if condvar {
                Verdict::NoHolderCondvarWait {
                    description: format!(
                        "{} wait(s) on a condition variable with {name} released, and no thread \
                         holds {name}: nobody is inside the critical section that would notify \
                         (a lost wakeup, or a notifier that gave up)",
                        names.join(", ")
                    ),
                    lock: name,
                    waiters: names,
                }
            } else {
                Verdict::OrphanedLock {
                    description: format!(
                        "{} wait(s) for {name}, but no thread holds it: the lock is orphaned (a \
                         lost wakeup inside the lock, a corrupted lock word or a leaked guard); \
                         a deadlock detector looking for cycles cannot see this",
                        names.join(", ")
                    ),
                    lock: name,
                    waiters: names,
                }
            });
        }
    }
    if let Some(cycle) = wait_cycle(threads, holders_of, classes) {
        let steps: Vec<String> =
            cycle.iter().map(|(t, lock, h)| format!("{t} waits for {lock} held by {h}")).collect();
        let mut names: Vec<String> = cycle.iter().map(|c| c.0.to_owned()).collect();
        names.dedup();
        verdicts.push(Verdict::DeadlockCycle {
            threads: names,
            description: format!("deadlock: {}", steps.join("; ")),
        });
    }
    WatchdogReport { at_ms: started.elapsed().as_millis() as u64, waiters, holders, verdicts }
}

/// A cycle in the waits-for graph among the episode's threads, as (waiter, lock, holder).
fn wait_cycle<'a>(
    threads: &[&'a ThreadSnap],
    holders_of: &dyn Fn(u64) -> Vec<(&'a ThreadSnap, &'a HeldSnap)>,
    classes: &[ClassInfo],
) -> Option<Vec<(&'a str, String, &'a str)>> {
    let edges: HashMap<u64, Vec<(u64, u64)>> = threads
        .iter()
        .filter_map(|t| {
            let w = t.waiting.as_ref().filter(|w| w.kind != WaitKind::Condvar)?;
            let next =
                holders_of(w.lock).into_iter().map(|(h, _)| (h.index, w.lock)).filter(|&(h, _)| h != t.index);
            Some((t.index, next.collect()))
        })
        .collect();
    let label: HashMap<u64, &str> = threads.iter().map(|t| (t.index, t.label.as_str())).collect();
    for t in threads {
        let mut path = Vec::new();
        if dfs(t.index, t.index, &edges, &mut path, &mut HashSet::new()) {
            let out = path
                .iter()
                .enumerate()
                .map(|(k, &(n, lock))| {
                    let holder = path.get(k + 1).map_or(t.index, |p| p.0);
                    let class = threads
                        .iter()
                        .find(|x| x.index == n)
                        .and_then(|x| x.waiting.as_ref())
                        .map_or(u32::MAX, |w| w.class);
                    (label[&n], lock_label(classes, class, lock), label[&holder])
                })
                .collect();
            return Some(out);
        }
    }
    None
}

/// Whether `target` is reachable from `node`; `path` then holds the (thread, lock) steps.
fn dfs(
    node: u64,
    target: u64,
    edges: &HashMap<u64, Vec<(u64, u64)>>,
    path: &mut Vec<(u64, u64)>,
    visited: &mut HashSet<u64>,
) -> bool {
    for &(h, lock) in edges.get(&node).into_iter().flatten() {
        path.push((node, lock));
        if h == target || (visited.insert(h) && dfs(h, target, edges, path, visited)) {
            return true;
        }
        path.pop();
    }
    false
}
