//! Redis access: the key catalogue of ingest.md §7, the connection, and the atomic Lua scripts over
//! order-book state.
//!
//! - [`orders`]: place / update / remove / replace of open orders with their price levels and the
//!   order-book seq, one atomic script call per batch of operations;
//! - [`book`]: an order book snapshot with the seq it reflects (one atomic read);
//! - [`seqs`]: channel sequence counters and the stream epoch.

pub mod book;
mod connection;
pub mod keys;
pub mod maintenance;
pub mod orders;
mod script_value;
mod scripts;
pub mod seqs;

pub use book::{book_snapshot, BookSnapshot, StoredLevel};
pub use connection::{Cache, CacheError};
pub use keys::{BookSide, Keys};
pub use orders::{apply_order_ops, AppliedBatch, OpOutcome, OrderOp};
pub use script_value::ScriptReplyError;
pub use seqs::{reserve_seqs, stream_epoch, ReservedSeqs};
