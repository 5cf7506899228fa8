//! The error type of this crate.

/// Anything that went wrong talking to Postgres.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The server could not be reached or refused the connection (or the URL is malformed).
    #[error("cannot connect to Postgres at {target}: {source}")]
    Connect {
        /// The URL with its password masked.
        target: String,
        #[source]
        source: sqlx::Error,
    },
    /// Applying the migrations failed (SQL error, an edited migration that was already applied,
    /// or a migration left half-applied).
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}
