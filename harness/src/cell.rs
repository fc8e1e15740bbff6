//! Interior mutability checked for data races under loom, with loom's `with`/`with_mut` shape.

use crate::rt::record::Tag;
use crate::rt::{self, Engine};
use crate::sync::note;
use std::panic::Location;

/// An `UnsafeCell` whose accesses loom checks for data races. Under shuttle and real threads
/// it is a plain `std::cell::UnsafeCell`; like std's, it is not `Sync`, so a structure that
/// shares one must say why that is sound (`unsafe impl Sync`).
pub struct UnsafeCell<T> {
    imp: CellImp<T>,
    tag: Tag,
}

enum CellImp<T> {
    Loom(loom::cell::UnsafeCell<T>),
    Plain(std::cell::UnsafeCell<T>),
}

impl<T> UnsafeCell<T> {
    /// Creates the cell under the engine of the current run.
    #[track_caller]
    pub fn new(value: T) -> Self {
        let imp = match rt::engine() {
            Engine::Loom => CellImp::Loom(loom::cell::UnsafeCell::new(value)),
            Engine::Shuttle | Engine::Std => CellImp::Plain(std::cell::UnsafeCell::new(value)),
        };
        UnsafeCell { imp, tag: Tag::new("UnsafeCell", Location::caller()) }
    }

    /// Creates the cell with a name that traces show instead of its creation site.
    #[track_caller]
    pub fn named(name: &'static str, value: T) -> Self {
        let mut cell = Self::new(value);
        cell.tag = cell.tag.with_name(name);
        cell
    }

    /// Reads through a raw pointer. Under loom, a read concurrent with a write is a data-race
    /// finding.
    #[track_caller]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        match &self.imp {
            CellImp::Loom(c) => {
                rt::expect_engine(Engine::Loom);
                note(Some(Engine::Loom), &self.tag, "read");
                c.with(f)
            }
            CellImp::Plain(c) => {
                note(rt::model_engine(), &self.tag, "read");
                f(c.get())
            }
        }
    }

    /// Writes through a raw pointer. Under loom, a write concurrent with any other access is a
    /// data-race finding.
    #[track_caller]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        match &self.imp {
            CellImp::Loom(c) => {
                rt::expect_engine(Engine::Loom);
                note(Some(Engine::Loom), &self.tag, "write");
                c.with_mut(f)
            }
            CellImp::Plain(c) => {
                note(rt::model_engine(), &self.tag, "write");
                f(c.get())
            }
        }
    }

    /// Consumes the cell and returns its value.
    pub fn into_inner(self) -> T {
        match self.imp {
            CellImp::Loom(c) => c.into_inner(),
            CellImp::Plain(c) => c.into_inner(),
        }
    }
}
