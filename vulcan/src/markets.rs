//! What vulcan knows about markets: per clob pair id, the ticker and the unit parameters from
//! `perpetual_markets` (refreshed every `PERPETUAL_MARKETS_REFRESHER_INTERVAL_MS`, ingest.md §5.1),
//! and the latest block height (refreshed every `BLOCK_HEIGHT_REFRESHER_INTERVAL_MS`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use indexer_domain::{Decimal, MarketParams};
use indexer_store::write::PerpetualMarketRow;

/// One market as vulcan uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Market {
    pub clob_pair_id: u32,
    pub ticker: String,
    pub params: MarketParams,
}

impl Market {
    /// Human price of `subticks` (the level's hash field; rendered by the domain `Decimal`, so
    /// every writer renders a price identically).
    pub fn price(&self, subticks: u64) -> String {
        self.params.price(subticks).to_string()
    }

    /// Human size of `quantums`.
    pub fn size(&self, quantums: u64) -> String {
        self.params.size(quantums).to_string()
    }

    pub fn size_decimal(&self, quantums: u64) -> Decimal {
        self.params.size(quantums)
    }
}

/// Markets by clob pair id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Markets {
    by_clob_pair: HashMap<u32, Arc<Market>>,
}

impl Markets {
    pub fn new(markets: impl IntoIterator<Item = Market>) -> Self {
        Self {
            by_clob_pair: markets
                .into_iter()
                .map(|m| (m.clob_pair_id, Arc::new(m)))
                .collect(),
        }
    }

    /// From `perpetual_markets` rows; rows whose numbers do not fit the protocol types are
    /// skipped with an error log.
    pub fn from_rows(rows: &[PerpetualMarketRow]) -> Self {
        Self::new(rows.iter().filter_map(|row| match market_of(row) {
            Some(market) => Some(market),
            None => {
                tracing::error!(ticker = %row.ticker, clob_pair_id = row.clob_pair_id, "perpetual market row out of range; ignored");
                None
            }
        }))
    }

    pub fn get(&self, clob_pair_id: u32) -> Option<&Arc<Market>> {
        self.by_clob_pair.get(&clob_pair_id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Market>> {
        self.by_clob_pair.values()
    }

    pub fn len(&self) -> usize {
        self.by_clob_pair.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_clob_pair.is_empty()
    }
}

fn market_of(row: &PerpetualMarketRow) -> Option<Market> {
    Some(Market {
        clob_pair_id: u32::try_from(row.clob_pair_id).ok()?,
        ticker: row.ticker.clone(),
        params: MarketParams {
            atomic_resolution: row.atomic_resolution,
            quantum_conversion_exponent: row.quantum_conversion_exponent,
            subticks_per_tick: u32::try_from(row.subticks_per_tick).ok()?,
            step_base_quantums: u64::try_from(row.step_base_quantums).ok()?,
        },
    })
}

/// The shared, periodically replaced market map and latest block height.
#[derive(Debug, Clone, Default)]
pub struct Context {
    markets: Arc<RwLock<Arc<Markets>>>,
    latest_height: Arc<AtomicI64>,
}

const NO_HEIGHT: i64 = -1;

impl Context {
    pub fn new(markets: Markets, latest_height: Option<i64>) -> Self {
        Self {
            markets: Arc::new(RwLock::new(Arc::new(markets))),
            latest_height: Arc::new(AtomicI64::new(latest_height.unwrap_or(NO_HEIGHT))),
        }
    }

    pub fn markets(&self) -> Arc<Markets> {
        Arc::clone(&self.markets.read().expect("markets lock poisoned"))
    }

    pub fn set_markets(&self, markets: Markets) {
        *self.markets.write().expect("markets lock poisoned") = Arc::new(markets);
    }

    /// The latest block height ender committed, if any block exists.
    pub fn latest_height(&self) -> Option<i64> {
        let h = self.latest_height.load(Ordering::Relaxed);
        (h != NO_HEIGHT).then_some(h)
    }

    pub fn set_latest_height(&self, height: Option<i64>) {
        self.latest_height
            .store(height.unwrap_or(NO_HEIGHT), Ordering::Relaxed);
    }
}
