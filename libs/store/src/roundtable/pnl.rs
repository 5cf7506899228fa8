//! `update_pnl`: one `pnl` row per subaccount per funding tick.

use sqlx::{PgConnection, PgExecutor};

use crate::StoreError;

/// The `persistent_cache` key of the last funding height whose PnL was written (the
/// reference's name).
pub const PNL_WATERMARK: &str = "pnlLastProcessedHeight";

/// Funding heights with funding payments after `after`, ascending, at most `limit`.
pub async fn payment_heights_after<'e, E: PgExecutor<'e>>(
    db: E,
    after: i64,
    limit: i64,
) -> Result<Vec<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        r#"SELECT DISTINCT "createdAtHeight" FROM funding_payments
           WHERE "createdAtHeight" > $1 ORDER BY "createdAtHeight" LIMIT $2"#,
    )
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Writes the PnL of every subaccount with a PnL row at `previous` or a transfer in
/// (`previous`, `current`], at `current` (recorded at the time of that height's funding
/// payments):
/// - total PnL = previous total PnL + funding payments in the range + (position value at
///   `current` − at `previous`, size × oracle price of the funding rows) + trade cash flow in the
///   range (sells − buys − fees);
/// - net transfers = previous net transfers + transfers in − out in the range;
/// - equity = total PnL + net transfers.
///
/// Returns the rows written.
pub async fn insert_pnl(
    conn: &mut PgConnection,
    previous: i64,
    current: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        r#"
WITH prior AS (
    SELECT "subaccountId", "totalPnl", "netTransfers" FROM pnl WHERE "createdAtHeight" = $1
),
moved AS (
    SELECT id, sum(amount) AS amount FROM (
        SELECT "senderSubaccountId" AS id, -size AS amount FROM transfers
        WHERE "createdAtHeight" > $1 AND "createdAtHeight" <= $2 AND "senderSubaccountId" IS NOT NULL
        UNION ALL
        SELECT "recipientSubaccountId", size FROM transfers
        WHERE "createdAtHeight" > $1 AND "createdAtHeight" <= $2 AND "recipientSubaccountId" IS NOT NULL
    ) t GROUP BY id
),
accounts AS (
    SELECT "subaccountId" AS id FROM prior UNION SELECT id FROM moved
),
funding AS (
    SELECT "subaccountId" AS id,
           sum(payment) FILTER (WHERE "createdAtHeight" > $1) AS paid,
           sum(size * "oraclePrice") FILTER (WHERE "createdAtHeight" = $1) AS value_before,
           sum(size * "oraclePrice") FILTER (WHERE "createdAtHeight" = $2) AS value_after
    FROM funding_payments
    WHERE "createdAtHeight" >= $1 AND "createdAtHeight" <= $2
    GROUP BY "subaccountId"
),
trading AS (
    SELECT "subaccountId" AS id,
           sum(CASE WHEN side = 'SELL' THEN "quoteAmount" ELSE -"quoteAmount" END)
               - sum(fee::numeric) AS cash
    FROM fills WHERE "createdAtHeight" > $1 AND "createdAtHeight" <= $2
    GROUP BY "subaccountId"
),
tick_time AS (
    SELECT max("createdAt") AS at FROM funding_payments WHERE "createdAtHeight" = $2
),
computed AS (
    SELECT a.id,
           coalesce(p."totalPnl", 0) + coalesce(f.paid, 0)
             + coalesce(f.value_after, 0) - coalesce(f.value_before, 0)
             + coalesce(t.cash, 0) AS total_pnl,
           coalesce(p."netTransfers", 0) + coalesce(m.amount, 0) AS net_transfers
    FROM accounts a
    LEFT JOIN prior p ON p."subaccountId" = a.id
    LEFT JOIN moved m ON m.id = a.id
    LEFT JOIN funding f ON f.id = a.id
    LEFT JOIN trading t ON t.id = a.id
)
INSERT INTO pnl ("subaccountId", "createdAt", "createdAtHeight", equity, "netTransfers", "totalPnl")
SELECT c.id, k.at, $2, c.total_pnl + c.net_transfers, c.net_transfers, c.total_pnl
FROM computed c CROSS JOIN tick_time k
WHERE k.at IS NOT NULL
ORDER BY c.id
"#,
    )
    .bind(previous)
    .bind(current)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}
