//! Ender's progress marker (`ender_progress`): the last block written and the stream epoch.
//!
//! Ender writes the row in each block's transaction (its write batch lives with the other
//! per-block writes); this module only reads it.

use sqlx::PgExecutor;
use uuid::Uuid;

use crate::StoreError;

/// The single `ender_progress` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnderProgress {
    /// The last block committed.
    pub last_processed_height: i64,
    /// The first block this database processed.
    pub start_height: i64,
    /// Changes only when the database is rebuilt; websocket messages carry it so clients know
    /// when sequence numbers restart.
    pub epoch: Uuid,
}

/// The progress row, or `None` when no block has been processed since the database was created
/// or cleared.
pub async fn ender_progress<'e, E: PgExecutor<'e>>(
    db: E,
) -> Result<Option<EnderProgress>, StoreError> {
    let row: Option<(i64, i64, Uuid)> = sqlx::query_as(
        "SELECT last_processed_height, start_height, epoch FROM ender_progress WHERE id = 1",
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(
        |(last_processed_height, start_height, epoch)| EnderProgress {
            last_processed_height,
            start_height,
            epoch,
        },
    ))
}

/// The height of the last block committed, or `None` for an empty database.
///
/// Reads `ender_progress`; when that row is missing but `blocks` has rows (a database restored
/// from a reference snapshot, which has no progress table content), falls back to the highest
/// block, which is what the reference indexer uses.
pub async fn last_processed_height<'e, E: PgExecutor<'e>>(
    db: E,
) -> Result<Option<i64>, StoreError> {
    let height: Option<i64> = sqlx::query_scalar(
        "SELECT COALESCE(\
            (SELECT last_processed_height FROM ender_progress WHERE id = 1), \
            (SELECT max(\"blockHeight\") FROM blocks))",
    )
    .fetch_one(db)
    .await?;
    Ok(height)
}
