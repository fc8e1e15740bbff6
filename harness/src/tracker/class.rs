//! Lock classes (a name, or else the creation site) and the identity of each tracked lock.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Index of a lock class in the class table.
pub(crate) type ClassId = u32;

/// Which kind of lock a class is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LockKind {
    Mutex,
    RwLock,
}

#[derive(Clone, Debug)]
pub(crate) struct ClassInfo {
    /// The given name, or `file:line:col` of the creation site.
    pub name: String,
    pub kind: LockKind,
    /// Where the first lock of the class was created.
    pub created_at: &'static Location<'static>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Name(String, LockKind),
    Site(usize, LockKind),
}

#[derive(Default)]
struct Table {
    by_key: HashMap<Key, ClassId>,
    classes: Vec<ClassInfo>,
}

fn table() -> &'static Mutex<Table> {
    static TABLE: OnceLock<Mutex<Table>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

/// What a tracked lock knows about itself: a process-unique id and its class.
#[derive(Debug)]
pub(crate) struct LockMeta {
    pub id: u64,
    pub class: ClassId,
}

impl LockMeta {
    /// Interns the class (a process-wide lock, but only when a lock is created, never on
    /// the acquisition path).
    pub fn new(name: Option<&str>, kind: LockKind, created_at: &'static Location<'static>) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let key = match name {
            Some(n) => Key::Name(n.to_owned(), kind),
            None => Key::Site(created_at as *const Location as usize, kind),
        };
        let mut t = table().lock();
        let class = match t.by_key.get(&key) {
            Some(&c) => c,
            None => {
                let c = t.classes.len() as ClassId;
                let name = name.map(str::to_owned).unwrap_or_else(|| site_name(created_at));
                t.classes.push(ClassInfo { name, kind, created_at });
                t.by_key.insert(key, c);
                c
            }
        };
        LockMeta { id: NEXT_ID.fetch_add(1, Ordering::Relaxed), class }
    }
}

pub(crate) fn site_name(site: &Location<'_>) -> String {
    format!("{}:{}:{}", site.file(), site.line(), site.column())
}

/// The class table as it is now (for reports).
pub(crate) fn snapshot() -> Vec<ClassInfo> {
    table().lock().classes.clone()
}
