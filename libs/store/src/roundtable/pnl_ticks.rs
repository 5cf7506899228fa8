//! `create_pnl_ticks`: the inputs of hourly equity snapshots and their inserts.
//!
//! The reads take a connection so the job can run them all inside one REPEATABLE READ
//! transaction (one consistent snapshot of balances, positions, prices and transfers).

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::StoreError;

/// The asset id of USDC, the quote asset every balance and transfer is counted in.
pub const USDC_ASSET_ID: &str = "0";

/// One `pnl_ticks` row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PnlTickRow {
    pub id: Uuid,
    #[sqlx(rename = "subaccountId")]
    pub subaccount_id: Uuid,
    pub equity: BigDecimal,
    #[sqlx(rename = "totalPnl")]
    pub total_pnl: BigDecimal,
    #[sqlx(rename = "netTransfers")]
    pub net_transfers: BigDecimal,
    #[sqlx(rename = "createdAt")]
    pub created_at: DateTime<Utc>,
    #[sqlx(rename = "blockHeight")]
    pub block_height: i64,
    #[sqlx(rename = "blockTime")]
    pub block_time: DateTime<Utc>,
}

/// The block time of the newest ticks and how many ticks share it.
pub async fn newest_tick_block_time<'e, E: PgExecutor<'e>>(
    db: E,
) -> Result<Option<(DateTime<Utc>, i64)>, StoreError> {
    Ok(sqlx::query_as(
        r#"SELECT "blockTime", count(*) FROM pnl_ticks
           WHERE "blockTime" = (SELECT max("blockTime") FROM pnl_ticks)
           GROUP BY "blockTime""#,
    )
    .fetch_optional(db)
    .await?)
}

/// The newest tick of every subaccount (the cold-start fallback of the Redis cache).
pub async fn newest_tick_per_subaccount<'e, E: PgExecutor<'e>>(
    db: E,
) -> Result<Vec<PnlTickRow>, StoreError> {
    Ok(sqlx::query_as(
        r#"SELECT DISTINCT ON ("subaccountId") id, "subaccountId", equity, "totalPnl",
                  "netTransfers", "createdAt", "blockHeight", "blockTime"
           FROM pnl_ticks ORDER BY "subaccountId", "blockHeight" DESC, "createdAt" DESC"#,
    )
    .fetch_all(db)
    .await?)
}

/// Subaccounts that sent or received a transfer at or before `height`, with the height of their
/// last update (where their funding was last settled).
pub async fn subaccounts_with_transfers(
    conn: &mut PgConnection,
    height: i64,
) -> Result<Vec<(Uuid, i64)>, StoreError> {
    Ok(sqlx::query_as(
        r#"SELECT s.id, s."updatedAtHeight" FROM subaccounts s
           WHERE EXISTS (SELECT 1 FROM transfers t
                         WHERE (t."senderSubaccountId" = s.id OR t."recipientSubaccountId" = s.id)
                           AND t."createdAtHeight" <= $1)
           ORDER BY s.id"#,
    )
    .bind(height)
    .fetch_all(&mut *conn)
    .await?)
}

/// Net USDC transferred into each subaccount (received − sent) in heights
/// (`after_heights[i]`, `up_to`]; subaccounts with no such transfer are absent.
pub async fn net_usdc_transfers(
    conn: &mut PgConnection,
    subaccounts: &[Uuid],
    after_heights: &[i64],
    up_to: i64,
) -> Result<Vec<(Uuid, BigDecimal)>, StoreError> {
    Ok(sqlx::query_as(
        r#"SELECT a.id, sum(CASE WHEN t."recipientSubaccountId" = a.id THEN t.size ELSE -t.size END)
           FROM UNNEST($1::uuid[], $2::bigint[]) AS a(id, after)
           JOIN transfers t
             ON (t."recipientSubaccountId" = a.id OR t."senderSubaccountId" = a.id)
            AND t."assetId" = $3 AND t."createdAtHeight" > a.after AND t."createdAtHeight" <= $4
            -- A transfer between two subaccounts of the same id moves nothing.
            AND t."recipientSubaccountId" IS DISTINCT FROM t."senderSubaccountId"
           GROUP BY a.id"#,
    )
    .bind(subaccounts)
    .bind(after_heights)
    .bind(USDC_ASSET_ID)
    .bind(up_to)
    .fetch_all(&mut *conn)
    .await?)
}

/// Open perpetual positions of `subaccounts`: (subaccount, perpetual id, signed size).
pub async fn open_positions(
    conn: &mut PgConnection,
    subaccounts: &[Uuid],
) -> Result<Vec<(Uuid, i64, BigDecimal)>, StoreError> {
    Ok(sqlx::query_as(
        r#"SELECT "subaccountId", "perpetualId", size FROM perpetual_positions
           WHERE "subaccountId" = ANY($1) AND status = 'OPEN'"#,
    )
    .bind(subaccounts)
    .fetch_all(&mut *conn)
    .await?)
}

/// Signed USDC balances of `subaccounts` (absent: no USDC position).
pub async fn usdc_balances(
    conn: &mut PgConnection,
    subaccounts: &[Uuid],
) -> Result<Vec<(Uuid, BigDecimal)>, StoreError> {
    Ok(sqlx::query_as(
        r#"SELECT "subaccountId", CASE WHEN "isLong" THEN size ELSE -size END
           FROM asset_positions WHERE "subaccountId" = ANY($1) AND "assetId" = $2"#,
    )
    .bind(subaccounts)
    .bind(USDC_ASSET_ID)
    .fetch_all(&mut *conn)
    .await?)
}

/// Per perpetual id, the newest oracle price of its market effective at or before `height`.
pub async fn perpetual_prices_at_height(
    conn: &mut PgConnection,
    height: i64,
) -> Result<Vec<(i64, BigDecimal)>, StoreError> {
    Ok(sqlx::query_as(
        r#"SELECT p.id, o.price FROM perpetual_markets p
           CROSS JOIN LATERAL (
               SELECT price FROM oracle_prices
               WHERE "marketId" = p."marketId" AND "effectiveAtHeight" <= $1
               ORDER BY "effectiveAtHeight" DESC LIMIT 1
           ) o"#,
    )
    .bind(height)
    .fetch_all(&mut *conn)
    .await?)
}

/// Inserts ticks (a replay of the same tick id changes nothing). Returns the rows inserted.
pub async fn insert_pnl_ticks(
    conn: &mut PgConnection,
    ticks: &[PnlTickRow],
) -> Result<u64, StoreError> {
    if ticks.is_empty() {
        return Ok(0);
    }
    let column = |f: fn(&PnlTickRow) -> BigDecimal| ticks.iter().map(f).collect::<Vec<_>>();
    let done = sqlx::query(
        r#"INSERT INTO pnl_ticks (id, "subaccountId", equity, "totalPnl", "netTransfers",
                                  "createdAt", "blockHeight", "blockTime")
           SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::numeric[], $4::numeric[],
                                $5::numeric[], $6::timestamptz[], $7::bigint[], $8::timestamptz[])
           ON CONFLICT (id) DO NOTHING"#,
    )
    .bind(ticks.iter().map(|t| t.id).collect::<Vec<_>>())
    .bind(ticks.iter().map(|t| t.subaccount_id).collect::<Vec<_>>())
    .bind(column(|t| t.equity.clone()))
    .bind(column(|t| t.total_pnl.clone()))
    .bind(column(|t| t.net_transfers.clone()))
    .bind(ticks.iter().map(|t| t.created_at).collect::<Vec<_>>())
    .bind(ticks.iter().map(|t| t.block_height).collect::<Vec<_>>())
    .bind(ticks.iter().map(|t| t.block_time).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}
