//! Close-price series of every market (serve.md §4.2.6).

use chrono::{DateTime, Utc};
use indexer_domain::SparklineTimePeriod;
use sqlx::PgPool;

use crate::json::{Numeric, OrderedMap};
use crate::markets::MarketsSnapshot;
use crate::QueryError;

/// `{ticker: [close, ...]}` for every market of the cache (possibly empty), closes newest
/// first. Candles of tickers the cache does not know are skipped (serve.md decision D8).
pub async fn sparklines(
    pool: &PgPool,
    markets: &MarketsSnapshot,
    period: SparklineTimePeriod,
    now: DateTime<Utc>,
) -> Result<OrderedMap<Vec<Numeric>>, QueryError> {
    let rows: Vec<(String, Numeric)> = sqlx::query_as(
        r#"SELECT ticker, close FROM candles
           WHERE resolution = $1 AND "startedAt" >= $2
           ORDER BY "startedAt" DESC"#,
    )
    .bind(period.candle_resolution().as_str())
    .bind(now - period.lookback())
    .fetch_all(pool)
    .await?;
    let mut series: Vec<(String, Vec<Numeric>)> = markets
        .markets()
        .iter()
        .map(|m| (m.ticker.clone(), Vec::new()))
        .collect();
    for (ticker, close) in rows {
        if let Some((_, closes)) = series.iter_mut().find(|(t, _)| *t == ticker) {
            closes.push(close);
        }
    }
    Ok(OrderedMap(series))
}
