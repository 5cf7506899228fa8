//! Funding: the funding-index maps behind unsettled funding (serve.md §3.8 items 1–2) and the
//! historical funding endpoint (§4.2.5).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use indexer_domain::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, PgPool, QueryBuilder};
use utoipa::ToSchema;

use crate::json::{IntString, IsoTime, Numeric};
use crate::QueryError;

/// The reference looks for the latest funding index only among updates at most this many blocks
/// before the height ("4 hours of blocks at 1 s per block"); a market without an update in that
/// window maps to 0. Kept identical so derived values match to the last digit.
pub const FUNDING_INDEX_LOOKBACK_BLOCKS: i64 = 14_400;

/// Perpetual id → funding index at one height; markets without an update map to 0.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FundingIndexMap(HashMap<i64, Decimal>);

impl FundingIndexMap {
    pub fn get(&self, perpetual_id: i64) -> Decimal {
        self.0.get(&perpetual_id).cloned().unwrap_or_default()
    }
}

/// Funding-index maps at each of `heights`, in one query.
pub async fn funding_index_maps(
    conn: &mut PgConnection,
    heights: &[i64],
) -> Result<HashMap<i64, FundingIndexMap>, QueryError> {
    let mut unique: Vec<i64> = heights.to_vec();
    unique.sort_unstable();
    unique.dedup();
    let rows: Vec<(i64, i64, Numeric)> = sqlx::query_as(
        r#"SELECT h.height, f."perpetualId", f."fundingIndex"
           FROM unnest($1::bigint[]) AS h(height)
           CROSS JOIN LATERAL (
               SELECT DISTINCT ON ("perpetualId") "perpetualId", "fundingIndex"
               FROM funding_index_updates
               WHERE "effectiveAtHeight" <= h.height AND "effectiveAtHeight" > h.height - $2
               ORDER BY "perpetualId", "effectiveAtHeight" DESC
           ) f"#,
    )
    .bind(&unique)
    .bind(FUNDING_INDEX_LOOKBACK_BLOCKS)
    .fetch_all(conn)
    .await?;
    let mut maps: HashMap<i64, FundingIndexMap> = unique
        .iter()
        .map(|height| (*height, FundingIndexMap::default()))
        .collect();
    for (height, perpetual_id, index) in rows {
        maps.entry(height)
            .or_default()
            .0
            .insert(perpetual_id, index.into_decimal());
    }
    Ok(maps)
}

/// Unsettled funding of an open position: `size × (F_last − F_latest)` (§3.8 item 2).
pub fn unsettled_funding(
    size: &Decimal,
    perpetual_id: i64,
    last_updated: &FundingIndexMap,
    latest: &FundingIndexMap,
) -> Decimal {
    size * &(last_updated.get(perpetual_id) - latest.get(perpetual_id))
}

/// `HistoricalFundingResponseObject`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = HistoricalFundingResponseObject)]
pub struct HistoricalFunding {
    pub ticker: String,
    /// The 1-hour funding rate.
    pub rate: Numeric,
    /// Oracle price at the funding tick.
    pub price: Numeric,
    pub effective_at: IsoTime,
    pub effective_at_height: IntString,
}

/// `{"historicalFunding": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoricalFundingResponse {
    pub historical_funding: Vec<HistoricalFunding>,
}

/// Filters of `GET /v4/historicalFunding/{ticker}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoricalFundingFilter {
    pub limit: u32,
    pub effective_before_or_at_height: Option<i64>,
    pub effective_before_or_at: Option<DateTime<Utc>>,
}

/// Funding ticks of one perpetual, newest first.
pub async fn historical_funding(
    pool: &PgPool,
    perpetual_id: i64,
    ticker: &str,
    filter: &HistoricalFundingFilter,
) -> Result<Vec<HistoricalFunding>, QueryError> {
    let mut query = QueryBuilder::new(
        r#"SELECT rate, "oraclePrice", "effectiveAt", "effectiveAtHeight"
           FROM funding_index_updates WHERE "perpetualId" = "#,
    );
    query.push_bind(perpetual_id);
    if let Some(height) = filter.effective_before_or_at_height {
        query
            .push(r#" AND "effectiveAtHeight" <= "#)
            .push_bind(height);
    }
    if let Some(time) = filter.effective_before_or_at {
        query.push(r#" AND "effectiveAt" <= "#).push_bind(time);
    }
    query.push(r#" ORDER BY "effectiveAtHeight" DESC LIMIT "#);
    query.push_bind(i64::from(filter.limit));
    let rows: Vec<(Numeric, Numeric, IsoTime, IntString)> =
        query.build_query_as().fetch_all(pool).await?;
    Ok(rows
        .into_iter()
        .map(
            |(rate, price, effective_at, effective_at_height)| HistoricalFunding {
                ticker: ticker.to_owned(),
                rate,
                price,
                effective_at,
                effective_at_height,
            },
        )
        .collect())
}
