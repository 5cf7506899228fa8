//! Read queries. `ender_state`: ender's cache load and per-block prefetch; `vulcan_orders`:
//! vulcan's order rows and order-status updates.

pub mod ender_state;
pub mod vulcan_orders;
