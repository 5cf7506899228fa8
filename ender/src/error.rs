//! Errors of block processing.
//!
//! [`BlockError`] separates *bad input* (the block itself cannot be applied: it does not decode,
//! an event fails validation, or it contradicts the stored state) from *infrastructure* failures
//! (database, Redis, Kafka), because the consumer treats them differently: bad input is
//! dead-lettered and stops ender on that block; infrastructure failures are retried.

use indexer_store::StoreError;

/// Why a block could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// The Kafka value is not an `IndexerTendermintBlock`, or an event payload does not decode.
    #[error("decode error: {0}")]
    Decode(String),
    /// An event breaks a rule of ingest.md §4.4.
    #[error("validation error in event {event}: {reason}")]
    Validation { event: String, reason: String },
    /// The event is valid on its own but cannot be applied to the stored state (e.g. a fill for
    /// a perpetual market that does not exist, a removal of an unknown order).
    #[error("cannot apply event {event}: {reason}")]
    Inconsistent { event: String, reason: String },
    /// A domain conversion failed (unknown enum value, division by zero, …).
    #[error("domain error: {0}")]
    Domain(#[from] indexer_domain::Error),
    /// A stored row holds a value ender cannot represent.
    #[error("corrupt stored row: {0}")]
    Corrupt(String),
    /// Postgres failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Redis failed.
    #[error("redis error: {0}")]
    Redis(#[from] redis::RedisError),
    /// A Redis helper of the cache library failed.
    #[error(transparent)]
    Cache(#[from] indexer_cache::CacheError),
}

impl BlockError {
    /// True when the block itself is at fault (dead-letter and stop), false when retrying may
    /// succeed.
    pub fn is_bad_input(&self) -> bool {
        match self {
            BlockError::Store(StoreError::Database(sqlx::Error::Database(e))) => {
                is_integrity_violation(e.code().as_deref())
            }
            BlockError::Store(_) | BlockError::Redis(_) | BlockError::Cache(_) => false,
            _ => true,
        }
    }

    pub(crate) fn validation(event: impl ToString, reason: impl Into<String>) -> Self {
        BlockError::Validation {
            event: event.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn inconsistent(event: impl ToString, reason: impl Into<String>) -> Self {
        BlockError::Inconsistent {
            event: event.to_string(),
            reason: reason.into(),
        }
    }
}

/// SQLSTATE class 23 (unique, foreign-key, check, not-null violations): the block contradicts
/// the stored state (a second registration of a referee, two prices of one market in a block,
/// an order of an unknown subaccount). Retrying cannot help, so it is treated as bad input.
fn is_integrity_violation(code: Option<&str>) -> bool {
    code.is_some_and(|c| c.starts_with("23"))
}

impl From<sqlx::Error> for BlockError {
    fn from(error: sqlx::Error) -> Self {
        BlockError::Store(StoreError::Database(error))
    }
}
