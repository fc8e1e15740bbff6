//! A tracking session: the body on real threads, iteration after iteration, with tracking
//! on and the watchdog running; then everything it saw, symbolized, as a [`TrackReport`].

use super::class::{self, ClassInfo};
use super::folded::{self, Role};
use super::order::{self, Graph};
use super::report::*;
use super::stack::{self, StackId};
use super::stats::Durations;
use super::watchdog::Watchdog;
use super::{registry, Mode};
use crate::explore::Body;
use crate::rt::std_run::{self, Iteration};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

/// How a session runs.
#[derive(Clone, Debug, Serialize)]
pub struct TrackOptions {
    /// Iterations of the body (fewer if `time_limit` runs out first).
    pub iterations: u64,
    pub time_limit: Duration,
    /// A wait at least this long is a stuck episode for the watchdog.
    pub watchdog_threshold: Duration,
    /// An iteration that does not finish in this long is abandoned as hung (its threads
    /// stay blocked until the process exits). Raised to twice the watchdog threshold if
    /// lower, so a stuck iteration is always reported before it is abandoned.
    pub hang_timeout: Duration,
    /// Measure the hold time of one acquisition in this many (1: all of them, which
    /// costs two clock reads per acquisition).
    pub hold_sample_period: u32,
}

impl Default for TrackOptions {
    fn default() -> Self {
        TrackOptions {
            iterations: 100,
            time_limit: Duration::from_secs(30),
            watchdog_threshold: Duration::from_millis(500),
            hang_timeout: Duration::from_secs(5),
            hold_sample_period: 64,
        }
    }
}

/// Runs `body` under tracking and reports what its locks did. One session runs at a time in
/// a process; a concurrent call waits for the running one to end.
pub fn track(body: &Body, options: TrackOptions) -> TrackReport {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _session = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let started = Instant::now();
    let hang_timeout = options.hang_timeout.max(options.watchdog_threshold * 2);
    let epoch = registry::next_epoch();
    order::reset(epoch);
    folded::reset(epoch);
    registry::enable(epoch, options.hold_sample_period);
    let watchdog = Watchdog::start(epoch, options.watchdog_threshold, started);

    let mut iterations = 0;
    let mut hung = false;
    let mut panic = None;
    while iterations < options.iterations && started.elapsed() < options.time_limit {
        iterations += 1;
        class::new_iteration();
        match run_once(body, hang_timeout) {
            Ok(None) => {}
            Ok(Some(message)) => {
                panic.get_or_insert(message);
            }
            Err(()) => {
                watchdog.scan_now();
                hung = true;
                break;
            }
        }
    }
    registry::disable();
    let episodes = watchdog.stop();
    build(epoch, &options, iterations, hung, panic, episodes, started)
}

/// One iteration on real threads, as the stress engine runs it, with this thread's tracking
/// statistics flushed when the body is done. `Err` when it hung.
fn run_once(body: &Body, hang_timeout: Duration) -> Result<Option<String>, ()> {
    match std_run::run_iteration(body, hang_timeout, registry::flush_thread) {
        Err(e) => Ok(Some(format!("cannot start a thread: {e}"))),
        Ok(Iteration::Finished(panic)) => Ok(panic.map(|r| r.message)),
        Ok(Iteration::Hung(_)) => Err(()),
    }
}

fn build(
    epoch: u64,
    options: &TrackOptions,
    iterations: u64,
    hung: bool,
    panic: Option<String>,
    mut episodes: Vec<WatchdogReport>,
    started: Instant,
) -> TrackReport {
    // The aggregate first, then what is still in progress: a thread that ends a wait or a
    // hold after this charges a session that is over, so nothing is counted twice.
    let mut agg = folded::take(epoch);
    let (waits, holds) = registry::ongoing(epoch);
    agg.add_ongoing(&waits, &holds);
    let graph = order::take(epoch);
    let classes = class::snapshot();
    let name = |c: u32| class::class_name(&classes, c);

    let mut ids: Vec<StackId> = Vec::new();
    for e in graph.edges.values() {
        ids.extend([e.from_stack, e.to_stack]);
    }
    for ep in &episodes {
        ids.extend(ep.waiters.iter().map(|w| w.stack_id));
        ids.extend(ep.holders.iter().map(|h| h.stack_id));
    }
    ids.extend(agg.hold.keys().map(|k| k.0));
    ids.extend(agg.wait.keys().map(|k| k.1));
    let frames = stack::symbolize(&ids);
    let frames_of = |id: StackId| frames.get(&id).cloned().unwrap_or_default();

    for ep in &mut episodes {
        for w in &mut ep.waiters {
            w.stack = frames_of(w.stack_id);
        }
        for h in &mut ep.holders {
            h.stack = frames_of(h.stack_id);
        }
    }

    let label = |c: u32, lock: u64| class::lock_label(&classes, c, lock);
    let potential_deadlocks =
        graph.cycles.iter().map(|c| cycle_report(&graph, c, &name, &label, &frames_of)).collect();
    let order = order_graph(&graph, &name);

    let mut class_reports: Vec<ClassReport> = agg
        .classes
        .iter()
        .enumerate()
        .filter(|(_, s)| s.wait.count > 0 || s.hold.count > 0)
        .filter_map(|(i, s)| {
            let info: &ClassInfo = classes.get(i)?;
            Some(ClassReport {
                name: info.name.clone(),
                kind: info.kind,
                created_at: Site::of(info.created_at),
                wait: duration_stats(&s.wait),
                hold: duration_stats(&s.hold),
            })
        })
        .collect();
    class_reports.sort_by(|a, b| b.wait.total_ns.cmp(&a.wait.total_ns).then(a.name.cmp(&b.name)));

    let mut wait_lines: BTreeMap<String, u64> = BTreeMap::new();
    for (&(role, stack, class, mode), &ns) in &agg.wait {
        let root = match role {
            Role::Waiting => "waiting",
            Role::Holding => "holding",
        };
        *wait_lines.entry(folded_line(root, &frames_of(stack), &name(class), mode)).or_default() += ns;
    }
    let mut hold_lines: BTreeMap<String, u64> = BTreeMap::new();
    for (&(stack, class, mode), &ns) in &agg.hold {
        *hold_lines.entry(folded_line("holding", &frames_of(stack), &name(class), mode)).or_default() += ns;
    }

    TrackReport {
        iterations,
        elapsed_ms: started.elapsed().as_millis() as u64,
        hung,
        panic,
        watchdog_threshold_ms: options.watchdog_threshold.as_millis() as u64,
        hold_sample_period: options.hold_sample_period.max(1),
        potential_deadlocks,
        watchdog: episodes,
        classes: class_reports,
        order,
        wait_folded: folded_text(&wait_lines),
        hold_folded: folded_text(&hold_lines),
    }
}

fn duration_stats(d: &Durations) -> DurationStats {
    DurationStats {
        count: d.count,
        timed: d.timed,
        total_ns: d.total,
        max_ns: d.max,
        p99_ns: d.quantile(0.99),
    }
}

/// `root;outermost;...;innermost;lock:NAME (mode)`: a frame may not contain `;`, and
/// inferno splits the count at the last space, so the line ends with the synthetic frame.
fn folded_line(root: &str, frames: &[Frame], class: &str, mode: Mode) -> String {
    let mut parts = vec![root.to_owned()];
    parts.extend(frames.iter().rev().map(|f| f.function.replace(';', ":")));
    parts.push(format!("lock:{} ({})", class.replace(';', ":"), mode.name()));
    parts.join(";")
}

fn folded_text(lines: &BTreeMap<String, u64>) -> String {
    lines.iter().filter(|(_, &ns)| ns > 0).map(|(l, ns)| format!("{l} {ns}\n")).collect()
}

fn cycle_report(
    graph: &Graph,
    cycle: &[(u32, u32)],
    name: &dyn Fn(u32) -> String,
    label: &dyn Fn(u32, u64) -> String,
    frames_of: &dyn Fn(StackId) -> Vec<Frame>,
) -> PotentialDeadlock {
    let edges: Vec<CycleEdge> = cycle
        .iter()
        .filter_map(|k| graph.edges.get(k))
        .map(|e| CycleEdge {
            from: name(e.from.class),
            to: name(e.to.class),
            from_lock: label(e.from.class, e.from.lock),
            to_lock: label(e.to.class, e.to.lock),
            from_mode: e.from.mode,
            to_mode: e.to.mode,
            from_site: Site::of(e.from.site),
            to_site: Site::of(e.to.site),
            thread: e.thread.clone(),
            from_stack: frames_of(e.from_stack),
            to_stack: frames_of(e.to_stack),
        })
        .collect();
    let mut scenario: Vec<String> = edges
        .iter()
        .enumerate()
        .map(|(i, e)| {
            format!(
                "thread {} holds {} ({}, taken at {}) then takes {} ({}) at {}",
                i + 1,
                e.from_lock,
                e.from_mode.name(),
                e.from_site,
                e.to_lock,
                e.to_mode.name(),
                e.to_site
            )
        })
        .collect();
    if let [e] = edges.as_slice() {
        scenario.push(format!(
            "thread 2 does the same with two locks of class {} taken the other way round: each \
             holds the lock the other takes next (same-class nesting needs one global order)",
            e.from
        ));
    } else {
        scenario.push(
            "if these threads run at the same time, each holds the lock the next one takes: \
             deadlock"
                .to_owned(),
        );
    }
    PotentialDeadlock { classes: edges.iter().map(|e| e.from.clone()).collect(), edges, scenario }
}

fn order_graph(graph: &Graph, name: &dyn Fn(u32) -> String) -> OrderGraph {
    let in_cycle: HashSet<(u32, u32)> = graph.cycles.iter().flatten().copied().collect();
    let mut nodes: Vec<String> = Vec::new();
    let mut edges = Vec::new();
    let mut seen: HashMap<u32, ()> = HashMap::new();
    for key in &graph.order {
        let Some(e) = graph.edges.get(key) else { continue };
        for c in [e.from.class, e.to.class] {
            if seen.insert(c, ()).is_none() {
                nodes.push(name(c));
            }
        }
        edges.push(OrderEdge {
            from: name(e.from.class),
            to: name(e.to.class),
            from_site: Site::of(e.from.site),
            to_site: Site::of(e.to.site),
            in_cycle: in_cycle.contains(key),
        });
    }
    OrderGraph { nodes, edges }
}
