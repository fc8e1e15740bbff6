//! One-time initialization, like `std::sync::{Once, OnceLock}`, usable in statics.
//!
//! On real threads these are std's own. Under loom and shuttle their state lives for one
//! execution (see `rt::per_execution`), so a `static` initialized in one execution starts
//! uninitialized in the next, as loom and shuttle reset their own `lazy_static!` values; and
//! it is made of facade objects (a mutex around the flags and the initializer), so two threads
//! racing to initialize are explored like any other race, and the initializer's writes happen
//! before every later caller's reads.

use crate::rt::per_execution::{self, ObjectId};
use crate::rt::{self, unwind, Engine};
use crate::sync::{Mutex, MutexGuard};
use std::cell::UnsafeCell;
use std::fmt;
use std::rc::Rc;

/// A one-time initialization, like `std::sync::Once`.
pub struct Once {
    std: std::sync::Once,
    id: ObjectId,
}

/// The state a `call_once_force` closure is given, like `std::sync::OnceState`.
#[derive(Debug)]
pub struct OnceState {
    poisoned: bool,
}

impl OnceState {
    /// Whether an earlier initializer panicked.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }
}

/// The state of a `Once` in one model-checked execution: its flags behind a facade mutex
/// (loom objects created by whichever thread first uses the `Once` cannot be atomics, which
/// loom requires every later user to see created; a lock is also what gives the initializer's
/// writes to every later caller).
pub(crate) struct ModelOnce {
    flags: Mutex<Flags>,
}

#[derive(Default)]
struct Flags {
    done: bool,
    poisoned: bool,
}

impl ModelOnce {
    #[track_caller]
    fn new() -> ModelOnce {
        ModelOnce { flags: Mutex::named("Once", Flags::default()) }
    }

    #[track_caller]
    fn is_completed(&self) -> bool {
        self.flags.lock().unwrap_or_else(|p| p.into_inner()).done
    }

    /// Runs `f` unless the initialization is complete; `force` runs it on a poisoned one too.
    /// `f` runs under the lock: a second caller waits for it, as std's does.
    #[track_caller]
    fn call(&self, force: bool, f: impl FnOnce(&OnceState)) {
        let mut flags = self.flags.lock().unwrap_or_else(|p| p.into_inner());
        if flags.done {
            return;
        }
        if flags.poisoned && !force {
            drop(flags);
            panic!("Once instance has previously been poisoned");
        }
        // Poisons the `Once` if `f` panics, as std's does.
        struct PoisonOnPanic<'a, 'b>(&'a mut MutexGuard<'b, Flags>);
        impl Drop for PoisonOnPanic<'_, '_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    self.0.poisoned = true;
                }
            }
        }
        let state = OnceState { poisoned: flags.poisoned };
        let poison = PoisonOnPanic(&mut flags);
        f(&state);
        drop(poison);
        flags.poisoned = false;
        flags.done = true;
    }
}

/// The per-execution state of the object `id`, created at its first use in the execution.
#[track_caller]
fn model_state<T: 'static>(id: &ObjectId, make: impl FnOnce() -> T) -> Rc<T> {
    let id = id.get();
    match per_execution::existing(id) {
        Some(state) => state,
        None => per_execution::insert(id, make()),
    }
}

/// Forgets the per-execution state of a dropped object, under a model checker.
fn drop_model_state(id: &ObjectId) {
    if let (Some(id), Some(_)) = (id.allocated(), rt::model_engine()) {
        if unwind::engine_gone() {
            return;
        }
        per_execution::remove(id);
    }
}

impl Once {
    pub const fn new() -> Once {
        Once { std: std::sync::Once::new(), id: ObjectId::new() }
    }

    /// Runs `f` if no call has completed yet; every call returns only once one has.
    #[track_caller]
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        match rt::engine() {
            Engine::Loom | Engine::Shuttle => model_state(&self.id, ModelOnce::new).call(false, |_| f()),
            Engine::Std => self.std.call_once(f),
        }
    }

    /// [`Once::call_once`], also after an initializer panicked (the state says so).
    #[track_caller]
    pub fn call_once_force<F: FnOnce(&OnceState)>(&self, f: F) {
        match rt::engine() {
            Engine::Loom | Engine::Shuttle => model_state(&self.id, ModelOnce::new).call(true, f),
            Engine::Std => self.std.call_once_force(|s| f(&OnceState { poisoned: s.is_poisoned() })),
        }
    }

    /// Whether a call has completed.
    #[track_caller]
    pub fn is_completed(&self) -> bool {
        match rt::engine() {
            Engine::Loom | Engine::Shuttle => model_state(&self.id, ModelOnce::new).is_completed(),
            Engine::Std => self.std.is_completed(),
        }
    }
}

impl Default for Once {
    fn default() -> Self {
        Once::new()
    }
}

impl Drop for Once {
    fn drop(&mut self) {
        drop_model_state(&self.id);
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Once { .. }")
    }
}

/// A cell written once, like `std::sync::OnceLock`.
pub struct OnceLock<T> {
    std: std::sync::OnceLock<T>,
    id: ObjectId,
}

/// The value of a `OnceLock` in one model-checked execution, behind its `Once`.
pub(crate) struct ModelOnceLock<T> {
    once: ModelOnce,
    value: UnsafeCell<Option<T>>,
}

impl<T> ModelOnceLock<T> {
    #[track_caller]
    fn new() -> Self {
        ModelOnceLock { once: ModelOnce::new(), value: UnsafeCell::new(None) }
    }

    #[track_caller]
    fn get(&self) -> Option<&T> {
        if self.once.is_completed() {
            // SAFETY: the value was written under the `Once`'s lock before `done` was set, which
            // `is_completed` read under the same lock, and it is never written again.
            unsafe { (*self.value.get()).as_ref() }
        } else {
            None
        }
    }

    #[track_caller]
    fn get_or_init(&self, f: impl FnOnce() -> T) -> &T {
        self.once.call(true, |_| {
            let value = f();
            // SAFETY: written under the `Once`'s lock, before `done` is set: no reader looks
            // at the value before then (see `get`).
            unsafe { *self.value.get() = Some(value) };
        });
        self.get().expect("an initialized OnceLock has a value")
    }
}

/// Extends a reference into a per-execution state to the lifetime of the object it belongs
/// to.
///
/// SAFETY (for callers): the state stays in the execution's table, which keeps it alive and
/// in place, until the object is dropped or its value taken (which need `&mut self` or `self`,
/// so no such reference is left), or until the execution ends (a `static`'s references must
/// not be used after the execution, as under loom's own `lazy_static!`).
unsafe fn extend<'a, T>(value: &T) -> &'a T {
    // SAFETY: see the function's contract.
    unsafe { &*(value as *const T) }
}

impl<T: 'static> OnceLock<T> {
    pub const fn new() -> OnceLock<T> {
        OnceLock { std: std::sync::OnceLock::new(), id: ObjectId::new() }
    }

    #[track_caller]
    fn model(&self) -> Rc<ModelOnceLock<T>> {
        model_state(&self.id, ModelOnceLock::new)
    }

    /// The value, if the cell is initialized.
    #[track_caller]
    pub fn get(&self) -> Option<&T> {
        match rt::engine() {
            Engine::Loom | Engine::Shuttle => {
                let model = self.model();
                // SAFETY: see `extend`.
                model.get().map(|v| unsafe { extend(v) })
            }
            Engine::Std => self.std.get(),
        }
    }

    /// The value, initialized by `f` if the cell is empty (one initializer runs; the others
    /// wait for it).
    #[track_caller]
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        match rt::engine() {
            Engine::Loom | Engine::Shuttle => {
                let model = self.model();
                let value = model.get_or_init(f);
                // SAFETY: see `extend`.
                unsafe { extend(value) }
            }
            Engine::Std => self.std.get_or_init(f),
        }
    }

    /// Initializes the cell with `value`; `Err(value)` if it already was.
    #[track_caller]
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("the initializer runs once"));
        match value {
            None => Ok(()),
            Some(value) => Err(value),
        }
    }

    /// The value, mutably (no other thread can reach it).
    #[track_caller]
    pub fn get_mut(&mut self) -> Option<&mut T> {
        match rt::engine() {
            Engine::Loom | Engine::Shuttle => {
                let model = per_execution::existing::<ModelOnceLock<T>>(self.id.allocated()?)?;
                model.get()?;
                // SAFETY: `&mut self` excludes every other reference to the value (see `extend`),
                // and the table's state lives on while `self` is borrowed.
                unsafe { (*model.value.get()).as_mut().map(|v| &mut *(v as *mut T)) }
            }
            Engine::Std => self.std.get_mut(),
        }
    }

    /// Takes the value out, leaving the cell empty.
    #[track_caller]
    pub fn take(&mut self) -> Option<T> {
        match rt::engine() {
            Engine::Loom | Engine::Shuttle => {
                let id = self.id.allocated()?;
                let model = per_execution::existing::<ModelOnceLock<T>>(id)?;
                per_execution::remove(id);
                // SAFETY: `&mut self` excludes every other reference to the value, and the one
                // `Rc` left is this one (the table's was removed above).
                unsafe { (*model.value.get()).take() }
            }
            Engine::Std => self.std.take(),
        }
    }

    /// The value, if the cell was initialized.
    #[track_caller]
    pub fn into_inner(mut self) -> Option<T> {
        self.take()
    }
}

impl<T> Drop for OnceLock<T> {
    fn drop(&mut self) {
        drop_model_state(&self.id);
    }
}

impl<T: 'static> Default for OnceLock<T> {
    fn default() -> Self {
        OnceLock::new()
    }
}

impl<T> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnceLock { .. }")
    }
}
