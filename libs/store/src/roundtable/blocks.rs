//! Block lookups shared by several jobs.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::StoreError;

/// The newest block: height and time.
pub async fn latest_block<'e, E: PgExecutor<'e>>(
    db: E,
) -> Result<Option<(i64, DateTime<Utc>)>, StoreError> {
    Ok(sqlx::query_as(
        r#"SELECT "blockHeight", "time" FROM blocks ORDER BY "blockHeight" DESC LIMIT 1"#,
    )
    .fetch_optional(db)
    .await?)
}

/// Height of the first block whose time is at or after `time`.
pub async fn first_block_at_or_after<'e, E: PgExecutor<'e>>(
    db: E,
    time: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        r#"SELECT "blockHeight" FROM blocks WHERE "time" >= $1
           ORDER BY "time", "blockHeight" LIMIT 1"#,
    )
    .bind(time)
    .fetch_optional(db)
    .await?)
}
