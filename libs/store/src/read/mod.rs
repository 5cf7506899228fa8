//! Read queries. `ender_state`: ender's cache load and per-block prefetch.

pub mod ender_state;
