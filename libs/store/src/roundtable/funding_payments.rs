//! `update_funding_payments`: one `funding_payments` row per open position per funding tick.

use sqlx::{PgConnection, PgExecutor};

use crate::StoreError;

/// The `persistent_cache` key of the last funding height processed (the reference's name).
pub const FUNDING_PAYMENTS_WATERMARK: &str = "fundingPaymentsLastProcessedHeight";

/// Heights with funding index updates after `after`, ascending, at most `limit`.
pub async fn funding_heights_after<'e, E: PgExecutor<'e>>(
    db: E,
    after: i64,
    limit: i64,
) -> Result<Vec<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        r#"SELECT DISTINCT "effectiveAtHeight" FROM funding_index_updates
           WHERE "effectiveAtHeight" > $1 ORDER BY "effectiveAtHeight" LIMIT $2"#,
    )
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Writes the funding payments of the funding tick at `current` (the previous tick processed
/// being `previous`, 0 for none): each (subaccount, perpetual) position is the size recorded
/// with the previous tick's payments plus the signed fills in (`previous`, `current`]; every
/// non-zero position in a perpetual with a funding update at `current` pays
/// −size × (index at `current` − index at `previous`, 0 if none), recorded at the update's
/// time, price, rate and index. Returns the rows written.
pub async fn insert_funding_payments(
    conn: &mut PgConnection,
    previous: i64,
    current: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        r#"
WITH traded AS (
    SELECT f."subaccountId", m.id AS "perpetualId", m.ticker,
           sum(CASE WHEN f.side = 'BUY' THEN f.size ELSE -f.size END) AS size
    FROM fills f
    JOIN perpetual_markets m ON m."clobPairId" = f."clobPairId"
    WHERE f."createdAtHeight" > $1 AND f."createdAtHeight" <= $2
    GROUP BY f."subaccountId", m.id, m.ticker
),
held AS (
    SELECT "subaccountId", "perpetualId", ticker, size
    FROM funding_payments WHERE "createdAtHeight" = $1
),
positions AS (
    SELECT coalesce(t."subaccountId", h."subaccountId") AS "subaccountId",
           coalesce(t."perpetualId", h."perpetualId") AS "perpetualId",
           coalesce(t.ticker, h.ticker) AS ticker,
           coalesce(t.size, 0) + coalesce(h.size, 0) AS size
    FROM traded t
    FULL JOIN held h ON h."subaccountId" = t."subaccountId" AND h."perpetualId" = t."perpetualId"
),
tick AS (
    SELECT DISTINCT ON (u."perpetualId") u."perpetualId", u.rate, u."oraclePrice",
           u."effectiveAt", u."fundingIndex",
           u."fundingIndex" - coalesce(
               (SELECT p."fundingIndex" FROM funding_index_updates p
                WHERE p."perpetualId" = u."perpetualId" AND p."effectiveAtHeight" = $1
                ORDER BY p.id LIMIT 1), 0) AS delta
    FROM funding_index_updates u
    WHERE u."effectiveAtHeight" = $2
    ORDER BY u."perpetualId", u.id
)
INSERT INTO funding_payments ("subaccountId", "createdAt", "createdAtHeight", "perpetualId",
                              ticker, "oraclePrice", size, side, rate, payment, "fundingIndex")
SELECT p."subaccountId", k."effectiveAt", $2, p."perpetualId", p.ticker, k."oraclePrice",
       p.size, CASE WHEN p.size > 0 THEN 'LONG' ELSE 'SHORT' END, k.rate,
       -p.size * k.delta, k."fundingIndex"
FROM positions p
JOIN tick k ON k."perpetualId" = p."perpetualId"
WHERE p.size <> 0
ORDER BY p."subaccountId", p."perpetualId"
"#,
    )
    .bind(previous)
    .bind(current)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}
