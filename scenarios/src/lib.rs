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
pub fn catalog() -> Vec<Scenario> {
    vec![
        rwlock_timeout::scenario(),
        routing_table_init::scenario(),
        lock_order_inversion::scenario(),
        idr_use_after_free::scenario(),
        idr_aba::scenario(),
        async_starvation::scenario(),
        bounded_cache::scenario(),
    ]
}

/// The built-in scenario called `name`.
pub fn find(name: &str) -> Option<Scenario> {
    catalog().into_iter().find(|s| s.name == name)
}
