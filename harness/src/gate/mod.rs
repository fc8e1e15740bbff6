//! The CI gate: expectations over a catalog, sharding and the schedule corpus (in progress).
