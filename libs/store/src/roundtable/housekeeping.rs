//! Small maintenance statements: notification-token expiry and the PnL staleness check.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::StoreError;

/// Deletes push-notification tokens not refreshed since `before`; returns how many.
pub async fn delete_notification_tokens_before(
    conn: &mut PgConnection,
    before: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let done = sqlx::query(r#"DELETE FROM firebase_notification_tokens WHERE "updatedAt" < $1"#)
        .bind(before)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}

/// Every subaccount that ever transferred, with the time of its latest transfer.
pub async fn last_transfer_times<'e, E: PgExecutor<'e>>(
    db: E,
) -> Result<Vec<(Uuid, DateTime<Utc>)>, StoreError> {
    Ok(sqlx::query_as(
        r#"SELECT id, max(at) FROM (
               SELECT "senderSubaccountId" AS id, max("createdAt") AS at FROM transfers
               WHERE "senderSubaccountId" IS NOT NULL GROUP BY 1
               UNION ALL
               SELECT "recipientSubaccountId", max("createdAt") FROM transfers
               WHERE "recipientSubaccountId" IS NOT NULL GROUP BY 1
           ) t GROUP BY id"#,
    )
    .fetch_all(db)
    .await?)
}
