//! Coroutine stacks are kept between executions and runs while lockhound's own engines run,
//! and only then (harness/src/explore/stacks.rs): the plain entry points behave as upstream.
//! shuttle's are kept always (lockhound's own execution loop in a per-thread continuation
//! pool); loom's only in a build with the patched `generator` (`loom_stacks_recycled`).
//!
//! A stack that was unmapped is told from one that was kept by `msync`, which fails on a
//! range that is not mapped. One test function does every step in order, on threads of its
//! own, so that no other test maps a new stack where a freed one was.

use lockhound::{explore, thread, Backend, Body, Budget, RunConfig};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The address of a local on the stack of the last model thread that ran `body`'s spawn.
static SPAWNED_STACK: AtomicUsize = AtomicUsize::new(0);

fn spawns_a_thread() -> Body {
    Arc::new(|| {
        let t = thread::spawn(|| {
            let local = 0u8;
            SPAWNED_STACK.store(std::hint::black_box(&local) as *const u8 as usize, Ordering::Relaxed);
        });
        t.join().unwrap();
    })
}

/// Whether the page holding `address` is mapped.
fn mapped(address: usize) -> bool {
    // SAFETY: `sysconf` has no preconditions; `msync` only inspects the range's mapping, and
    // MS_ASYNC on a private anonymous mapping writes nothing back.
    unsafe {
        let page = libc::sysconf(libc::_SC_PAGESIZE) as usize;
        libc::msync((address & !(page - 1)) as *mut libc::c_void, page, libc::MS_ASYNC) == 0
    }
}

fn config(backend: Backend) -> RunConfig {
    RunConfig {
        backend,
        jobs: 1,
        budget: Budget { executions: 20, time: Duration::from_secs(30) },
        ..RunConfig::default()
    }
}

/// On a thread of its own: `search`, then whether the spawned thread's stack is still mapped
/// when it returns; and the stack's address, to look at again once the thread has exited.
fn on_a_thread(search: impl FnOnce() + Send + 'static) -> (bool, usize) {
    std::thread::spawn(move || {
        SPAWNED_STACK.store(0, Ordering::Relaxed);
        search();
        let address = SPAWNED_STACK.load(Ordering::Relaxed);
        assert_ne!(address, 0, "the body's thread never ran");
        (mapped(address), address)
    })
    .join()
    .unwrap()
}

/// CI builds this test once with the patched `generator` and says so: the build script must
/// have seen the patch.
#[test]
fn a_build_with_the_patched_generator_recycles_loom_stacks() {
    if std::env::var_os("LOCKHOUND_EXPECT_RECYCLED_STACKS").is_some() {
        assert!(explore::loom_stacks_recycled(), "built with the patched generator, but recycling is off");
    }
}

#[test]
fn stacks_are_kept_while_lockhound_explores_and_only_then() {
    for backend in [Backend::Loom, Backend::ShuttleRandom] {
        // lockhound's engine: the last execution's stack is kept for the thread's next run...
        let (kept, address) = on_a_thread(move || {
            let report = explore::run(&spawns_a_thread(), &config(backend));
            assert!(report.passed(), "{backend}: {:?}", report.finding);
        });
        let keeps = backend != Backend::Loom || explore::loom_stacks_recycled();
        assert_eq!(kept, keeps, "{backend}: lockhound's run kept its stacks: {kept}, expected {keeps}");
        // ...and unmapped when that thread exits.
        assert!(!mapped(address), "{backend}: a kept stack outlived its thread");

        // The plain entry point, as upstream: every stack unmapped when its coroutine ends.
        let (kept, _) = on_a_thread(move || {
            let body = spawns_a_thread();
            explore::with_engine(backend, || match backend {
                Backend::Loom => loom::model(move || body()),
                _ => shuttle::check_random(move || body(), 20),
            });
        });
        assert!(!kept, "{backend}: the plain entry point kept a stack");
    }
}
