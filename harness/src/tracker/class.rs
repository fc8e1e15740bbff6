//! Lock classes (a name, or else the creation site) and the identity of each tracked lock.
//!
//! Lockdep's rule: statistics and the lock-order graph are per class, never per lock, so
//! every lock created at one site (or under one name) is one class. To tell the locks of a
//! class apart in a report, each lock also has an instance number: the how-many-th lock of
//! its class created in the current iteration of the body, shown as `NAME #2` from the
//! second on. It is carried in the low bits of the lock's id, so anything that knows a lock's
//! id (a held entry, a wait) can label it.

use crate::source_path;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Index of a lock class in the class table.
pub(crate) type ClassId = u32;

/// Low bits of a lock id that hold its instance number (later instances share the top one).
const INSTANCE_BITS: u32 = 16;
const INSTANCE_MASK: u64 = (1 << INSTANCE_BITS) - 1;

/// Which kind of lock a class is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LockKind {
    Mutex,
    RwLock,
}

#[derive(Clone, Debug)]
pub(crate) struct ClassInfo {
    /// The given name, or `file:line:col` of the creation site (the path as reports show it).
    pub name: String,
    pub kind: LockKind,
    /// Where the first lock of the class was created.
    pub created_at: &'static Location<'static>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Name(String, LockKind),
    /// By content, not by the `Location`'s address: the compiler may emit one site's
    /// `Location` more than once (inlined into several codegen units).
    Site(&'static str, u32, u32, LockKind),
}

struct Entry {
    given: Option<String>,
    kind: LockKind,
    created_at: &'static Location<'static>,
    /// The iteration its last lock was created in, and how many it had then.
    instances: (u64, u64),
}

#[derive(Default)]
struct Table {
    by_key: HashMap<Key, ClassId>,
    classes: Vec<Entry>,
}

fn table() -> &'static Mutex<Table> {
    static TABLE: OnceLock<Mutex<Table>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

/// The iteration of the body running now, for instance numbers (see [`new_iteration`]).
static ITERATION: AtomicU64 = AtomicU64::new(0);

/// Starts a new iteration of the body: instance numbers count from 1 again, so `#2` is the
/// second lock of its class that this iteration created, whatever ran before.
pub(crate) fn new_iteration() {
    ITERATION.fetch_add(1, Ordering::Relaxed);
}

/// What a tracked lock knows about itself: a process-unique id and its class.
#[derive(Debug)]
pub(crate) struct LockMeta {
    /// A process-unique number above [`INSTANCE_BITS`], the instance number below.
    pub id: u64,
    pub class: ClassId,
}

impl LockMeta {
    /// Interns the class (a process-wide lock, but only when a lock is created, never on
    /// the acquisition path).
    pub fn new(name: Option<&str>, kind: LockKind, created_at: &'static Location<'static>) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let key = match name {
            Some(n) => Key::Name(n.to_owned(), kind),
            None => Key::Site(created_at.file(), created_at.line(), created_at.column(), kind),
        };
        let iteration = ITERATION.load(Ordering::Relaxed);
        let mut t = table().lock();
        let class = match t.by_key.get(&key) {
            Some(&c) => c,
            None => {
                let c = t.classes.len() as ClassId;
                let given = name.map(str::to_owned);
                t.classes.push(Entry { given, kind, created_at, instances: (iteration, 0) });
                t.by_key.insert(key, c);
                c
            }
        };
        let entry = &mut t.classes[class as usize];
        if entry.instances.0 != iteration {
            entry.instances = (iteration, 0);
        }
        entry.instances.1 += 1;
        let instance = entry.instances.1.min(INSTANCE_MASK);
        let id = NEXT.fetch_add(1, Ordering::Relaxed) << INSTANCE_BITS | instance;
        LockMeta { id, class }
    }
}

pub(crate) fn site_name(site: &Location<'_>) -> String {
    format!("{}:{}:{}", source_path::shorten(site.file()), site.line(), site.column())
}

/// The class table as it is now (for reports).
pub(crate) fn snapshot() -> Vec<ClassInfo> {
    let t = table().lock();
    t.classes
        .iter()
        .map(|e| ClassInfo {
            name: e.given.clone().unwrap_or_else(|| site_name(e.created_at)),
            kind: e.kind,
            created_at: e.created_at,
        })
        .collect()
}

/// The name of class `class` in `classes`.
pub(crate) fn class_name(classes: &[ClassInfo], class: ClassId) -> String {
    classes.get(class as usize).map_or_else(|| format!("class {class}"), |c| c.name.clone())
}

/// The label of lock `lock` of class `class`: the class's name, and `#N` for the N-th lock of
/// the class created in its iteration, from the second on.
pub(crate) fn lock_label(classes: &[ClassInfo], class: ClassId, lock: u64) -> String {
    let name = class_name(classes, class);
    match lock & INSTANCE_MASK {
        0 | 1 => name,
        n => format!("{name} #{n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_of_one_site_are_one_class_with_distinct_instances() {
        // One creation site for every lock of the test.
        let create = || LockMeta::new(None, LockKind::Mutex, Location::caller());
        new_iteration();
        let metas: Vec<LockMeta> = (0..3).map(|_| create()).collect();
        assert!(metas.iter().all(|m| m.class == metas[0].class));
        let classes = snapshot();
        let labels: Vec<String> = metas.iter().map(|m| lock_label(&classes, m.class, m.id)).collect();
        let site = class_name(&classes, metas[0].class);
        assert_eq!(labels, [site.clone(), format!("{site} #2"), format!("{site} #3")]);
        // A new iteration numbers from 1 again; ids stay unique.
        new_iteration();
        let again = create();
        assert_eq!(again.class, metas[0].class);
        assert_eq!(lock_label(&classes, again.class, again.id), site);
        assert!(metas.iter().all(|m| m.id != again.id));
    }

    #[test]
    fn a_name_is_the_class_wherever_its_locks_are_created() {
        let a = LockMeta::new(Some("bucket"), LockKind::Mutex, Location::caller());
        let b = LockMeta::new(Some("bucket"), LockKind::Mutex, Location::caller());
        let other_kind = LockMeta::new(Some("bucket"), LockKind::RwLock, Location::caller());
        assert_eq!(a.class, b.class);
        assert_ne!(a.class, other_kind.class);
        assert_eq!(class_name(&snapshot(), a.class), "bucket");
    }
}
