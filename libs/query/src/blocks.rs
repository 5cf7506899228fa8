//! The latest indexed block (`GET /v4/height`, `latestProcessedBlockHeight`).

use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::json::{IntString, IsoTime};
use crate::QueryError;

/// `{"height": "15813000", "time": "2024-05-01T12:34:55.120Z"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct BlockHeightResponse {
    #[sqlx(rename = "blockHeight")]
    pub height: IntString,
    pub time: IsoTime,
}

/// The block with the greatest height, if any block was indexed.
pub async fn latest_block(pool: &PgPool) -> Result<Option<BlockHeightResponse>, QueryError> {
    Ok(sqlx::query_as(
        r#"SELECT "blockHeight", time FROM blocks ORDER BY "blockHeight" DESC LIMIT 1"#,
    )
    .fetch_optional(pool)
    .await?)
}

/// The 404 text when no block was indexed yet.
pub const NO_BLOCKS_FOUND: &str = "No blocks found";
