//! What vulcan needs from `orders` (ingest.md §5.3–§5.5): rows by id for its subaccount
//! messages, and its one write, the status of removed orders. Both work on a whole batch of
//! Kafka messages at once (one statement each).

use sqlx::PgPool;
use uuid::Uuid;

use super::ender_state::order_from_row;
use crate::write::OrderRow;
use crate::StoreError;

/// The `orders` rows with these ids (absent ids are simply missing from the result).
pub async fn orders_by_ids(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<OrderRow>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query("SELECT * FROM orders WHERE id = ANY($1::uuid[])")
        .bind(ids)
        .fetch_all(pool)
        .await?;
    rows.iter().map(order_from_row).collect()
}

/// Sets `status` (only that column) of each existing order and returns the updated rows. Ids
/// are applied in ascending order, so concurrent writers lock rows in the same order.
/// An id listed twice keeps its last status.
pub async fn set_order_statuses(
    pool: &PgPool,
    statuses: &[(Uuid, String)],
) -> Result<Vec<OrderRow>, StoreError> {
    let mut last: std::collections::BTreeMap<Uuid, &str> = std::collections::BTreeMap::new();
    for (id, status) in statuses {
        last.insert(*id, status);
    }
    if last.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = last.keys().copied().collect();
    let values: Vec<String> = last.values().map(|s| s.to_string()).collect();
    let rows = sqlx::query(
        r#"UPDATE orders AS o SET status = u.status
           FROM (SELECT * FROM UNNEST($1::uuid[], $2::text[]) AS t(id, status) ORDER BY id) AS u
           WHERE o.id = u.id
           RETURNING o.*"#,
    )
    .bind(ids)
    .bind(values)
    .fetch_all(pool)
    .await?;
    rows.iter().map(order_from_row).collect()
}
