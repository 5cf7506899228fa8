//! The error type of the query library.

/// Why a read could not produce its response.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The requested resource does not exist; the text is the user-facing 404 message of
    /// serve.md §4 (e.g. `No subaccount found with address … and subaccountNumber …`).
    #[error("{0}")]
    NotFound(String),
    /// A request that passed parameter validation but is semantically wrong; the text is the
    /// user-facing 400 message.
    #[error("{0}")]
    InvalidParam(String),
    /// Stored data contradicts itself (a row names a market the market cache does not know, an
    /// undecodable Redis order); an internal error.
    #[error("inconsistent data: {0}")]
    Inconsistent(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("redis error: {0}")]
    Cache(#[from] indexer_cache::CacheError),
}

impl From<redis::RedisError> for QueryError {
    fn from(error: redis::RedisError) -> Self {
        QueryError::Cache(indexer_cache::CacheError::Command(error))
    }
}
