//! OHLCV candles (serve.md §4.2.4).

use chrono::{DateTime, Utc};
use indexer_domain::CandleResolution;
use serde::Serialize;
use sqlx::{PgPool, QueryBuilder};
use utoipa::ToSchema;

use crate::json::{IsoTime, Numeric};
use crate::QueryError;

/// `CandleResponseObject` (a `candles` row without its id).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
#[sqlx(rename_all = "camelCase")]
#[schema(as = CandleResponseObject)]
pub struct Candle {
    pub started_at: IsoTime,
    pub ticker: String,
    #[schema(schema_with = crate::json::enums::candle_resolution)]
    pub resolution: String,
    pub low: Numeric,
    pub high: Numeric,
    pub open: Numeric,
    pub close: Numeric,
    pub base_token_volume: Numeric,
    pub usd_volume: Numeric,
    pub trades: i32,
    pub starting_open_interest: Numeric,
    pub orderbook_mid_price_open: Option<Numeric>,
    pub orderbook_mid_price_close: Option<Numeric>,
}

/// `{"candles": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CandlesResponse {
    pub candles: Vec<Candle>,
}

/// Filters of `GET /v4/candles/perpetualMarkets/{ticker}`.
#[derive(Debug, Clone, PartialEq)]
pub struct CandlesFilter {
    pub resolution: CandleResolution,
    pub limit: u32,
    /// Inclusive lower bound on `startedAt`.
    pub from_iso: Option<DateTime<Utc>>,
    /// Exclusive upper bound on `startedAt`.
    pub to_iso: Option<DateTime<Utc>>,
}

/// Candles of one market and resolution, newest first (the first may still be in progress).
pub async fn candles(
    pool: &PgPool,
    ticker: &str,
    filter: &CandlesFilter,
) -> Result<Vec<Candle>, QueryError> {
    let mut query = QueryBuilder::new(
        r#"SELECT "startedAt", ticker, resolution, low, high, open, close, "baseTokenVolume",
                  "usdVolume", trades, "startingOpenInterest", "orderbookMidPriceOpen",
                  "orderbookMidPriceClose"
           FROM candles WHERE ticker = "#,
    );
    query.push_bind(ticker);
    query
        .push(" AND resolution = ")
        .push_bind(filter.resolution.as_str());
    if let Some(from) = filter.from_iso {
        query.push(r#" AND "startedAt" >= "#).push_bind(from);
    }
    if let Some(to) = filter.to_iso {
        query.push(r#" AND "startedAt" < "#).push_bind(to);
    }
    query.push(r#" ORDER BY "startedAt" DESC LIMIT "#);
    query.push_bind(i64::from(filter.limit));
    Ok(query.build_query_as().fetch_all(pool).await?)
}
