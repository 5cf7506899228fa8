//! The in-memory perpetual-market cache (serve.md §1): ticker validation for subscriptions and
//! clobPairId → ticker for routing Kafka messages, refreshed from Postgres in the background so
//! validation never waits on the database. It is the query library's [`MarketCache`], the same
//! one comlink uses, so snapshots and routing see the same markets.

use std::sync::Arc;
use std::time::Duration;

use indexer_query::{MarketCache, MarketsSnapshot, PerpetualMarketInfo, QueryError};
use sqlx::PgPool;

/// One consistent view of the markets.
#[derive(Debug, Clone, Default)]
pub struct Markets(Arc<MarketsSnapshot>);

impl Markets {
    /// From `(clobPairId, ticker, atomicResolution)` (tests; the other parameters are typical).
    pub fn from_rows(rows: impl IntoIterator<Item = (i64, String, i32)>) -> Self {
        Markets(Arc::new(snapshot_from_rows(rows)))
    }

    pub fn has_ticker(&self, ticker: &str) -> bool {
        self.0.by_ticker(ticker).is_some()
    }

    pub fn by_ticker(&self, ticker: &str) -> Option<&PerpetualMarketInfo> {
        self.0.by_ticker(ticker).map(|m| &**m)
    }

    /// The market of a clobPairId as carried by Kafka messages (decimal string).
    pub fn by_clob_pair(&self, clob_pair_id: &str) -> Option<&PerpetualMarketInfo> {
        let id: i64 = clob_pair_id.trim().parse().ok()?;
        self.0.by_clob_pair_id(id).map(|m| &**m)
    }

    /// The query library's view, for its read functions.
    pub fn snapshot(&self) -> &MarketsSnapshot {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.markets().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn snapshot_from_rows(rows: impl IntoIterator<Item = (i64, String, i32)>) -> MarketsSnapshot {
    let markets = rows
        .into_iter()
        .enumerate()
        .map(
            |(index, (clob_pair_id, ticker, atomic_resolution))| PerpetualMarketInfo {
                id: index as i64,
                clob_pair_id,
                ticker,
                market_id: index as i32,
                status: "ACTIVE".into(),
                atomic_resolution,
                quantum_conversion_exponent: -9,
                subticks_per_tick: 10_000,
                step_base_quantums: 1_000_000,
                liquidity_tier_id: 0,
                market_type: "CROSS".into(),
            },
        )
        .collect();
    MarketsSnapshot::new(markets, Vec::new())
}

/// The shared, refreshable market cache.
#[derive(Clone)]
pub struct MarketDirectory {
    cache: Arc<MarketCache>,
}

impl Default for MarketDirectory {
    fn default() -> Self {
        Self {
            cache: Arc::new(MarketCache::from_snapshot(MarketsSnapshot::default())),
        }
    }
}

impl MarketDirectory {
    /// A cache holding these markets until the first refresh (benchmarks, tools).
    pub fn from_rows(rows: impl IntoIterator<Item = (i64, String, i32)>) -> Self {
        Self {
            cache: Arc::new(MarketCache::from_snapshot(snapshot_from_rows(rows))),
        }
    }

    /// The current view (cheap: an `Arc` clone).
    pub fn get(&self) -> Markets {
        Markets(self.cache.snapshot())
    }

    /// Reloads from Postgres; returns the number of markets.
    pub async fn refresh(&self, pool: &PgPool) -> Result<usize, QueryError> {
        Ok(self.cache.refresh(pool).await?.markets().len())
    }

    /// Refreshes every `interval` until the task is dropped; failures are logged and retried at
    /// the next tick (the previous view stays in use).
    pub async fn refresh_every(self, pool: PgPool, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(error) = self.refresh(&pool).await {
                tracing::warn!(%error, "could not refresh the perpetual-market cache");
            }
        }
    }
}
