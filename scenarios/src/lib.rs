//! The built-in scenario catalog: concurrency bugs modelled from real incidents, each with a
//! buggy variant that must fail for the real reason and a fixed variant that must pass.

use lockhound::scenario::Scenario;

pub mod async_starvation;
pub mod bounded_cache;
pub mod idr_aba;
pub mod idr_use_after_free;
pub mod lock_order_inversion;
pub mod routing_table_init;
pub mod rwlock_timeout;
pub mod suite;

/// Every built-in scenario, in the order `lockhound list` shows them.
pub fn catalog() -> &'static [&'static Scenario] {
    static CATALOG: [&Scenario; 7] = [
        &rwlock_timeout::SCENARIO,
        &routing_table_init::SCENARIO,
        &lock_order_inversion::SCENARIO,
        &idr_use_after_free::SCENARIO,
        &idr_aba::SCENARIO,
        &async_starvation::SCENARIO,
        &bounded_cache::SCENARIO,
    ];
    &CATALOG
}

/// The built-in scenario called `name`.
pub fn find(name: &str) -> Option<&'static Scenario> {
    catalog().iter().copied().find(|s| s.name == name)
}
