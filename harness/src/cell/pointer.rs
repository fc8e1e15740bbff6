//! loom's tracked pointers into an [`UnsafeCell`](super::UnsafeCell): the access lasts as long
//! as the pointer does. Under loom they are loom's own; under shuttle the access is checked
//! against the cell's history when the pointer is made and again when it is dropped, so a
//! read or write still going on after the thread published the cell (a release, an unlock)
//! races with the thread that acquired it; on real threads they are raw pointers.
//!
//! Like raw pointers, they may outlive the cell: dereferencing one is `unsafe`, and only as
//! sound as the code that keeps the cell alive.

use super::history::{History, Kind};
use super::{check, Tag};
use std::panic::Location;
use std::sync::{Arc, Mutex};

/// A read of a cell that lasts until this pointer is dropped: loom's `ConstPtr`.
pub struct ConstPtr<T> {
    imp: PtrImp<*const T, loom::cell::ConstPtr<T>>,
}

/// A write of a cell that lasts until this pointer is dropped: loom's `MutPtr`.
pub struct MutPtr<T> {
    imp: PtrImp<*mut T, loom::cell::MutPtr<T>>,
}

enum PtrImp<P, L> {
    Loom(L),
    // The span is only read by its drop, which closes the access.
    Shuttle(P, #[allow(dead_code)] Span),
    Plain(P),
}

/// An open access of a shuttle cell; dropping it records the access again, as of now, so that
/// it is checked against what happened meanwhile.
pub(super) struct Span {
    pub(super) history: Arc<Mutex<History>>,
    pub(super) kind: Kind,
    pub(super) site: &'static Location<'static>,
    pub(super) tag: Tag,
}

impl Drop for Span {
    fn drop(&mut self) {
        // `access` itself ignores a drop while unwinding or outside the execution.
        check(&self.history, self.kind, self.site, &self.tag);
    }
}

impl<T> ConstPtr<T> {
    pub(super) fn loom(ptr: loom::cell::ConstPtr<T>) -> Self {
        ConstPtr { imp: PtrImp::Loom(ptr) }
    }

    pub(super) fn shuttle(ptr: *const T, span: Span) -> Self {
        ConstPtr { imp: PtrImp::Shuttle(ptr, span) }
    }

    pub(super) fn plain(ptr: *const T) -> Self {
        ConstPtr { imp: PtrImp::Plain(ptr) }
    }

    /// Dereferences the pointer.
    ///
    /// # Safety
    ///
    /// As for dereferencing a `*const T`: the cell must be alive and not written meanwhile
    /// (the model checkers report a write by another thread that is not ordered with this
    /// read; they do not check that the cell is alive).
    pub unsafe fn deref(&self) -> &T {
        // SAFETY: the caller's promise.
        self.with(|p| unsafe { &*p })
    }

    /// Runs `f` with the raw pointer. It must not escape `f`: the access is tracked only while
    /// this `ConstPtr` lives.
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        match &self.imp {
            PtrImp::Loom(p) => p.with(f),
            PtrImp::Shuttle(p, _) | PtrImp::Plain(p) => f(*p),
        }
    }
}

impl<T> MutPtr<T> {
    pub(super) fn loom(ptr: loom::cell::MutPtr<T>) -> Self {
        MutPtr { imp: PtrImp::Loom(ptr) }
    }

    pub(super) fn shuttle(ptr: *mut T, span: Span) -> Self {
        MutPtr { imp: PtrImp::Shuttle(ptr, span) }
    }

    pub(super) fn plain(ptr: *mut T) -> Self {
        MutPtr { imp: PtrImp::Plain(ptr) }
    }

    /// Dereferences the pointer mutably.
    ///
    /// # Safety
    ///
    /// As for dereferencing a `*mut T`: the cell must be alive and no other reference to its
    /// value may exist meanwhile (the model checkers report accesses by other threads that
    /// are not ordered with this write; they do not check that the cell is alive).
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn deref(&self) -> &mut T {
        // SAFETY: the caller's promise.
        self.with(|p| unsafe { &mut *p })
    }

    /// Runs `f` with the raw pointer. It must not escape `f`: the access is tracked only while
    /// this `MutPtr` lives.
    pub fn with<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        match &self.imp {
            PtrImp::Loom(p) => p.with(f),
            PtrImp::Shuttle(p, _) | PtrImp::Plain(p) => f(*p),
        }
    }
}

impl<T> std::fmt::Debug for ConstPtr<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.with(|p| f.debug_tuple("ConstPtr").field(&p).finish())
    }
}

impl<T> std::fmt::Debug for MutPtr<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.with(|p| f.debug_tuple("MutPtr").field(&p).finish())
    }
}
