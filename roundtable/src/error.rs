//! The error a job run ends with. The scheduler logs it (Bugsnag gets it), counts it and runs
//! the job again at its next tick.

/// Why a job run failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] indexer_store::StoreError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Cache(#[from] indexer_cache::CacheError),
    #[error("redis error: {0}")]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Bus(#[from] indexer_bus::BusError),
    #[error(transparent)]
    Query(#[from] indexer_query::QueryError),
    /// Stored data the job cannot use (a malformed value, an impossible state).
    #[error("{0}")]
    Invalid(String),
    /// An external service (AWS, a compliance vendor) failed or answered unexpectedly.
    #[error("{0}")]
    External(String),
    /// A node's RPC endpoint could not be queried.
    #[error("node RPC {url}: {reason}")]
    Rpc { url: String, reason: String },
}
