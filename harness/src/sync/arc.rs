//! Reference counting, like `std::sync::{Arc, Weak}`.
//!
//! Under shuttle and on real threads the facade's `Arc` is std's own (shuttle's is std's too).
//! Under loom, cloning and dropping an `Arc` are loom's `Arc` operations, scheduling points
//! with loom's release and acquire, and an `Arc` a body leaks is a finding. loom has no `Weak`,
//! and its `Arc` cannot take a reference back from nothing, which is what `Weak::upgrade` does:
//! so the facade counts strong and weak handles itself, beside a loom `Arc<()>` *token* that
//! each handle holds a clone of:
//!
//! - clone and drop of a handle are the token's clone and drop (loom's scheduling points,
//!   loom's release on every drop, loom's leak check), then the facade's count changes. loom
//!   runs one simulated thread at a time and switches only inside its own operations, so the
//!   counts change atomically with the token operation just before them;
//! - the value is dropped when the last strong handle is: after loom's acquire, which loom's
//!   own last drop makes when no weak handle holds a token; when one does, the facade acquires
//!   with an inspection (`strong_count`) of a spare token kept for that;
//! - `Weak::upgrade` inspects its token (a scheduling point, with loom's acquire), then takes a
//!   strong handle only if a strong handle is left.
//!
//! A body that uses no `Weak` makes exactly the loom operations it made with loom's `Arc`.
//!
//! Unsized values (`Arc<dyn Trait>`, `Arc<[T]>`): std makes them by a coercion that only std
//! types can have on stable Rust; the facade makes them from a `Box` (`Arc::from`) or from a
//! std `Arc` that has no other handle (`Arc::from_std`, as loom does).

use crate::rt::{self, Engine};
use std::borrow::Borrow;
use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::pin::Pin;

/// A thread-safe reference-counted pointer, like `std::sync::Arc`. Under loom, a body that
/// leaks one (or a [`Weak`]) is reported.
pub struct Arc<T: ?Sized> {
    imp: ArcImp<T>,
}

enum ArcImp<T: ?Sized> {
    Loom(Strong<T>),
    // shuttle's Arc is std's own.
    Std(std::sync::Arc<T>),
}

/// A handle that does not own its value, like `std::sync::Weak`: [`Weak::upgrade`] gives a
/// strong handle while one is left.
pub struct Weak<T: ?Sized> {
    imp: WeakImp<T>,
}

enum WeakImp<T: ?Sized> {
    Loom(WeakHandle<T>),
    Std(std::sync::Weak<T>),
}

/// What the handles of one allocation share under loom.
struct Shared<T: ?Sized> {
    strong: Cell<usize>,
    weak: Cell<usize>,
    /// A token kept from the first `downgrade` until the last strong handle is dropped, for that
    /// drop to acquire on while weak handles keep loom's count of the token above zero.
    spare: Cell<Option<loom::sync::Arc<()>>>,
    /// The value, in a std `Arc` that has no other handle: present while a strong handle is.
    value: UnsafeCell<Option<std::sync::Arc<T>>>,
}

/// One handle under loom: a clone of the allocation's token, and the shared counts. Dropped
/// only as a [`Strong`] or a [`WeakHandle`], which release it.
struct LoomHandle<T: ?Sized> {
    token: ManuallyDrop<loom::sync::Arc<()>>,
    shared: ManuallyDrop<std::sync::Arc<Shared<T>>>,
}

/// A strong handle under loom; dropping it releases it, except while the thread unwinds,
/// when loom cannot be called (see `rt::unwind`) and it is leaked.
struct Strong<T: ?Sized>(LoomHandle<T>);

/// A weak handle under loom, released when dropped like [`Strong`].
struct WeakHandle<T: ?Sized>(LoomHandle<T>);

impl<T: ?Sized> LoomHandle<T> {
    #[track_caller]
    fn first(value: std::sync::Arc<T>) -> Self {
        let shared = Shared {
            strong: Cell::new(1),
            weak: Cell::new(0),
            spare: Cell::new(None),
            value: UnsafeCell::new(Some(value)),
        };
        LoomHandle {
            token: ManuallyDrop::new(loom::sync::Arc::new(())),
            shared: ManuallyDrop::new(std::sync::Arc::new(shared)),
        }
    }

    /// Another handle of the same allocation: a clone of the token (a scheduling point). The
    /// caller counts it.
    #[track_caller]
    fn another(&self) -> Self {
        rt::expect_engine(Engine::Loom);
        LoomHandle {
            token: ManuallyDrop::new((*self.token).clone()),
            shared: ManuallyDrop::new((*self.shared).clone()),
        }
    }

    /// An inspection of the token, as loom's `strong_count`: a scheduling point at which this
    /// thread acquires what every handle dropped so far released. loom orders it after earlier
    /// clones and drops only; for a decision that a later drop may change, use `claim`.
    #[track_caller]
    fn inspect(&self) {
        rt::expect_engine(Engine::Loom);
        let _ = loom::sync::Arc::strong_count(&self.token);
    }

    /// A check of the token the way loom's `Arc::get_mut` makes one: a scheduling point that
    /// loom explores on both sides of every drop of another handle, and an acquire of what
    /// every dropped handle released. The facade's counts, read right after it, decide.
    #[track_caller]
    fn claim(&mut self) {
        rt::expect_engine(Engine::Loom);
        let _ = loom::sync::Arc::get_mut(&mut self.token);
    }

    /// Takes the token (dropped by the caller) and the shared part out of the handle.
    ///
    /// # Safety
    ///
    /// Once only: the handle holds nothing afterwards and must be neither used nor released
    /// again.
    unsafe fn take(&mut self) -> (loom::sync::Arc<()>, std::sync::Arc<Shared<T>>) {
        // SAFETY: the caller takes each field once.
        unsafe { (ManuallyDrop::take(&mut self.token), ManuallyDrop::take(&mut self.shared)) }
    }
}

impl<T: ?Sized> Strong<T> {
    fn shared(&self) -> &Shared<T> {
        &self.0.shared
    }

    fn value(&self) -> &T {
        // SAFETY: `value` is written only when the last strong handle goes, or through the
        // `&mut` of the only handle; this strong handle is alive and borrowed shared.
        let value = unsafe { &*self.shared().value.get() };
        value.as_deref().expect("a strong handle keeps its value")
    }

    /// Whether this is the only handle, strong or weak, after a claim.
    #[track_caller]
    fn is_unique(&mut self) -> bool {
        self.0.claim();
        self.shared().strong.get() == 1 && self.shared().weak.get() == 0
    }

    /// The value of the only handle.
    fn value_mut(&mut self) -> &mut T {
        // SAFETY: called on the only handle (`is_unique`), borrowed mutably: no other reference
        // to the value or its slot exists.
        let value = unsafe { &mut *self.shared().value.get() };
        let value = value.as_mut().expect("a strong handle keeps its value");
        std::sync::Arc::get_mut(value).expect("the value's std Arc has no other handle")
    }

    /// Releases the handle; `Some(value)` if it was the last strong one.
    ///
    /// # Safety
    ///
    /// Once only: the handle holds nothing afterwards and must be forgotten or overwritten
    /// without being dropped.
    #[track_caller]
    unsafe fn release(&mut self) -> Option<std::sync::Arc<T>> {
        rt::expect_engine(Engine::Loom);
        // SAFETY: the caller releases once.
        let (token, shared) = unsafe { self.0.take() };
        // loom's drop: a scheduling point that releases; the last one acquires.
        drop(token);
        let left = shared.strong.get() - 1;
        shared.strong.set(left);
        if left > 0 {
            return None;
        }
        if let Some(spare) = shared.spare.take() {
            // Weak handles hold tokens too, so the drop above was not loom's last: acquire as
            // loom's last drop would have.
            let _ = loom::sync::Arc::strong_count(&spare);
            drop(spare);
        }
        // SAFETY: no strong handle is left, so nothing reads the value any more.
        unsafe { (*shared.value.get()).take() }
    }

    /// Releases the handle, consuming it; `Some(value)` if it was the last strong one.
    #[track_caller]
    fn into_value(self) -> Option<std::sync::Arc<T>> {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: released once, and never dropped (`ManuallyDrop`).
        unsafe { this.release() }
    }
}

impl<T: ?Sized> Drop for Strong<T> {
    fn drop(&mut self) {
        // A body's own panic drops the handle as usual; loom failing the execution does not.
        if crate::rt::unwind::loom_values_droppable() {
            // SAFETY: drop runs once; the handle is not used after it.
            drop(unsafe { self.release() });
        }
    }
}

impl<T: ?Sized> Drop for WeakHandle<T> {
    fn drop(&mut self) {
        if crate::rt::unwind::loom_values_droppable() {
            rt::expect_engine(Engine::Loom);
            // SAFETY: drop runs once; the handle is not used after it.
            let (token, shared) = unsafe { self.0.take() };
            drop(token);
            shared.weak.set(shared.weak.get() - 1);
        }
    }
}

/// The std `Arc` of a value whose last strong handle was just released: it has no other
/// handle, so the value can be taken out.
fn sole<T>(value: std::sync::Arc<T>) -> T {
    std::sync::Arc::into_inner(value).expect("the value's std Arc has no other handle")
}

impl<T> Arc<T> {
    /// Creates an `Arc` under the engine of the current run.
    #[track_caller]
    pub fn new(value: T) -> Self {
        Arc::wrap(std::sync::Arc::new(value))
    }

    /// Creates a pinned `Arc`: the value is never moved, as with std.
    #[track_caller]
    pub fn pin(value: T) -> Pin<Arc<T>> {
        // SAFETY: under every engine the value lives in a std `Arc`'s allocation until it is
        // dropped; only `try_unwrap`, `into_inner` and `make_mut` move it, and they need an
        // `Arc<T>`, which a `Pin<Arc<T>>` does not give out.
        unsafe { Pin::new_unchecked(Arc::new(value)) }
    }

    /// The value, if this is the only strong handle (weak handles can then no longer
    /// upgrade); otherwise the handle back.
    #[track_caller]
    pub fn try_unwrap(this: Self) -> Result<T, Self> {
        match this.imp {
            ArcImp::Std(a) => std::sync::Arc::try_unwrap(a).map_err(|a| Arc { imp: ArcImp::Std(a) }),
            ArcImp::Loom(mut strong) => {
                strong.0.claim();
                if strong.shared().strong.get() != 1 {
                    return Err(Arc { imp: ArcImp::Loom(strong) });
                }
                Ok(sole(strong.into_value().expect("the only strong handle is the last")))
            }
        }
    }

    /// Drops this handle and returns the value if it was the last strong one, like
    /// `std::sync::Arc::into_inner`: of several threads calling it, exactly one gets the value.
    #[track_caller]
    pub fn into_inner(this: Self) -> Option<T> {
        match this.imp {
            ArcImp::Std(a) => std::sync::Arc::into_inner(a),
            ArcImp::Loom(strong) => strong.into_value().map(sole),
        }
    }

    /// The value if this is the only strong handle, a clone of it otherwise.
    #[track_caller]
    pub fn unwrap_or_clone(this: Self) -> T
    where
        T: Clone,
    {
        Arc::try_unwrap(this).unwrap_or_else(|arc| (*arc).clone())
    }
}

impl<T: ?Sized> Arc<T> {
    /// Wraps a std `Arc` that has no other handle.
    #[track_caller]
    fn wrap(value: std::sync::Arc<T>) -> Self {
        let imp = match rt::engine() {
            Engine::Loom => ArcImp::Loom(Strong(LoomHandle::first(value))),
            Engine::Shuttle | Engine::Std => ArcImp::Std(value),
        };
        Arc { imp }
    }

    /// Turns a std `Arc` into the facade's, as loom's `Arc::from_std` does: the way to an
    /// unsized `Arc` (`Arc<dyn Trait>`, `Arc<[T]>`) is to coerce a std `Arc`, then convert
    /// it. Panics, on every engine, if the std `Arc` has another handle (strong or weak): loom's
    /// does, and a body must behave the same under every engine.
    #[track_caller]
    pub fn from_std(mut std: std::sync::Arc<T>) -> Self {
        assert!(std::sync::Arc::get_mut(&mut std).is_some(), "Arc provided to `from_std` is not unique");
        Arc::wrap(std)
    }

    /// A weak handle to the same allocation.
    #[track_caller]
    pub fn downgrade(this: &Self) -> Weak<T> {
        let imp = match &this.imp {
            ArcImp::Std(a) => WeakImp::Std(std::sync::Arc::downgrade(a)),
            ArcImp::Loom(strong) => {
                let shared = strong.shared();
                match shared.spare.take() {
                    Some(spare) => shared.spare.set(Some(spare)),
                    None => {
                        rt::expect_engine(Engine::Loom);
                        let spare = (*strong.0.token).clone();
                        // Another thread's downgrade may have kept one during that clone.
                        drop(shared.spare.replace(Some(spare)));
                    }
                }
                let weak = WeakHandle(strong.0.another());
                shared.weak.set(shared.weak.get() + 1);
                WeakImp::Loom(weak)
            }
        };
        Weak { imp }
    }

    /// The number of strong handles. Under loom an inspection: a scheduling point.
    #[track_caller]
    pub fn strong_count(this: &Self) -> usize {
        match &this.imp {
            ArcImp::Std(a) => std::sync::Arc::strong_count(a),
            ArcImp::Loom(strong) => {
                strong.0.inspect();
                strong.shared().strong.get()
            }
        }
    }

    /// The number of weak handles. Under loom an inspection: a scheduling point.
    #[track_caller]
    pub fn weak_count(this: &Self) -> usize {
        match &this.imp {
            ArcImp::Std(a) => std::sync::Arc::weak_count(a),
            ArcImp::Loom(strong) => {
                strong.0.inspect();
                strong.shared().weak.get()
            }
        }
    }

    /// Whether two `Arc`s point to the same allocation.
    pub fn ptr_eq(this: &Self, other: &Self) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(this), Arc::as_ptr(other))
    }

    /// A pointer to the value, valid while a strong handle is.
    pub fn as_ptr(this: &Self) -> *const T {
        &**this as *const T
    }

    /// The value, if this is the only handle (no other strong or weak one).
    #[track_caller]
    pub fn get_mut(this: &mut Self) -> Option<&mut T> {
        match &mut this.imp {
            ArcImp::Std(a) => std::sync::Arc::get_mut(a),
            ArcImp::Loom(strong) => strong.is_unique().then(|| strong.value_mut()),
        }
    }
}

impl<T: Clone> Arc<T> {
    /// The value to change, made this handle's alone first, as std's `make_mut` does: cloned
    /// into a new allocation if another strong handle exists, moved into one if only weak
    /// handles do (they can then no longer upgrade).
    #[track_caller]
    pub fn make_mut(this: &mut Self) -> &mut T {
        if let ArcImp::Loom(strong) = &mut this.imp {
            if !strong.is_unique() {
                if strong.shared().strong.get() > 1 {
                    *this = Arc::new((**this).clone());
                } else {
                    // Only weak handles besides this one: release this handle, then hand its
                    // value to a handle of a new allocation, in place.
                    // SAFETY: released once, and overwritten below without being dropped;
                    // should creating the new handle panic, the released one is dropped while
                    // unwinding, which does nothing.
                    let value = unsafe { strong.release() }.expect("the only strong handle is the last");
                    let fresh = Strong(LoomHandle::first(value));
                    // SAFETY: `strong` is valid to write, and holds nothing to drop.
                    unsafe { std::ptr::write(strong, fresh) };
                }
            }
        }
        match &mut this.imp {
            ArcImp::Loom(strong) => strong.value_mut(),
            ArcImp::Std(a) => std::sync::Arc::make_mut(a),
        }
    }
}

impl<T: ?Sized> Clone for Arc<T> {
    #[track_caller]
    fn clone(&self) -> Self {
        let imp = match &self.imp {
            ArcImp::Std(a) => ArcImp::Std(a.clone()),
            ArcImp::Loom(strong) => {
                let another = Strong(strong.0.another());
                strong.shared().strong.set(strong.shared().strong.get() + 1);
                ArcImp::Loom(another)
            }
        };
        Arc { imp }
    }
}

impl<T: ?Sized> Deref for Arc<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.imp {
            ArcImp::Loom(strong) => strong.value(),
            ArcImp::Std(a) => a,
        }
    }
}

impl<T> Weak<T> {
    /// A weak handle to nothing: it never upgrades. Needs no run (like std's, it allocates
    /// nothing).
    pub const fn new() -> Self {
        Weak { imp: WeakImp::Std(std::sync::Weak::new()) }
    }
}

impl<T: ?Sized> Weak<T> {
    /// A strong handle, if one is left. A scheduling point under the model checkers: the
    /// upgrade is explored before and after another thread's drop of the last strong handle.
    #[track_caller]
    pub fn upgrade(&self) -> Option<Arc<T>> {
        let imp = match &self.imp {
            WeakImp::Std(w) => {
                if rt::model_engine() == Some(Engine::Shuttle) {
                    // shuttle's Arc is std's, whose operations are no scheduling points: without
                    // one here, an upgrade would never be explored after another thread's drop.
                    shuttle_engine::runtime::thread::switch();
                }
                ArcImp::Std(w.upgrade()?)
            }
            WeakImp::Loom(weak) => {
                // A token for the strong handle, then the check on it (see `claim`): the
                // upgrade is explored before and after another thread's drop of the last
                // strong handle.
                let mut token = WeakHandle(weak.0.another());
                token.0.claim();
                let shared = &token.0.shared;
                if shared.strong.get() == 0 {
                    // Counted as a weak handle, released as one.
                    shared.weak.set(shared.weak.get() + 1);
                    return None;
                }
                shared.strong.set(shared.strong.get() + 1);
                let handle = ManuallyDrop::new(token);
                // SAFETY: the handle is moved out of the `ManuallyDrop` once and never dropped
                // as a weak handle.
                ArcImp::Loom(Strong(unsafe { std::ptr::read(&handle.0) }))
            }
        };
        Some(Arc { imp })
    }

    /// The number of strong handles; 0 for [`Weak::new`]'s. Under loom an inspection.
    #[track_caller]
    pub fn strong_count(&self) -> usize {
        match &self.imp {
            WeakImp::Std(w) => w.strong_count(),
            WeakImp::Loom(weak) => {
                weak.0.inspect();
                weak.0.shared.strong.get()
            }
        }
    }

    /// The number of weak handles, or 0 once no strong handle is left (as std counts them).
    /// Under loom an inspection.
    #[track_caller]
    pub fn weak_count(&self) -> usize {
        match &self.imp {
            WeakImp::Std(w) => w.weak_count(),
            WeakImp::Loom(weak) => {
                weak.0.inspect();
                let shared = &weak.0.shared;
                if shared.strong.get() == 0 {
                    0
                } else {
                    shared.weak.get()
                }
            }
        }
    }

    /// Whether two weak handles point to the same allocation (two of [`Weak::new`]'s do).
    pub fn ptr_eq(&self, other: &Self) -> bool {
        match (&self.imp, &other.imp) {
            (WeakImp::Std(a), WeakImp::Std(b)) => a.ptr_eq(b),
            (WeakImp::Loom(a), WeakImp::Loom(b)) => std::sync::Arc::ptr_eq(&a.0.shared, &b.0.shared),
            _ => false,
        }
    }
}

impl<T: ?Sized> Clone for Weak<T> {
    #[track_caller]
    fn clone(&self) -> Self {
        let imp = match &self.imp {
            WeakImp::Std(w) => WeakImp::Std(w.clone()),
            WeakImp::Loom(weak) => {
                let another = WeakHandle(weak.0.another());
                weak.0.shared.weak.set(weak.0.shared.weak.get() + 1);
                WeakImp::Loom(another)
            }
        };
        Weak { imp }
    }
}

impl<T> Default for Weak<T> {
    fn default() -> Self {
        Weak::new()
    }
}

impl<T: ?Sized> fmt::Debug for Weak<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(Weak)")
    }
}

// SAFETY: as std's `Arc` and `Weak`: they share the value between threads, so it must be Send
// and Sync. The facade's own state under loom (`Shared`'s counts and slots) is only changed on
// the OS thread running the loom execution, between loom's scheduling points (every change is
// preceded by `rt::expect_engine`), and only read elsewhere through a strong handle, which
// keeps the value's slot unchanged. Written out, rather than derived, so that a missing bound
// is reported on the user's type, not on the facade's internals.
unsafe impl<T: ?Sized + Send + Sync> Send for Arc<T> {}
unsafe impl<T: ?Sized + Send + Sync> Sync for Arc<T> {}
unsafe impl<T: ?Sized + Send + Sync> Send for Weak<T> {}
unsafe impl<T: ?Sized + Send + Sync> Sync for Weak<T> {}
// As std's: the counts cannot be left inconsistent by a panic (they change after the loom
// operation that may panic), so only the value decides.
impl<T: ?Sized + RefUnwindSafe> UnwindSafe for Arc<T> {}
impl<T: ?Sized + RefUnwindSafe> RefUnwindSafe for Arc<T> {}
impl<T: ?Sized + RefUnwindSafe> UnwindSafe for Weak<T> {}
impl<T: ?Sized + RefUnwindSafe> RefUnwindSafe for Weak<T> {}

impl<T: Default> Default for Arc<T> {
    #[track_caller]
    fn default() -> Self {
        Arc::new(T::default())
    }
}

impl<T> From<T> for Arc<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        Arc::new(value)
    }
}

/// `Arc<dyn Trait>` from `Box<dyn Trait>` (and `Arc<[T]>`, `Arc<str>` from their boxes).
impl<T: ?Sized> From<Box<T>> for Arc<T> {
    #[track_caller]
    fn from(value: Box<T>) -> Self {
        Arc::wrap(std::sync::Arc::from(value))
    }
}

impl<T: ?Sized> AsRef<T> for Arc<T> {
    fn as_ref(&self) -> &T {
        self
    }
}

impl<T: ?Sized> Borrow<T> for Arc<T> {
    fn borrow(&self) -> &T {
        self
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Arc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for Arc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: ?Sized> fmt::Pointer for Arc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Pointer::fmt(&Arc::as_ptr(self), f)
    }
}

impl<T: ?Sized + std::error::Error> std::error::Error for Arc<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        (**self).source()
    }
}

/// Compared by value, as std's.
impl<T: ?Sized + PartialEq> PartialEq for Arc<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: ?Sized + Eq> Eq for Arc<T> {}

impl<T: ?Sized + PartialOrd> PartialOrd for Arc<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        (**self).partial_cmp(&**other)
    }
}

impl<T: ?Sized + Ord> Ord for Arc<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl<T: ?Sized + Hash> Hash for Arc<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}
