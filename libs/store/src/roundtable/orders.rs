//! `cancel_stale_orders`: short-term orders left OPEN in Postgres after their expiry.

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::StoreError;

/// Up to `limit` OPEN short-term orders (flags 0) whose good-til-block is at most
/// `max_good_til_block`.
pub async fn stale_open_short_term_orders<'e, E: PgExecutor<'e>>(
    db: E,
    max_good_til_block: i64,
    limit: i64,
) -> Result<Vec<Uuid>, StoreError> {
    // Served by the partial index orders_open_shortterm_idx.
    Ok(sqlx::query_scalar(
        r#"SELECT id FROM orders
           WHERE status = 'OPEN' AND "orderFlags" = 0 AND "goodTilBlock" IS NOT NULL
             AND "goodTilBlock" <= $1
           ORDER BY "goodTilBlock" LIMIT $2"#,
    )
    .bind(max_good_til_block)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Sets the orders in `ids` to CANCELED if they are still OPEN and expired before
/// `latest_height` (re-checked here because the list may come from a lagging replica). Returns
/// how many changed.
pub async fn cancel_stale_orders(
    conn: &mut PgConnection,
    ids: &[Uuid],
    latest_height: i64,
) -> Result<u64, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query(
        r#"UPDATE orders SET status = 'CANCELED'
           WHERE id = ANY($1) AND status = 'OPEN' AND "goodTilBlock" < $2"#,
    )
    .bind(ids)
    .bind(latest_height)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}
