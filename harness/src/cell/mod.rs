//! Interior mutability checked for data races under loom and shuttle, with loom's API:
//! `UnsafeCell` with `with`/`with_mut` and the tracked pointers `get`/`get_mut` return, and a
//! `Cell` built on it.

mod history;
mod pointer;
mod value;

pub use pointer::{ConstPtr, MutPtr};
pub use value::Cell;

use crate::finding::FindingKind;
use crate::rt::record::Tag;
use crate::rt::{self, panic, Engine};
use crate::sync::note;
use history::{History, Kind, Race};
use std::marker::PhantomData;
use std::panic::Location;
use std::sync::{Arc, Mutex, PoisonError};

/// An `UnsafeCell` whose accesses the model checkers check for data races: loom with its own
/// cell, shuttle with lockhound's happens-before history over shuttle's vector clocks
/// (`history`). Under real threads it is a plain `std::cell::UnsafeCell`; like std's, it is
/// not `Sync`, so a structure that shares one must say why that is sound (`unsafe impl Sync`).
///
/// An access is `with`/`with_mut` (the access is the call) or a [`ConstPtr`]/[`MutPtr`] from
/// `get`/`get_mut` (the access lasts until the pointer is dropped, as loom counts it).
pub struct UnsafeCell<T> {
    imp: SyncNeutral<CellImp<T>>,
    tag: Tag,
    /// What makes the cell `!Sync`, as std's is, and what a compiler error names for it.
    _not_sync: PhantomData<std::cell::UnsafeCell<T>>,
}

enum CellImp<T> {
    Loom(loom::cell::UnsafeCell<T>),
    // shuttle runs every thread of an execution on one OS thread, one at a time; the history is
    // locked only while an access is checked, and shared with the pointers whose access is
    // still open (they record its end).
    Shuttle(std::cell::UnsafeCell<T>, Arc<Mutex<History>>),
    Plain(std::cell::UnsafeCell<T>),
}

/// Keeps a field's own auto traits out of its owner's: the owner is `!Sync` through a marker
/// of std's type instead, so a compiler error about sharing it names std's type, not the
/// engines' internals. Only ever a field of a type that is itself `!Sync`.
pub(crate) struct SyncNeutral<T>(pub(crate) T);

// SAFETY: a `SyncNeutral` is only a field of `UnsafeCell` and `Cell`, both `!Sync` through their
// `_not_sync` markers, so no shared reference to it ever reaches another thread through this
// impl alone.
unsafe impl<T> Sync for SyncNeutral<T> {}

// SAFETY: std's bound: every engine's cell is `Send` when `T` is (`_engines_agree` checks it);
// written out so that a missing bound is reported on the user's type.
unsafe impl<T: Send> Send for UnsafeCell<T> {}

#[allow(dead_code)]
fn _engines_agree<T: Send>() {
    fn send<X: Send>() {}
    send::<CellImp<T>>();
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
        UnsafeCell {
            imp: SyncNeutral(imp),
            tag: Tag::new("UnsafeCell", Location::caller()),
            _not_sync: PhantomData,
        }
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
        match &self.imp.0 {
            CellImp::Loom(c) => c.with(f),
            CellImp::Shuttle(c, _) | CellImp::Plain(c) => f(c.get()),
        }
    }

    /// Writes through a raw pointer. Under the model checkers, a write that no synchronization
    /// orders after every earlier access is a data-race finding.
    #[track_caller]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        self.observe(Kind::Write);
        match &self.imp.0 {
            CellImp::Loom(c) => c.with_mut(f),
            CellImp::Shuttle(c, _) | CellImp::Plain(c) => f(c.get()),
        }
    }

    /// A tracked pointer for reading, as loom's `get`: the read lasts until the pointer is
    /// dropped, and is checked for races at both ends (loom checks the whole span).
    #[track_caller]
    pub fn get(&self) -> ConstPtr<T> {
        self.observe(Kind::Read);
        match &self.imp.0 {
            CellImp::Loom(c) => ConstPtr::loom(c.get()),
            CellImp::Shuttle(c, history) => ConstPtr::shuttle(c.get(), self.span(history, Kind::Read)),
            CellImp::Plain(c) => ConstPtr::plain(c.get()),
        }
    }

    /// A tracked pointer for writing, as loom's `get_mut` (not std's `get_mut(&mut self)`): the
    /// write lasts until the pointer is dropped, and is checked for races at both ends.
    #[track_caller]
    pub fn get_mut(&self) -> MutPtr<T> {
        self.observe(Kind::Write);
        match &self.imp.0 {
            CellImp::Loom(c) => MutPtr::loom(c.get_mut()),
            CellImp::Shuttle(c, history) => MutPtr::shuttle(c.get(), self.span(history, Kind::Write)),
            CellImp::Plain(c) => MutPtr::plain(c.get()),
        }
    }

    /// Consumes the cell and returns its value.
    pub fn into_inner(self) -> T {
        match self.imp.0 {
            CellImp::Loom(c) => c.into_inner(),
            CellImp::Shuttle(c, _) | CellImp::Plain(c) => c.into_inner(),
        }
    }

    /// What every engine does at an access, before it: the trace's record, and the race check
    /// of the engine that has one (loom's own cell checks inside its `with`).
    #[track_caller]
    fn observe(&self, kind: Kind) {
        match &self.imp.0 {
            CellImp::Loom(_) => {
                self.tag.expect(Engine::Loom);
                note(Some(Engine::Loom), &self.tag, kind.name());
            }
            CellImp::Shuttle(_, history) => {
                self.tag.expect(Engine::Shuttle);
                note(Some(Engine::Shuttle), &self.tag, kind.name());
                check(history, kind, Location::caller(), &self.tag);
            }
            CellImp::Plain(_) => note(rt::model_engine(), &self.tag, kind.name()),
        }
    }

    /// The open access of a shuttle pointer, whose end is checked when it is dropped.
    #[track_caller]
    fn span(&self, history: &Arc<Mutex<History>>, kind: Kind) -> pointer::Span {
        pointer::Span { history: history.clone(), kind, site: Location::caller(), tag: self.tag }
    }
}

/// Records an access of the current shuttle thread in `history`, and fails the execution with
/// a data-race finding if it races with an earlier one.
#[track_caller]
fn check(history: &Mutex<History>, kind: Kind, site: &'static Location<'static>, tag: &Tag) {
    let result = history.lock().unwrap_or_else(PoisonError::into_inner).access(kind, site);
    if let Err(race) = result {
        panic::raise(FindingKind::DataRace, race_message(tag, &race));
    }
}

fn race_message(tag: &Tag, race: &Race) -> String {
    let describe = |(kind, thread, site): (Kind, usize, &Location<'_>)| {
        format!("a {} by thread {thread} at {}:{}", kind.name(), site.file(), site.line())
    };
    format!(
        "data race on {}: {} is not ordered after {} (no synchronization between them)",
        tag.name(),
        describe(race.later),
        describe(race.earlier)
    )
}

impl<T: Default> Default for UnsafeCell<T> {
    #[track_caller]
    fn default() -> Self {
        UnsafeCell::new(T::default())
    }
}

impl<T> From<T> for UnsafeCell<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        UnsafeCell::new(value)
    }
}

/// Like std's: the value is not shown (reading it would be an access).
impl<T> std::fmt::Debug for UnsafeCell<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnsafeCell").finish_non_exhaustive()
    }
}
