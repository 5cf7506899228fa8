//! What ender reads: the caches it loads at start-up and the rows one block touches, fetched in
//! one statement per table before the block is processed (ingest.md §4.1, §4.5). Rows come back
//! as the same structs ender writes ([`crate::write`]).

use std::collections::HashMap;

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::write::{
    AssetRow, CandleRow, LiquidityTierRow, MarketRow, OrderRow, PerpetualMarketRow,
    PerpetualPositionRow,
};
use crate::StoreError;

/// The tables ender keeps in memory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CacheRows {
    pub markets: Vec<MarketRow>,
    pub assets: Vec<AssetRow>,
    pub liquidity_tiers: Vec<LiquidityTierRow>,
    pub perpetual_markets: Vec<PerpetualMarketRow>,
    /// The latest candle per (ticker, resolution) that started within the look-back window of
    /// its resolution before the latest block time (ingest.md §4.10).
    pub candles: Vec<CandleRow>,
}

/// Loads every cached table.
pub async fn load_cache_rows(conn: &mut PgConnection) -> Result<CacheRows, StoreError> {
    Ok(CacheRows {
        markets: load_markets(conn).await?,
        assets: load_assets(conn).await?,
        liquidity_tiers: load_liquidity_tiers(conn).await?,
        perpetual_markets: load_perpetual_markets(conn).await?,
        candles: load_latest_candles(conn).await?,
    })
}

async fn load_markets(conn: &mut PgConnection) -> Result<Vec<MarketRow>, StoreError> {
    let rows = sqlx::query(
        r#"SELECT id, pair, exponent, "minPriceChangePpm", "oraclePrice" FROM markets ORDER BY id"#,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MarketRow {
                id: r.try_get("id")?,
                pair: r.try_get("pair")?,
                exponent: r.try_get("exponent")?,
                min_price_change_ppm: r.try_get("minPriceChangePpm")?,
                oracle_price: r.try_get("oraclePrice")?,
            })
        })
        .collect()
}

async fn load_assets(conn: &mut PgConnection) -> Result<Vec<AssetRow>, StoreError> {
    let rows = sqlx::query(
        r#"SELECT id, symbol, "atomicResolution", "hasMarket", "marketId" FROM assets ORDER BY id"#,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AssetRow {
                id: r.try_get("id")?,
                symbol: r.try_get("symbol")?,
                atomic_resolution: r.try_get("atomicResolution")?,
                has_market: r.try_get("hasMarket")?,
                market_id: r.try_get("marketId")?,
            })
        })
        .collect()
}

async fn load_liquidity_tiers(
    conn: &mut PgConnection,
) -> Result<Vec<LiquidityTierRow>, StoreError> {
    let rows = sqlx::query(
        r#"SELECT id, COALESCE(name, '') AS name, "initialMarginPpm", "maintenanceFractionPpm",
             "openInterestLowerCap", "openInterestUpperCap" FROM liquidity_tiers ORDER BY id"#,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(LiquidityTierRow {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                initial_margin_ppm: r.try_get("initialMarginPpm")?,
                maintenance_fraction_ppm: r.try_get("maintenanceFractionPpm")?,
                open_interest_lower_cap: r.try_get("openInterestLowerCap")?,
                open_interest_upper_cap: r.try_get("openInterestUpperCap")?,
            })
        })
        .collect()
}

/// Every perpetual market row (also used to refresh the aggregates roundtable maintains).
pub async fn load_perpetual_markets(
    conn: &mut PgConnection,
) -> Result<Vec<PerpetualMarketRow>, StoreError> {
    let rows = sqlx::query("SELECT * FROM perpetual_markets ORDER BY id")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(perpetual_market_from_row).collect()
}

fn perpetual_market_from_row(r: &PgRow) -> Result<PerpetualMarketRow, StoreError> {
    Ok(PerpetualMarketRow {
        id: r.try_get("id")?,
        clob_pair_id: r.try_get("clobPairId")?,
        ticker: r.try_get("ticker")?,
        market_id: r.try_get("marketId")?,
        status: r.try_get("status")?,
        price_change_24h: r.try_get("priceChange24H")?,
        volume_24h: r.try_get("volume24H")?,
        trades_24h: r.try_get("trades24H")?,
        next_funding_rate: r.try_get("nextFundingRate")?,
        open_interest: r.try_get("openInterest")?,
        quantum_conversion_exponent: r.try_get("quantumConversionExponent")?,
        atomic_resolution: r.try_get("atomicResolution")?,
        subticks_per_tick: r.try_get("subticksPerTick")?,
        step_base_quantums: r.try_get("stepBaseQuantums")?,
        liquidity_tier_id: r.try_get("liquidityTierId")?,
        market_type: r.try_get("marketType")?,
        base_open_interest: r.try_get("baseOpenInterest")?,
        default_funding_rate_1h: r.try_get("defaultFundingRate1H")?,
    })
}

async fn load_latest_candles(conn: &mut PgConnection) -> Result<Vec<CandleRow>, StoreError> {
    let rows = sqlx::query(
        r#"WITH latest AS (SELECT max("time") AS t FROM blocks)
           SELECT DISTINCT ON (c.ticker, c.resolution) c.*
           FROM candles c, latest
           WHERE latest.t IS NOT NULL AND c."startedAt" >= latest.t - CASE
             WHEN c.resolution IN ('4HOURS', '1DAY') THEN interval '2 days' ELSE interval '3 hours' END
           ORDER BY c.ticker, c.resolution, c."startedAt" DESC"#,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(candle_from_row).collect()
}

fn candle_from_row(r: &PgRow) -> Result<CandleRow, StoreError> {
    Ok(CandleRow {
        id: r.try_get("id")?,
        started_at: r.try_get("startedAt")?,
        ticker: r.try_get("ticker")?,
        resolution: r.try_get("resolution")?,
        low: r.try_get("low")?,
        high: r.try_get("high")?,
        open: r.try_get("open")?,
        close: r.try_get("close")?,
        base_token_volume: r.try_get("baseTokenVolume")?,
        usd_volume: r.try_get("usdVolume")?,
        trades: r.try_get("trades")?,
        starting_open_interest: r.try_get("startingOpenInterest")?,
        orderbook_mid_price_open: r.try_get("orderbookMidPriceOpen")?,
        orderbook_mid_price_close: r.try_get("orderbookMidPriceClose")?,
    })
}

/// The rows one block reads, by key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockRows {
    pub orders: Vec<OrderRow>,
    /// The latest position (by openEventId, any status) per requested (subaccount, perpetual).
    pub positions: Vec<PerpetualPositionRow>,
    /// The requested subaccount ids that exist.
    pub existing_subaccounts: Vec<Uuid>,
}

/// Fetches, inside the block's transaction, the orders (locked `FOR UPDATE`, so a concurrent
/// status change by vulcan waits for this block instead of being overwritten), the latest
/// position per (subaccount, perpetual) and which subaccounts exist. Three statements at most.
pub async fn load_block_rows(
    conn: &mut PgConnection,
    order_ids: &[Uuid],
    position_keys: &[(Uuid, i64)],
    subaccount_ids: &[Uuid],
) -> Result<BlockRows, StoreError> {
    let mut out = BlockRows::default();
    if !order_ids.is_empty() {
        let rows = sqlx::query("SELECT * FROM orders WHERE id = ANY($1::uuid[]) FOR UPDATE")
            .bind(order_ids)
            .fetch_all(&mut *conn)
            .await?;
        out.orders = rows.iter().map(order_from_row).collect::<Result<_, _>>()?;
    }
    if !position_keys.is_empty() {
        let subaccounts: Vec<Uuid> = position_keys.iter().map(|k| k.0).collect();
        let perpetuals: Vec<i64> = position_keys.iter().map(|k| k.1).collect();
        let rows = sqlx::query(
            r#"SELECT p.* FROM UNNEST($1::uuid[], $2::bigint[]) AS k(s, p)
               CROSS JOIN LATERAL (SELECT * FROM perpetual_positions
                 WHERE "subaccountId" = k.s AND "perpetualId" = k.p
                 ORDER BY "openEventId" DESC LIMIT 1) p"#,
        )
        .bind(subaccounts)
        .bind(perpetuals)
        .fetch_all(&mut *conn)
        .await?;
        out.positions = rows
            .iter()
            .map(position_from_row)
            .collect::<Result<_, _>>()?;
    }
    if !subaccount_ids.is_empty() {
        out.existing_subaccounts =
            sqlx::query_scalar("SELECT id FROM subaccounts WHERE id = ANY($1::uuid[])")
                .bind(subaccount_ids)
                .fetch_all(&mut *conn)
                .await?;
    }
    Ok(out)
}

/// Σ size of OPEN LONG positions per perpetual id (candles' starting open interest).
pub async fn open_interest_by_perpetual(
    conn: &mut PgConnection,
) -> Result<HashMap<i64, BigDecimal>, StoreError> {
    let rows: Vec<(i64, BigDecimal)> = sqlx::query_as(
        r#"SELECT "perpetualId", sum(size) FROM perpetual_positions
           WHERE status = 'OPEN' AND side = 'LONG' GROUP BY "perpetualId""#,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().collect())
}

/// One `orders` row (`SELECT *` or `RETURNING *`) as an [`OrderRow`]; vulcan reads the same rows.
pub(crate) fn order_from_row(r: &PgRow) -> Result<OrderRow, StoreError> {
    Ok(OrderRow {
        id: r.try_get("id")?,
        subaccount_id: r.try_get("subaccountId")?,
        client_id: r.try_get("clientId")?,
        clob_pair_id: r.try_get("clobPairId")?,
        side: r.try_get("side")?,
        size: r.try_get("size")?,
        total_filled: r.try_get("totalFilled")?,
        price: r.try_get("price")?,
        order_type: r.try_get("type")?,
        status: r.try_get("status")?,
        time_in_force: r.try_get("timeInForce")?,
        reduce_only: r.try_get("reduceOnly")?,
        order_flags: r.try_get("orderFlags")?,
        good_til_block: r.try_get("goodTilBlock")?,
        good_til_block_time: r.try_get::<Option<DateTime<Utc>>, _>("goodTilBlockTime")?,
        created_at_height: r.try_get("createdAtHeight")?,
        client_metadata: r.try_get("clientMetadata")?,
        trigger_price: r.try_get("triggerPrice")?,
        updated_at: r.try_get("updatedAt")?,
        updated_at_height: r.try_get("updatedAtHeight")?,
        duration: r.try_get("duration")?,
        interval: r.try_get("interval")?,
        price_tolerance: r.try_get("priceTolerance")?,
        builder_address: r.try_get("builderAddress")?,
        fee_ppm: r.try_get("feePpm")?,
        order_router_address: r.try_get("orderRouterAddress")?,
        created_at: r.try_get("createdAt")?,
    })
}

fn position_from_row(r: &PgRow) -> Result<PerpetualPositionRow, StoreError> {
    Ok(PerpetualPositionRow {
        id: r.try_get("id")?,
        subaccount_id: r.try_get("subaccountId")?,
        perpetual_id: r.try_get("perpetualId")?,
        side: r.try_get("side")?,
        status: r.try_get("status")?,
        size: r.try_get("size")?,
        max_size: r.try_get("maxSize")?,
        entry_price: r.try_get("entryPrice")?,
        exit_price: r.try_get("exitPrice")?,
        sum_open: r.try_get("sumOpen")?,
        sum_close: r.try_get("sumClose")?,
        created_at: r.try_get("createdAt")?,
        closed_at: r.try_get("closedAt")?,
        created_at_height: r.try_get("createdAtHeight")?,
        closed_at_height: r.try_get("closedAtHeight")?,
        open_event_id: r.try_get("openEventId")?,
        close_event_id: r.try_get("closeEventId")?,
        last_event_id: r.try_get("lastEventId")?,
        settled_funding: r.try_get("settledFunding")?,
        total_realized_pnl: r.try_get("totalRealizedPnl")?,
    })
}
