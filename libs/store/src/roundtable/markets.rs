//! `market_updater`: the inputs of the 24-hour market statistics and their bulk update.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use crate::StoreError;

/// The columns of a perpetual market the statistics job reads and maintains.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct MarketStatsRow {
    pub id: i64,
    #[sqlx(rename = "clobPairId")]
    pub clob_pair_id: i64,
    pub ticker: String,
    #[sqlx(rename = "marketId")]
    pub market_id: i32,
    #[sqlx(rename = "priceChange24H")]
    pub price_change_24h: BigDecimal,
    #[sqlx(rename = "volume24H")]
    pub volume_24h: BigDecimal,
    #[sqlx(rename = "trades24H")]
    pub trades_24h: i32,
    #[sqlx(rename = "nextFundingRate")]
    pub next_funding_rate: BigDecimal,
    #[sqlx(rename = "openInterest")]
    pub open_interest: BigDecimal,
    #[sqlx(rename = "defaultFundingRate1H")]
    pub default_funding_rate_1h: Option<BigDecimal>,
}

/// Every perpetual market's statistics columns, by id.
pub async fn market_stats_rows<'e, E: PgExecutor<'e>>(
    db: E,
) -> Result<Vec<MarketStatsRow>, StoreError> {
    Ok(sqlx::query_as(
        r#"SELECT id, "clobPairId", ticker, "marketId", "priceChange24H", "volume24H",
                  "trades24H", "nextFundingRate", "openInterest", "defaultFundingRate1H"
           FROM perpetual_markets ORDER BY id"#,
    )
    .fetch_all(db)
    .await?)
}

/// Per market id, the newest oracle price effective at or before `at` (markets with no such
/// price are absent).
pub async fn oracle_prices_at<'e, E: PgExecutor<'e>>(
    db: E,
    at: DateTime<Utc>,
) -> Result<Vec<(i32, BigDecimal)>, StoreError> {
    // One index probe per market (oracle_prices_marketid_effectiveat_index).
    Ok(sqlx::query_as(
        r#"SELECT m.id, p.price
           FROM markets m
           CROSS JOIN LATERAL (
               SELECT price FROM oracle_prices
               WHERE "marketId" = m.id AND "effectiveAt" <= $1
               ORDER BY "effectiveAt" DESC LIMIT 1
           ) p"#,
    )
    .bind(at)
    .fetch_all(db)
    .await?)
}

/// Per CLOB pair, the number of taker fills of trading order types created after `since` and
/// their total quote amount (the reference counts LIMIT-type fills only: liquidations,
/// deleveraging and TWAP suborders are not trades here).
pub async fn taker_fill_stats_since<'e, E: PgExecutor<'e>>(
    db: E,
    since: DateTime<Utc>,
) -> Result<Vec<(i64, i64, BigDecimal)>, StoreError> {
    Ok(sqlx::query_as(
        r#"SELECT "clobPairId", count(*), sum("quoteAmount")
           FROM fills
           WHERE liquidity = 'TAKER' AND "createdAt" > $1
             AND type IN ('LIMIT', 'MARKET', 'STOP_LIMIT', 'STOP_MARKET', 'TRAILING_STOP',
                          'TAKE_PROFIT', 'TAKE_PROFIT_MARKET')
           GROUP BY "clobPairId""#,
    )
    .bind(since)
    .fetch_all(db)
    .await?)
}

/// Per perpetual id, the total size of open long positions (open interest).
pub async fn open_interest<'e, E: PgExecutor<'e>>(
    db: E,
) -> Result<Vec<(i64, BigDecimal)>, StoreError> {
    Ok(sqlx::query_as(
        r#"SELECT "perpetualId", sum(size)
           FROM perpetual_positions
           WHERE status = 'OPEN' AND side = 'LONG'
           GROUP BY "perpetualId""#,
    )
    .fetch_all(db)
    .await?)
}

/// New statistics of one market.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketStatsUpdate {
    pub id: i64,
    pub trades_24h: i32,
    pub volume_24h: BigDecimal,
    pub price_change_24h: BigDecimal,
    pub open_interest: BigDecimal,
    pub next_funding_rate: BigDecimal,
}

/// Writes the statistics columns of every market in `updates` with one statement (only those
/// five columns: the rest of the row belongs to ender). Returns the rows updated.
pub async fn update_market_stats(
    conn: &mut PgConnection,
    updates: &[MarketStatsUpdate],
) -> Result<u64, StoreError> {
    if updates.is_empty() {
        return Ok(0);
    }
    let column =
        |f: fn(&MarketStatsUpdate) -> BigDecimal| updates.iter().map(f).collect::<Vec<_>>();
    let done = sqlx::query(
        r#"UPDATE perpetual_markets p
           SET "trades24H" = u.trades, "volume24H" = u.volume, "priceChange24H" = u.change,
               "openInterest" = u.oi, "nextFundingRate" = u.funding
           FROM UNNEST($1::bigint[], $2::integer[], $3::numeric[], $4::numeric[], $5::numeric[],
                       $6::numeric[]) AS u(id, trades, volume, change, oi, funding)
           WHERE p.id = u.id"#,
    )
    .bind(updates.iter().map(|u| u.id).collect::<Vec<_>>())
    .bind(updates.iter().map(|u| u.trades_24h).collect::<Vec<_>>())
    .bind(column(|u| u.volume_24h.clone()))
    .bind(column(|u| u.price_change_24h.clone()))
    .bind(column(|u| u.open_interest.clone()))
    .bind(column(|u| u.next_funding_rate.clone()))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}
