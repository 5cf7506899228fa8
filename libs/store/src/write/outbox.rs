//! Reading and trimming `ender_outbox` for the relay (beyond.md §2).

use sqlx::PgConnection;

use crate::StoreError;

/// One committed outbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: i64,
    pub block_height: i64,
    pub topic: String,
    pub partition_key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: serde_json::Value,
}

/// Columns of an outbox row as sqlx returns them.
type RawOutboxRow = (
    i64,
    i64,
    String,
    Option<Vec<u8>>,
    Vec<u8>,
    serde_json::Value,
);

/// The oldest `limit` rows, in id order (= block order, then message order within a block).
pub async fn pending_outbox(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<OutboxRow>, StoreError> {
    let rows: Vec<RawOutboxRow> = sqlx::query_as(
        "SELECT id, block_height, topic, partition_key, payload, headers FROM ender_outbox ORDER BY id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, block_height, topic, partition_key, payload, headers)| OutboxRow {
                id,
                block_height,
                topic,
                partition_key,
                payload,
                headers,
            },
        )
        .collect())
}

/// Deletes every row up to and including `id` (they have been published).
pub async fn delete_outbox_through(conn: &mut PgConnection, id: i64) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM ender_outbox WHERE id <= $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}

/// Rows waiting to be published.
pub async fn outbox_backlog(conn: &mut PgConnection) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM ender_outbox")
        .fetch_one(&mut *conn)
        .await?)
}
