//! `aba-stack`: a lock-free Treiber stack over a pool of nodes that are reused, with retry
//! loops around every compare-exchange. A pop reads the head `A` and its successor `B`, then
//! swings the head from `A` to `B`. If meanwhile other pops took `A` and `B` and a push put `A`
//! back, the head is `A` again and the compare-exchange succeeds: the head becomes `B`, a node
//! that is in use. The correct stack tags the head with a counter bumped by every change, so
//! the stale compare-exchange fails and retries.
//!
//! The small version has the ABA in its shortest form; the version with retries runs three
//! threads through rounds of pops and pushes, where the window is one step among many and
//! failed compare-exchanges add retry iterations. In the deep version each thread holds one
//! node at a time: the ABA needs a pop stalled between its loads and its compare-exchange
//! while two other threads each pop a node and the first pushes its own back, three
//! interleaved decisions among a dozen operations per thread.

use super::{Expected, Program, Version};
use lockhound::sync::atomic::{AtomicU64, Ordering};
use lockhound::sync::Arc;
use lockhound::thread;
use std::sync::atomic::{AtomicBool as OracleFlag, Ordering as OracleOrdering};

pub static PROGRAM: Program = Program {
    name: "aba-stack",
    description: "a Treiber stack with node reuse and retry loops: ABA on an untagged head",
    versions: &[
        Version {
            name: "buggy",
            expected: Expected::Fail,
            description: "untagged head; one thread pops and pushes back, one pops twice and pushes one back",
            body: || run(Head::Untagged, Shape::Small),
        },
        Version {
            name: "buggy-retries",
            expected: Expected::Fail,
            description: "untagged head; three threads, three rounds each of two pops and two pushes",
            body: || run(Head::Untagged, Shape::Rounds),
        },
        Version {
            name: "buggy-deep",
            expected: Expected::Fail,
            description: "untagged head; three threads, four rounds each of one pop and its push back",
            body: || run(Head::Untagged, Shape::OneAtATime),
        },
        Version {
            name: "correct",
            expected: Expected::Pass,
            description: "head tagged with a change counter; three threads, three rounds each",
            body: || run(Head::Tagged, Shape::Rounds),
        },
        Version {
            name: "correct-deep",
            expected: Expected::Pass,
            description: "head tagged with a change counter; the deep version's threads",
            body: || run(Head::Tagged, Shape::OneAtATime),
        },
        Version {
            name: "correct-small",
            expected: Expected::Pass,
            description: "head tagged with a change counter; the small version's threads",
            body: || run(Head::Tagged, Shape::Small),
        },
    ],
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Head {
    Untagged,
    Tagged,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Small,
    Rounds,
    OneAtATime,
}

const NODES: usize = 4;
const NIL: u64 = 0xFFFF_FFFF;
const INDEX: u64 = 0xFFFF_FFFF;

struct Stack {
    /// The top node's index in the low 32 bits, a change counter in the high 32 (tagged).
    head: AtomicU64,
    next: Vec<AtomicU64>,
    tagging: Head,
    /// The oracle: which nodes a thread holds (plain std atomics, no scheduling points).
    held: Vec<OracleFlag>,
}

impl Stack {
    fn swing(&self, old: u64, to: u64) -> u64 {
        match self.tagging {
            Head::Tagged => ((old >> 32).wrapping_add(1) << 32) | to,
            Head::Untagged => to,
        }
    }

    fn pop(&self) -> Option<u64> {
        loop {
            let head = self.head.load(Ordering::SeqCst);
            let top = head & INDEX;
            if top == NIL {
                return None;
            }
            let next = self.next[top as usize].load(Ordering::SeqCst);
            let new = self.swing(head, next);
            if self.head.compare_exchange(head, new, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                let twice = self.held[top as usize].swap(true, OracleOrdering::Relaxed);
                assert!(
                    !twice,
                    "node {top} popped while a thread held it: the head was swung to a node in use (ABA)"
                );
                return Some(top);
            }
        }
    }

    fn push(&self, node: u64) {
        self.held[node as usize].store(false, OracleOrdering::Relaxed);
        loop {
            let head = self.head.load(Ordering::SeqCst);
            self.next[node as usize].store(head & INDEX, Ordering::SeqCst);
            let new = self.swing(head, node);
            if self.head.compare_exchange(head, new, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                return;
            }
        }
    }
}

fn run(tagging: Head, shape: Shape) {
    // Nodes 0..NODES stacked with 0 on top.
    let stack = Arc::new(Stack {
        head: AtomicU64::new(0),
        next: (0..NODES as u64)
            .map(|i| AtomicU64::new(if i + 1 < NODES as u64 { i + 1 } else { NIL }))
            .collect(),
        tagging,
        held: (0..NODES).map(|_| OracleFlag::new(false)).collect(),
    });
    let threads: Vec<_> = match shape {
        Shape::Small => {
            let (s1, s2) = (stack.clone(), stack.clone());
            vec![
                thread::spawn(move || {
                    if let Some(a) = s1.pop() {
                        s1.push(a);
                    }
                }),
                thread::spawn(move || {
                    let a = s2.pop();
                    let b = s2.pop();
                    if let Some(a) = a {
                        s2.push(a);
                    }
                    if let Some(b) = b {
                        s2.push(b);
                    }
                }),
            ]
        }
        Shape::Rounds => (0..3)
            .map(|_| {
                let s = stack.clone();
                thread::spawn(move || {
                    for _ in 0..3 {
                        let a = s.pop();
                        let b = s.pop();
                        for node in [a, b].into_iter().flatten() {
                            s.push(node);
                        }
                    }
                })
            })
            .collect(),
        Shape::OneAtATime => (0..3)
            .map(|_| {
                let s = stack.clone();
                thread::spawn(move || {
                    for _ in 0..4 {
                        if let Some(node) = s.pop() {
                            s.push(node);
                        }
                    }
                })
            })
            .collect(),
    };
    for t in threads {
        t.join().unwrap();
    }
    // Every node is back on the stack, each once.
    let mut seen = 0;
    while stack.pop().is_some() {
        seen += 1;
        assert!(seen <= NODES, "the stack has a cycle");
    }
    assert_eq!(seen, NODES, "a node was lost");
}
