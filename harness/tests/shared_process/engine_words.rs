//! A body's panic is the body's whatever it says, and however it was raised: a payload
//! unwound with `std::panic::resume_unwind` (which no panic hook sees) that reads like an
//! engine's verdict ("deadlock ...", "... leaked") is a `panic` finding on every engine.

use lockhound::{thread, Backend, Check, FindingKind};
use std::time::Duration;

#[test]
fn a_body_s_resumed_payload_in_an_engine_s_words_is_a_panic() {
    for message in ["deadlock! blocked tasks: [main-thread]", "Arc leaked.", "Causality violation: x"] {
        for backend in
            [Backend::Loom, Backend::ShuttleRandom, Backend::ShuttlePct, Backend::Auto, Backend::Stress]
        {
            for in_spawned_thread in [true, false] {
                let check = Check::new().backend(backend).time_limit(Duration::from_secs(30));
                let report = check.explore(move || {
                    let raise = move || std::panic::resume_unwind(Box::new(message.to_string()));
                    if in_spawned_thread {
                        let _ = thread::spawn(raise).join();
                    } else {
                        raise();
                    }
                });
                let finding = report.finding.unwrap_or_else(|| panic!("{backend}: no finding"));
                assert_eq!(
                    finding.kind,
                    FindingKind::Panic,
                    "{backend} spawned={in_spawned_thread} '{message}': {}",
                    finding.message
                );
                assert!(finding.message.contains(message), "{}", finding.message);
            }
        }
    }
}
