//! `update_compliance_status`: CLOSE_ONLY addresses become BLOCKED after a grace period.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::StoreError;

/// Sets every CLOSE_ONLY address last updated at or before `updated_before` to BLOCKED (the
/// reason is kept) and returns those addresses. One statement: an address whose status changed
/// meanwhile is not touched.
pub async fn block_stale_close_only(
    conn: &mut PgConnection,
    updated_before: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        r#"UPDATE compliance_status SET status = 'BLOCKED', "updatedAt" = now()
           WHERE status = 'CLOSE_ONLY' AND "updatedAt" <= $1
           RETURNING address"#,
    )
    .bind(updated_before)
    .fetch_all(&mut *conn)
    .await?)
}
