//! The lock-order graph by lock class, lockdep style: a thread that holds class A and
//! acquires class B adds the edge A -> B. An edge that closes a cycle is a potential
//! deadlock, reported although the run itself may never have deadlocked.
//!
//! Threads validate each (held class, new class) pair once per session in a thread-local
//! cache (see the registry), so only first-seen pairs reach this process-wide graph.

use super::class::ClassId;
use super::stack::{self, StackId};
use super::Mode;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet, VecDeque};
use std::panic::Location;
use std::sync::OnceLock;

/// One side of an edge: an acquisition.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Acq {
    pub class: ClassId,
    pub mode: Mode,
    pub site: &'static Location<'static>,
    /// The lock's id (its instance number labels it in the report).
    pub lock: u64,
}

/// The first time an edge was seen.
#[derive(Clone, Debug)]
pub(crate) struct Edge {
    pub from: Acq,
    pub to: Acq,
    /// First stack seen at the acquisition of `from` (the lock held).
    pub from_stack: StackId,
    /// Stack of the acquisition of `to` while `from` was held.
    pub to_stack: StackId,
    pub thread: String,
}

#[derive(Default)]
pub(crate) struct Graph {
    pub epoch: u64,
    pub edges: HashMap<(ClassId, ClassId), Edge>,
    /// Insertion order of the edges, for stable reports.
    pub order: Vec<(ClassId, ClassId)>,
    adj: HashMap<ClassId, Vec<ClassId>>,
    /// Each cycle as its edges in order, each reported once.
    pub cycles: Vec<Vec<(ClassId, ClassId)>>,
    seen: HashSet<Vec<(ClassId, ClassId)>>,
}

fn graph() -> &'static Mutex<Graph> {
    static GRAPH: OnceLock<Mutex<Graph>> = OnceLock::new();
    GRAPH.get_or_init(Default::default)
}

pub(crate) fn reset(epoch: u64) {
    *graph().lock() = Graph { epoch, ..Default::default() };
}

pub(crate) fn take(epoch: u64) -> Graph {
    let mut g = graph().lock();
    if g.epoch != epoch {
        return Graph { epoch, ..Default::default() };
    }
    std::mem::take(&mut *g)
}

/// Adds `from -> to` if it is new in session `epoch`, and records the cycle it closes.
#[cold]
pub(crate) fn add_edge(epoch: u64, thread: &str, from: Acq, to: Acq) {
    let key = (from.class, to.class);
    if graph().lock().edges.contains_key(&key) {
        return;
    }
    // Unwinding takes microseconds: done outside the graph's lock, once per new edge.
    let to_stack = stack::capture();
    let from_stack = stack::known_site_stack(from.site as *const Location as usize);
    let mut g = graph().lock();
    if g.epoch != epoch || g.edges.contains_key(&key) {
        return;
    }
    let thread = thread.to_owned();
    g.edges.insert(key, Edge { from, to, from_stack, to_stack, thread });
    g.order.push(key);
    g.adj.entry(from.class).or_default().push(to.class);
    if let Some(mut cycle) = path(&g.adj, to.class, from.class) {
        cycle.push(key);
        let canonical = canonical(&cycle);
        if g.seen.insert(canonical) {
            g.cycles.push(cycle);
        }
    }
}

/// The edges of a shortest path from `start` to `goal` (empty if they are the same class).
fn path(
    adj: &HashMap<ClassId, Vec<ClassId>>,
    start: ClassId,
    goal: ClassId,
) -> Option<Vec<(ClassId, ClassId)>> {
    if start == goal {
        return Some(Vec::new());
    }
    let mut parent: HashMap<ClassId, ClassId> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        for &m in adj.get(&n).into_iter().flatten() {
            if m == start || parent.contains_key(&m) {
                continue;
            }
            parent.insert(m, n);
            if m == goal {
                let mut edges = vec![];
                let mut cur = goal;
                while cur != start {
                    let p = parent[&cur];
                    edges.push((p, cur));
                    cur = p;
                }
                edges.reverse();
                return Some(edges);
            }
            queue.push_back(m);
        }
    }
    None
}

/// The cycle rotated to start at its smallest edge, so each cycle is reported once.
fn canonical(cycle: &[(ClassId, ClassId)]) -> Vec<(ClassId, ClassId)> {
    let start = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
    cycle[start..].iter().chain(&cycle[..start]).copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_path_that_closes_a_cycle() {
        let mut adj = HashMap::new();
        adj.insert(1, vec![2]);
        adj.insert(2, vec![3]);
        assert_eq!(path(&adj, 1, 3), Some(vec![(1, 2), (2, 3)]));
        assert_eq!(path(&adj, 3, 1), None);
        assert_eq!(canonical(&[(3, 1), (1, 2), (2, 3)]), vec![(1, 2), (2, 3), (3, 1)]);
    }
}
