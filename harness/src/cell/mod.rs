//! Interior mutability checked for data races under loom and shuttle, with loom's
//! `with`/`with_mut` shape.

mod history;

use crate::finding::FindingKind;
use crate::rt::record::Tag;
use crate::rt::{self, panic, Engine};
use crate::sync::note;
use history::{History, Kind, Race};
use std::panic::Location;

/// An `UnsafeCell` whose accesses the model checkers check for data races: loom with its own
/// cell, shuttle with lockhound's happens-before history over shuttle's vector clocks
/// (`history`). Under real threads it is a plain `std::cell::UnsafeCell`; like std's, it is
/// not `Sync`, so a structure that shares one must say why that is sound (`unsafe impl Sync`).
pub struct UnsafeCell<T> {
    imp: CellImp<T>,
    tag: Tag,
}

enum CellImp<T> {
    Loom(loom::cell::UnsafeCell<T>),
    // shuttle runs every thread of an execution on one OS thread, one at a time, and a
    // history is borrowed only while an access is checked, never while the body runs.
    Shuttle(std::cell::UnsafeCell<T>, std::cell::RefCell<History>),
    Plain(std::cell::UnsafeCell<T>),
}

impl<T> UnsafeCell<T> {
    /// Creates the cell under the engine of the current run.
    #[track_caller]
    pub fn new(value: T) -> Self {
        let imp = match rt::engine() {
            Engine::Loom => CellImp::Loom(loom::cell::UnsafeCell::new(value)),
            Engine::Shuttle => CellImp::Shuttle(std::cell::UnsafeCell::new(value), Default::default()),
            Engine::Std => CellImp::Plain(std::cell::UnsafeCell::new(value)),
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

    /// Reads through a raw pointer. Under the model checkers, a read that no synchronization
    /// orders after the last write is a data-race finding.
    #[track_caller]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        self.observe(Kind::Read);
        match &self.imp {
            CellImp::Loom(c) => c.with(f),
            CellImp::Shuttle(c, _) | CellImp::Plain(c) => f(c.get()),
        }
    }

    /// Writes through a raw pointer. Under the model checkers, a write that no synchronization
    /// orders after every earlier access is a data-race finding.
    #[track_caller]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        self.observe(Kind::Write);
        match &self.imp {
            CellImp::Loom(c) => c.with_mut(f),
            CellImp::Shuttle(c, _) | CellImp::Plain(c) => f(c.get()),
        }
    }

    /// Consumes the cell and returns its value.
    pub fn into_inner(self) -> T {
        match self.imp {
            CellImp::Loom(c) => c.into_inner(),
            CellImp::Shuttle(c, _) | CellImp::Plain(c) => c.into_inner(),
        }
    }

    /// What every engine does at an access, before it: the trace's record, and the race check
    /// of the engine that has one (loom's own cell checks inside its `with`).
    #[track_caller]
    fn observe(&self, kind: Kind) {
        match &self.imp {
            CellImp::Loom(_) => {
                self.tag.expect(Engine::Loom);
                note(Some(Engine::Loom), &self.tag, kind.name());
            }
            CellImp::Shuttle(_, history) => {
                self.tag.expect(Engine::Shuttle);
                note(Some(Engine::Shuttle), &self.tag, kind.name());
                let result = history.borrow_mut().access(kind, Location::caller());
                if let Err(race) = result {
                    panic::raise(FindingKind::DataRace, self.race_message(&race));
                }
            }
            CellImp::Plain(_) => note(rt::model_engine(), &self.tag, kind.name()),
        }
    }

    fn race_message(&self, race: &Race) -> String {
        let describe = |(kind, thread, site): (Kind, usize, &Location<'_>)| {
            format!("a {} by thread {thread} at {}:{}", kind.name(), site.file(), site.line())
        };
        format!(
            "data race on {}: {} is not ordered after {} (no synchronization between them)",
            self.tag.name(),
            describe(race.later),
            describe(race.earlier)
        )
    }
}
