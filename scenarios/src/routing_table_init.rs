//! `routing-table-init`: Olric's routing table counts the partitions it owns before the node
//! knows its own member record (olric #247, fixed in v0.5.6 by commit 82e4433).

use lockhound::cell::UnsafeCell;
use lockhound::scenario::{Scenario, Variant};
use lockhound::sync::{Arc, Condvar, Mutex};
use lockhound::thread;

/// The scenario, as `lockhound list` shows it and the gate runs it.
pub fn scenario() -> Scenario {
    Scenario::new("routing-table-init")
        .summary("Olric counts owned partitions against a zero member record: Start writes r.this while the handler reads it")
        .provenance(
            "olric issue #247 (v0.5.5, found by go test -race on a 5-node cluster); fixed in v0.5.6 by commit 82e4433",
            "RoutingTable.Start() assigns r.this (the node's own member record) after joining the cluster, \
            without the handler's mutex. updateRoutingCommandHandler is already live: once the node has \
            joined, the coordinator pushes a routing table and setOwnedPartitionCount() counts partitions \
            whose owner equals r.this. Read before the write, it stores 0 although the node owns some, and \
            marks the node bootstrapped: eviction limits are silently skipped.",
            "Split Join from Start: Join assigns r.this and then closes a `joined` channel; the handlers wait \
            on it first, a release/acquire edge from the write to every read.",
        )
        .with(
            Variant::must_fail("buggy", buggy)
                .description("olric v0.5.5: Start joins the cluster, then assigns r.this; the handler does not wait")
        )
        .with(
            Variant::must_pass("fixed", fixed)
                .description("olric v0.5.6: Join assigns r.this and closes `joined`; the handler waits on `joined` first")
        )
}

/// This node's id and the owners the coordinator pushes: the node owns two of four partitions.
const THIS_NODE: u64 = 7;
const PUSHED_OWNERS: [u64; 4] = [THIS_NODE, 9, THIS_NODE, 9];

/// A member record: a plain multi-word struct, so a write field by field can also be torn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Member {
    id: u64,
    birthdate: i64,
}

#[derive(Default)]
struct Table {
    owners: Vec<u64>,
    owned_partition_count: usize,
    /// The record that setOwnedPartitionCount compared owners with.
    counted_against: Member,
    bootstrapped: bool,
}

/// A channel that is only ever closed, like Go's `chan struct{}` used as an event.
struct Event {
    closed: Mutex<bool>,
    wake: Condvar,
}

impl Event {
    fn new() -> Self {
        Event { closed: Mutex::new(false), wake: Condvar::new() }
    }

    fn close(&self) {
        *self.closed.lock().unwrap() = true;
        self.wake.notify_all();
    }

    fn wait(&self) {
        let closed = self.closed.lock().unwrap();
        drop(self.wake.wait_while(closed, |closed| !*closed).unwrap());
    }
}

struct RoutingTable {
    /// `r.this`: written by Start without the table's mutex, read by the handler under it.
    this: UnsafeCell<Member>,
    table: Mutex<Table>,
    /// The node has joined the cluster: from here on the coordinator may push a table.
    cluster_joined: Event,
    /// The fix: closed by Join once `this` is assigned.
    joined: Event,
    fixed: bool,
}

// SAFETY: this mirrors the Go code's sharing of `r.this` between Start and the handler; it is
// exactly the claim the scenario tests (and, in the buggy variant, refutes).
unsafe impl Sync for RoutingTable {}
unsafe impl Send for RoutingTable {}

fn buggy() {
    node_joins(false)
}

fn fixed() {
    node_joins(true)
}

fn node_joins(fixed: bool) {
    let r = Arc::new(RoutingTable {
        this: UnsafeCell::named("r.this", Member::default()),
        table: Mutex::named("r.mu", Table::default()),
        cluster_joined: Event::new(),
        joined: Event::new(),
        fixed,
    });
    // The network handler is live before Start runs.
    let handler = {
        let r = r.clone();
        thread::spawn(move || r.update_routing_command_handler(PUSHED_OWNERS.to_vec()))
    };
    let start = {
        let r = r.clone();
        thread::spawn(move || r.start())
    };
    start.join().unwrap();
    handler.join().unwrap();

    let table = r.table.lock().unwrap();
    let owned = PUSHED_OWNERS.iter().filter(|&&o| o == THIS_NODE).count();
    assert!(
        !table.bootstrapped || table.owned_partition_count == owned,
        "bootstrapped with owned partition count {} but node {THIS_NODE} owns {owned}: \
         setOwnedPartitionCount compared the owners with r.this = {:?}, not this node's record",
        table.owned_partition_count,
        table.counted_against
    );
}

impl RoutingTable {
    fn start(&self) {
        if self.fixed {
            // v0.5.6: Join assigns r.this, then closes `joined`, then joins the cluster.
            self.assign_this();
            self.joined.close();
            self.cluster_joined.close();
        } else {
            // v0.5.5: join the cluster first; the coordinator may push from now on.
            self.cluster_joined.close();
            self.assign_this();
        }
    }

    /// `r.this = member`, a plain write of a multi-word record.
    fn assign_this(&self) {
        self.this.with_mut(|this| {
            // SAFETY: a plain write to a record no one else writes; reads of it are what the
            // scenario checks for races.
            unsafe {
                (*this).id = THIS_NODE;
                (*this).birthdate = 1_650_000_000;
            }
        });
    }

    fn update_routing_command_handler(&self, owners: Vec<u64>) {
        if self.fixed {
            self.joined.wait();
        }
        // The coordinator's push arrives only once the node is in the cluster.
        self.cluster_joined.wait();
        let mut table = self.table.lock().unwrap();
        table.owners = owners;
        self.set_owned_partition_count(&mut table);
        table.bootstrapped = true;
    }

    fn set_owned_partition_count(&self, table: &mut Table) {
        // SAFETY: reads `r.this` as Go's code does; loom reports it if it races with Start.
        let this = self.this.with(|this| unsafe { *this });
        table.owned_partition_count = table.owners.iter().filter(|&&o| o == this.id).count();
        table.counted_against = this;
    }
}
