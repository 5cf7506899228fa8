//! Websocket messages produced outside a block (roundtable's market statistics): appended to
//! ender's outbox so that they take the channel's next `seq` and reach Kafka through the same
//! relay, in the same order as ender's own messages (beyond.md §1–2).

use sqlx::PgConnection;

use super::{statements, OutboxMessage};
use crate::StoreError;

/// Appends `messages` to the outbox inside the caller's transaction, sequenced after every block
/// committed so far. Returns the number of rows appended; 0 (nothing written) before ender has
/// processed its first block, since there is no stream epoch yet and no client can be subscribed
/// to a sequenced stream.
///
/// Why the lock: the relay publishes rows in id order and deletes through the last id it read.
/// Ender is the only other writer and takes the `ender_progress` row lock before its outbox
/// inserts; taking the same lock here before ours makes the two writers' id ranges (and channel
/// sequence numbers) follow their commit order, so the relay can never skip a row committed late.
/// Take it after the transaction's other updates, keeping ender's wait short.
pub async fn enqueue_messages(
    conn: &mut PgConnection,
    messages: &[OutboxMessage],
) -> Result<usize, StoreError> {
    if messages.is_empty() {
        return Ok(0);
    }
    let progress: Option<(i64, uuid::Uuid)> = sqlx::query_as(
        "SELECT last_processed_height, epoch FROM ender_progress WHERE id = 1 FOR UPDATE",
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some((height, epoch)) = progress else {
        return Ok(0);
    };
    statements::append_outbox(conn, height, epoch, messages).await
}
