//! The `lock-order-inversion` scenario: under tracking its buggy variant is a potential
//! deadlock even in runs that complete, its fixed variant is clean; under model checking
//! the buggy variant deadlocks.

#[path = "../../../scenarios/src/lock_order_inversion.rs"]
mod lock_order_inversion;

use lock_order_inversion::scenario;
use lockhound::tracker::{track, TrackOptions};
use lockhound::{Backend, Budget, FindingKind, RunConfig};
use std::time::Duration;

fn tracked(variant: &str) -> lockhound::tracker::TrackReport {
    let body = scenario().variant(variant).unwrap().body();
    let options = TrackOptions { iterations: 50, hang_timeout: Duration::from_secs(3), ..Default::default() };
    track(&body, options)
}

#[test]
fn buggy_is_a_potential_deadlock_under_tracking() {
    let report = tracked("buggy");
    assert_eq!(report.potential_deadlocks.len(), 1, "{:#?}", report.potential_deadlocks);
    let sites: Vec<String> =
        report.potential_deadlocks[0].edges.iter().map(|e| e.to_site.file.clone()).collect();
    assert!(sites.iter().all(|f| f.ends_with("lock_order_inversion.rs")), "{sites:?}");
}

#[test]
fn fixed_is_clean_under_tracking() {
    let report = tracked("fixed");
    assert!(!report.hung);
    assert!(report.potential_deadlocks.is_empty(), "{:#?}", report.potential_deadlocks);
    assert!(report.watchdog.is_empty(), "{:#?}", report.watchdog);
    assert_eq!(report.order.edges.len(), 1);
}

#[test]
fn buggy_deadlocks_under_model_checking_and_fixed_passes() {
    for backend in [Backend::Loom, Backend::ShuttleRandom] {
        let config = RunConfig {
            backend,
            budget: Budget { executions: 2000, time: Duration::from_secs(30) },
            ..Default::default()
        };
        let buggy = lockhound::explore::run(&scenario().variant("buggy").unwrap().body(), &config);
        let finding = buggy.finding.unwrap_or_else(|| panic!("{backend}: no finding"));
        assert_eq!(finding.kind, FindingKind::Deadlock, "{backend}: {}", finding.message);
        let fixed = lockhound::explore::run(&scenario().variant("fixed").unwrap().body(), &config);
        assert!(fixed.finding.is_none(), "{backend}: {:?}", fixed.finding);
    }
}
