//! Redis access: the key catalogue of ingest.md §7, the connection, and (as vulcan, comlink and
//! roundtable land) the atomic Lua scripts over order-book state.

mod connection;
pub mod keys;

pub use connection::{Cache, CacheError};
pub use keys::Keys;
