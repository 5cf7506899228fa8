//! Postgres access shared by the services.
//!
//! Layout:
//! - [`pool`]: connection pools (primary + optional read replica);
//! - [`migrate`]: the embedded, forward-only migrations of `migrations/` and their runner;
//! - [`admin`]: destructive maintenance (clearing data for a rebuild);
//! - [`progress`]: ender's progress marker (last processed height, stream epoch);
//! - [`write`]: ender's per-block write batches;
//! - [`read`]: read queries (ender's cache load and prefetch; the queries comlink and socks share
//!   belong here too).

pub mod admin;
pub mod error;
pub mod migrate;
pub mod pool;
pub mod progress;
pub mod read;
pub mod roundtable;
pub mod write;

pub use admin::clear_data;
pub use error::StoreError;
pub use migrate::{embedded_migrations, ensure_database, migrate};
pub use pool::Pools;
pub use progress::{ender_progress, last_processed_height, EnderProgress};

/// Re-exported so callers name the pool type without depending on sqlx directly.
pub use sqlx::PgPool;
