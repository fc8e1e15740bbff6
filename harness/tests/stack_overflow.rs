//! A stack overflow in a loom thread (a coroutine with a stack of its own, with a guard page
//! that the coroutine library turns into an error) is a classified finding that says so,
//! not "a panic with a non-string payload". (Under shuttle the same overflow is still a bare
//! SIGSEGV, which no test can run in-process.)

use lockhound::{explore, thread, Backend, Body, FindingKind, RunConfig};

fn deep(n: u64) -> u64 {
    let buf = std::hint::black_box([n; 64]);
    if n == 0 {
        0
    } else {
        deep(n - 1).wrapping_add(buf[7])
    }
}

#[test]
fn a_stack_overflow_under_loom_is_a_finding_that_says_so() {
    for in_spawned_thread in [true, false] {
        let body: Body = std::sync::Arc::new(move || {
            if in_spawned_thread {
                thread::spawn(|| {
                    std::hint::black_box(deep(10_000_000));
                })
                .join()
                .unwrap();
            } else {
                std::hint::black_box(deep(10_000_000));
            }
        });
        let config = RunConfig { backend: Backend::Loom, ..RunConfig::default() };
        let report = explore::run(&body, &config);
        let finding = report.finding.expect("the overflow is a finding");
        assert_eq!(finding.kind, FindingKind::Panic, "{}", finding.message);
        assert!(
            finding.message.contains("stack overflow"),
            "spawned={in_spawned_thread}: {}",
            finding.message
        );
    }
}
