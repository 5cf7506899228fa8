//! Perpetual markets: the in-memory market cache every reader validates tickers against
//! (serve.md §1, refreshed every 30 s) and the `PerpetualMarketResponseObject` (§3.1) read
//! fresh from Postgres.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use indexer_domain::quantums::{initial_margin_fraction, maintenance_margin_fraction};
use indexer_domain::MarketParams;
use serde::Serialize;
use sqlx::{PgPool, QueryBuilder};
use utoipa::ToSchema;

use crate::json::{IntString, Numeric, OrderedMap};
use crate::QueryError;

/// The market parameters of one perpetual market, as cached.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
#[sqlx(rename_all = "camelCase")]
pub struct PerpetualMarketInfo {
    pub id: i64,
    pub clob_pair_id: i64,
    pub ticker: String,
    pub market_id: i32,
    pub status: String,
    pub atomic_resolution: i32,
    pub quantum_conversion_exponent: i32,
    pub subticks_per_tick: i32,
    pub step_base_quantums: i32,
    pub liquidity_tier_id: i32,
    pub market_type: String,
}

impl PerpetualMarketInfo {
    /// The unit-defining parameters (quantums ↔ human sizes, subticks ↔ prices).
    pub fn params(&self) -> MarketParams {
        MarketParams {
            atomic_resolution: self.atomic_resolution,
            quantum_conversion_exponent: self.quantum_conversion_exponent,
            subticks_per_tick: u32::try_from(self.subticks_per_tick).unwrap_or_default(),
            step_base_quantums: u64::try_from(self.step_base_quantums).unwrap_or_default(),
        }
    }
}

/// One `liquidity_tiers` row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
#[sqlx(rename_all = "camelCase")]
pub struct LiquidityTier {
    pub id: i32,
    pub initial_margin_ppm: i64,
    pub maintenance_fraction_ppm: i64,
    pub open_interest_lower_cap: Option<String>,
    pub open_interest_upper_cap: Option<String>,
}

impl LiquidityTier {
    /// `initialMarginPpm / 10^6`, minimal decimal.
    pub fn initial_margin_fraction(&self) -> indexer_domain::Decimal {
        initial_margin_fraction(ppm(self.initial_margin_ppm))
    }

    /// `(initialMarginPpm × maintenanceFractionPpm / 10^6) / 10^6`, minimal decimal.
    pub fn maintenance_margin_fraction(&self) -> indexer_domain::Decimal {
        maintenance_margin_fraction(
            ppm(self.initial_margin_ppm),
            ppm(self.maintenance_fraction_ppm),
        )
    }
}

/// Ppm values are protocol `u32`s stored in `bigint` columns.
fn ppm(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// Every perpetual market and liquidity tier at one point in time, indexed for lookups.
#[derive(Debug, Default)]
pub struct MarketsSnapshot {
    /// Ordered by perpetual id ascending.
    markets: Vec<Arc<PerpetualMarketInfo>>,
    by_ticker: HashMap<String, Arc<PerpetualMarketInfo>>,
    by_clob_pair_id: HashMap<i64, Arc<PerpetualMarketInfo>>,
    by_id: HashMap<i64, Arc<PerpetualMarketInfo>>,
    liquidity_tiers: HashMap<i32, LiquidityTier>,
}

impl MarketsSnapshot {
    /// Reads every perpetual market and liquidity tier.
    pub async fn load(pool: &PgPool) -> Result<Self, QueryError> {
        let markets: Vec<PerpetualMarketInfo> = sqlx::query_as(
            r#"SELECT id, "clobPairId", ticker, "marketId", status, "atomicResolution",
                      "quantumConversionExponent", "subticksPerTick", "stepBaseQuantums",
                      "liquidityTierId", "marketType"
               FROM perpetual_markets ORDER BY id"#,
        )
        .fetch_all(pool)
        .await?;
        let tiers: Vec<LiquidityTier> = sqlx::query_as(
            r#"SELECT id, "initialMarginPpm", "maintenanceFractionPpm", "openInterestLowerCap",
                      "openInterestUpperCap"
               FROM liquidity_tiers"#,
        )
        .fetch_all(pool)
        .await?;
        Ok(Self::new(markets, tiers))
    }

    pub fn new(markets: Vec<PerpetualMarketInfo>, tiers: Vec<LiquidityTier>) -> Self {
        let markets: Vec<Arc<PerpetualMarketInfo>> = markets.into_iter().map(Arc::new).collect();
        let index = |key: fn(&PerpetualMarketInfo) -> i64| {
            markets
                .iter()
                .map(|m| (key(m), Arc::clone(m)))
                .collect::<HashMap<_, _>>()
        };
        Self {
            by_clob_pair_id: index(|m| m.clob_pair_id),
            by_id: index(|m| m.id),
            by_ticker: markets
                .iter()
                .map(|m| (m.ticker.clone(), Arc::clone(m)))
                .collect(),
            liquidity_tiers: tiers.into_iter().map(|t| (t.id, t)).collect(),
            markets,
        }
    }

    pub fn by_ticker(&self, ticker: &str) -> Option<&Arc<PerpetualMarketInfo>> {
        self.by_ticker.get(ticker)
    }

    pub fn by_clob_pair_id(&self, clob_pair_id: i64) -> Option<&Arc<PerpetualMarketInfo>> {
        self.by_clob_pair_id.get(&clob_pair_id)
    }

    pub fn by_id(&self, perpetual_id: i64) -> Option<&Arc<PerpetualMarketInfo>> {
        self.by_id.get(&perpetual_id)
    }

    pub fn liquidity_tier(&self, id: i32) -> Option<&LiquidityTier> {
        self.liquidity_tiers.get(&id)
    }

    /// Every market, by perpetual id ascending.
    pub fn markets(&self) -> &[Arc<PerpetualMarketInfo>] {
        &self.markets
    }

    /// The ticker of a clob pair, or an inconsistency error (rows reference a market the cache
    /// does not know).
    pub fn ticker_of_clob_pair(&self, clob_pair_id: i64) -> Result<&str, QueryError> {
        self.by_clob_pair_id(clob_pair_id)
            .map(|m| m.ticker.as_str())
            .ok_or_else(|| {
                QueryError::Inconsistent(format!("clob pair {clob_pair_id} is not a known market"))
            })
    }
}

/// The process-wide market cache: a snapshot replaced atomically on refresh.
pub struct MarketCache {
    current: RwLock<Arc<MarketsSnapshot>>,
    refreshed_at: tokio::sync::Mutex<Instant>,
}

impl MarketCache {
    /// Loads the first snapshot.
    pub async fn load(pool: &PgPool) -> Result<Self, QueryError> {
        let snapshot = MarketsSnapshot::load(pool).await?;
        Ok(Self::from_snapshot(snapshot))
    }

    pub fn from_snapshot(snapshot: MarketsSnapshot) -> Self {
        Self {
            current: RwLock::new(Arc::new(snapshot)),
            refreshed_at: tokio::sync::Mutex::new(Instant::now()),
        }
    }

    /// The current snapshot (cheap: one `Arc` clone).
    pub fn snapshot(&self) -> Arc<MarketsSnapshot> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Reloads from Postgres and swaps the snapshot in.
    pub async fn refresh(&self, pool: &PgPool) -> Result<Arc<MarketsSnapshot>, QueryError> {
        let mut refreshed_at = self.refreshed_at.lock().await;
        let snapshot = Arc::new(MarketsSnapshot::load(pool).await?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::clone(&snapshot);
        *refreshed_at = Instant::now();
        Ok(snapshot)
    }

    /// Reloads unless the snapshot is younger than `min_age`; concurrent callers share one
    /// reload. Used when a lookup misses, so a market listed seconds ago becomes addressable
    /// without waiting for the periodic refresh, while a flood of unknown tickers costs at most
    /// one query per `min_age`.
    pub async fn refresh_if_older_than(
        &self,
        pool: &PgPool,
        min_age: Duration,
    ) -> Result<Arc<MarketsSnapshot>, QueryError> {
        {
            let refreshed_at = self.refreshed_at.lock().await;
            if refreshed_at.elapsed() < min_age {
                return Ok(self.snapshot());
            }
        }
        self.refresh(pool).await
    }
}

/// `PerpetualMarketResponseObject` (serve.md §3.1).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PerpetualMarketResponseObject)]
pub struct PerpetualMarketResponse {
    pub clob_pair_id: IntString,
    pub ticker: String,
    #[schema(schema_with = crate::json::enums::perpetual_market_status)]
    pub status: String,
    pub oracle_price: Option<Numeric>,
    #[serde(rename = "priceChange24H")]
    pub price_change_24h: Numeric,
    #[serde(rename = "volume24H")]
    pub volume_24h: Numeric,
    #[serde(rename = "trades24H")]
    pub trades_24h: i32,
    pub next_funding_rate: Numeric,
    pub initial_margin_fraction: Numeric,
    pub maintenance_margin_fraction: Numeric,
    pub open_interest: Numeric,
    pub atomic_resolution: i32,
    pub quantum_conversion_exponent: i32,
    pub tick_size: Numeric,
    pub step_size: Numeric,
    pub step_base_quantums: i32,
    pub subticks_per_tick: i32,
    #[schema(schema_with = crate::json::enums::perpetual_market_type)]
    pub market_type: String,
    pub open_interest_lower_cap: Option<String>,
    pub open_interest_upper_cap: Option<String>,
    pub base_open_interest: Option<Numeric>,
    #[serde(rename = "defaultFundingRate1H")]
    pub default_funding_rate_1h: Option<Numeric>,
}

/// `{"markets": {ticker: PerpetualMarketResponseObject}}` in perpetual id order.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PerpetualMarketsResponse {
    #[schema(value_type = std::collections::HashMap<String, PerpetualMarketResponse>)]
    pub markets: OrderedMap<PerpetualMarketResponse>,
}

/// One `perpetual_markets` row with its `markets` and `liquidity_tiers` rows (either may be
/// missing).
#[derive(sqlx::FromRow)]
#[sqlx(rename_all = "camelCase")]
struct MarketRow {
    clob_pair_id: IntString,
    ticker: String,
    status: String,
    #[sqlx(rename = "priceChange24H")]
    price_change_24h: Numeric,
    #[sqlx(rename = "volume24H")]
    volume_24h: Numeric,
    #[sqlx(rename = "trades24H")]
    trades_24h: i32,
    next_funding_rate: Numeric,
    open_interest: Numeric,
    atomic_resolution: i32,
    quantum_conversion_exponent: i32,
    subticks_per_tick: i32,
    step_base_quantums: i32,
    market_type: String,
    base_open_interest: Option<Numeric>,
    #[sqlx(rename = "defaultFundingRate1H")]
    default_funding_rate_1h: Option<Numeric>,
    liquidity_tier_id: i32,
    market_row_id: Option<i32>,
    oracle_price: Option<Numeric>,
    tier_row_id: Option<i32>,
    initial_margin_ppm: Option<i64>,
    maintenance_fraction_ppm: Option<i64>,
    open_interest_lower_cap: Option<String>,
    open_interest_upper_cap: Option<String>,
}

const MARKET_ROW_SELECT: &str = r#"
    SELECT pm.id, pm."clobPairId", pm.ticker, pm.status,
           pm."priceChange24H", pm."volume24H", pm."trades24H", pm."nextFundingRate",
           pm."openInterest",
           pm."atomicResolution", pm."quantumConversionExponent", pm."subticksPerTick",
           pm."stepBaseQuantums", pm."marketType", pm."baseOpenInterest",
           pm."defaultFundingRate1H", pm."liquidityTierId",
           m.id AS "marketRowId", m."oraclePrice",
           lt.id AS "tierRowId", lt."initialMarginPpm", lt."maintenanceFractionPpm",
           lt."openInterestLowerCap", lt."openInterestUpperCap"
    FROM perpetual_markets pm
    LEFT JOIN markets m ON m.id = pm."marketId"
    LEFT JOIN liquidity_tiers lt ON lt.id = pm."liquidityTierId"
"#;

impl MarketRow {
    fn into_response(self) -> Result<PerpetualMarketResponse, QueryError> {
        if self.market_row_id.is_none() {
            return Err(QueryError::NotFound(format!(
                "Market not found for ticker {}",
                self.ticker
            )));
        }
        let (Some(_), Some(initial), Some(maintenance)) = (
            self.tier_row_id,
            self.initial_margin_ppm,
            self.maintenance_fraction_ppm,
        ) else {
            return Err(QueryError::NotFound(format!(
                "Liquidity tier {} not found for ticker {}",
                self.liquidity_tier_id, self.ticker
            )));
        };
        let tier = LiquidityTier {
            id: self.liquidity_tier_id,
            initial_margin_ppm: initial,
            maintenance_fraction_ppm: maintenance,
            open_interest_lower_cap: self.open_interest_lower_cap,
            open_interest_upper_cap: self.open_interest_upper_cap,
        };
        let params = MarketParams {
            atomic_resolution: self.atomic_resolution,
            quantum_conversion_exponent: self.quantum_conversion_exponent,
            subticks_per_tick: u32::try_from(self.subticks_per_tick).unwrap_or_default(),
            step_base_quantums: u64::try_from(self.step_base_quantums).unwrap_or_default(),
        };
        Ok(PerpetualMarketResponse {
            clob_pair_id: self.clob_pair_id,
            ticker: self.ticker,
            status: self.status,
            oracle_price: self.oracle_price,
            price_change_24h: self.price_change_24h,
            volume_24h: self.volume_24h,
            trades_24h: self.trades_24h,
            next_funding_rate: self.next_funding_rate,
            initial_margin_fraction: Numeric::computed(tier.initial_margin_fraction()),
            maintenance_margin_fraction: Numeric::computed(tier.maintenance_margin_fraction()),
            open_interest: self.open_interest,
            atomic_resolution: self.atomic_resolution,
            quantum_conversion_exponent: self.quantum_conversion_exponent,
            tick_size: Numeric::computed(params.tick_size()),
            step_size: Numeric::computed(params.step_size()),
            step_base_quantums: self.step_base_quantums,
            subticks_per_tick: self.subticks_per_tick,
            market_type: self.market_type,
            open_interest_lower_cap: tier.open_interest_lower_cap,
            open_interest_upper_cap: tier.open_interest_upper_cap,
            base_open_interest: self.base_open_interest,
            default_funding_rate_1h: self.default_funding_rate_1h,
        })
    }
}

/// `GET /v4/perpetualMarkets` without a ticker: every market that has a `markets` row, by
/// perpetual id ascending, at most `limit`.
pub async fn perpetual_markets(
    pool: &PgPool,
    limit: u32,
) -> Result<PerpetualMarketsResponse, QueryError> {
    let mut query = QueryBuilder::new(MARKET_ROW_SELECT);
    query.push(" WHERE m.id IS NOT NULL ORDER BY pm.id LIMIT ");
    query.push_bind(i64::from(limit));
    let rows: Vec<MarketRow> = query.build_query_as().fetch_all(pool).await?;
    let mut markets = Vec::with_capacity(rows.len());
    for row in rows {
        let market = row.into_response().map_err(|error| match error {
            // A listed market without its tier is corrupt data, not a missing resource.
            QueryError::NotFound(text) => QueryError::Inconsistent(text),
            other => other,
        })?;
        markets.push((market.ticker.clone(), market));
    }
    Ok(PerpetualMarketsResponse {
        markets: OrderedMap(markets),
    })
}

/// `GET /v4/perpetualMarkets?ticker=…`: exactly that market, or the 404 texts of §4.2.1.
pub async fn perpetual_market(
    pool: &PgPool,
    ticker: &str,
) -> Result<PerpetualMarketsResponse, QueryError> {
    let mut query = QueryBuilder::new(MARKET_ROW_SELECT);
    query.push(" WHERE pm.ticker = ");
    query.push_bind(ticker);
    query.push(" ORDER BY pm.id LIMIT 1");
    let row: Option<MarketRow> = query.build_query_as().fetch_optional(pool).await?;
    let Some(row) = row else {
        return Err(QueryError::NotFound(not_a_perpetual_market(ticker)));
    };
    let market = row.into_response()?;
    Ok(PerpetualMarketsResponse {
        markets: OrderedMap(vec![(market.ticker.clone(), market)]),
    })
}

/// The 404 text for a ticker that is not a perpetual market.
pub fn not_a_perpetual_market(ticker: &str) -> String {
    format!("{ticker} not found in markets of type PERPETUAL")
}
