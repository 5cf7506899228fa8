//! `create_leaderboard_pnl_*`: PnL rankings per time span from the PnL ticks.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::StoreError;

/// One ranked address.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct LeaderboardRow {
    pub address: String,
    pub pnl: BigDecimal,
    #[sqlx(rename = "currentEquity")]
    pub current_equity: BigDecimal,
    pub rank: i64,
}

/// Ranks addresses by PnL over a span, from the latest tick of each parent subaccount (number
/// divisible by 128) created on the UTC day starting at `today`: PnL is that tick's total PnL
/// minus the total PnL of the subaccount's latest tick created before `span_start` (0 without
/// one; `None` = all time, no subtraction), summed per address with the current equities.
/// Addresses in `excluded` (vaults) and without a wallet are left out. Ties rank by address.
pub async fn ranked_pnl(
    conn: &mut PgConnection,
    today: DateTime<Utc>,
    span_start: Option<DateTime<Utc>>,
    excluded: &[String],
) -> Result<Vec<LeaderboardRow>, StoreError> {
    Ok(sqlx::query_as(
        r#"
WITH latest AS (
    SELECT DISTINCT ON (t."subaccountId") t."subaccountId", s.address, t."totalPnl", t.equity
    FROM pnl_ticks t
    JOIN subaccounts s ON s.id = t."subaccountId"
    WHERE t."createdAt" >= $1 AND t."createdAt" < $1 + interval '1 day'
      AND s."subaccountNumber" % 128 = 0 AND s.address <> ALL($3)
    ORDER BY t."subaccountId", t."blockHeight" DESC, t."createdAt" DESC
),
earlier AS (
    SELECT DISTINCT ON (t."subaccountId") t."subaccountId", t."totalPnl"
    FROM pnl_ticks t
    WHERE $2::timestamptz IS NOT NULL AND t."createdAt" < $2
      AND t."subaccountId" IN (SELECT "subaccountId" FROM latest)
    ORDER BY t."subaccountId", t."blockHeight" DESC, t."createdAt" DESC
),
per_address AS (
    SELECT l.address, sum(l."totalPnl" - coalesce(e."totalPnl", 0)) AS pnl,
           sum(l.equity) AS "currentEquity"
    FROM latest l
    LEFT JOIN earlier e ON e."subaccountId" = l."subaccountId"
    JOIN wallets w ON w.address = l.address
    GROUP BY l.address
)
SELECT address, pnl, "currentEquity", row_number() OVER (ORDER BY pnl DESC, address) AS rank
FROM per_address ORDER BY rank"#,
    )
    .bind(today)
    .bind(span_start)
    .bind(excluded)
    .fetch_all(&mut *conn)
    .await?)
}

/// Replaces the whole ranking of `time_span` with `rows` (inside the caller's transaction, so
/// readers see the old or the new ranking, never a mix), inserting `chunk` rows per statement.
pub async fn replace_leaderboard(
    conn: &mut PgConnection,
    time_span: &str,
    rows: &[LeaderboardRow],
    chunk: usize,
) -> Result<(), StoreError> {
    sqlx::query(r#"DELETE FROM leaderboard_pnl WHERE "timeSpan" = $1"#)
        .bind(time_span)
        .execute(&mut *conn)
        .await?;
    for part in rows.chunks(chunk.max(1)) {
        sqlx::query(
            r#"INSERT INTO leaderboard_pnl (address, "timeSpan", pnl, "currentEquity", rank)
               SELECT u.address, $1, u.pnl, u.equity, u.rank
               FROM UNNEST($2::text[], $3::numeric[], $4::numeric[], $5::int[])
                    AS u(address, pnl, equity, rank)"#,
        )
        .bind(time_span)
        .bind(part.iter().map(|r| r.address.clone()).collect::<Vec<_>>())
        .bind(part.iter().map(|r| r.pnl.clone()).collect::<Vec<_>>())
        .bind(
            part.iter()
                .map(|r| r.current_equity.clone())
                .collect::<Vec<_>>(),
        )
        .bind(part.iter().map(|r| r.rank as i32).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
