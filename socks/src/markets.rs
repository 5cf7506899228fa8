//! The in-memory perpetual-market cache (serve.md §1): ticker validation for subscriptions and
//! clobPairId → ticker for routing Kafka messages, refreshed from Postgres in the background so
//! validation never waits on the database.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sqlx::PgPool;

/// What socks needs to know about one market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketInfo {
    pub ticker: Arc<str>,
    pub atomic_resolution: i32,
}

/// One consistent view of the markets.
#[derive(Debug, Clone, Default)]
pub struct Markets {
    by_clob_pair: HashMap<String, MarketInfo>,
    by_ticker: HashMap<Arc<str>, MarketInfo>,
}

impl Markets {
    /// From `(clobPairId, ticker, atomicResolution)` rows.
    pub fn from_rows(rows: impl IntoIterator<Item = (i64, String, i32)>) -> Self {
        let mut markets = Markets::default();
        for (clob_pair_id, ticker, atomic_resolution) in rows {
            let info = MarketInfo {
                ticker: ticker.into(),
                atomic_resolution,
            };
            markets
                .by_ticker
                .insert(Arc::clone(&info.ticker), info.clone());
            markets.by_clob_pair.insert(clob_pair_id.to_string(), info);
        }
        markets
    }

    pub fn has_ticker(&self, ticker: &str) -> bool {
        self.by_ticker.contains_key(ticker)
    }

    pub fn by_ticker(&self, ticker: &str) -> Option<&MarketInfo> {
        self.by_ticker.get(ticker)
    }

    /// The market of a clobPairId as carried by Kafka messages (decimal string).
    pub fn by_clob_pair(&self, clob_pair_id: &str) -> Option<&MarketInfo> {
        self.by_clob_pair.get(clob_pair_id)
    }

    pub fn tickers(&self) -> HashSet<Arc<str>> {
        self.by_ticker.keys().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.by_ticker.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_ticker.is_empty()
    }
}

/// The shared, refreshable market cache.
#[derive(Debug, Clone, Default)]
pub struct MarketDirectory {
    current: Arc<RwLock<Arc<Markets>>>,
}

impl MarketDirectory {
    pub fn new(markets: Markets) -> Self {
        Self {
            current: Arc::new(RwLock::new(Arc::new(markets))),
        }
    }

    /// The current view (cheap: an `Arc` clone).
    pub fn get(&self) -> Arc<Markets> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn replace(&self, markets: Markets) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(markets);
    }

    /// Reloads from Postgres.
    pub async fn refresh(&self, pool: &PgPool) -> Result<usize, sqlx::Error> {
        let markets = load_markets(pool).await?;
        let count = markets.len();
        self.replace(markets);
        Ok(count)
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

/// Every perpetual market's clobPairId, ticker and atomic resolution.
pub async fn load_markets(pool: &PgPool) -> Result<Markets, sqlx::Error> {
    let rows: Vec<(i64, String, i32)> = sqlx::query_as(
        r#"SELECT "clobPairId", ticker, "atomicResolution" FROM perpetual_markets ORDER BY id"#,
    )
    .fetch_all(pool)
    .await?;
    Ok(Markets::from_rows(rows))
}
