//! `delete_zero_price_levels` (ops.md §1.4 #2): deletes empty price levels (size 0) of every
//! market's book from the level hashes and their lastUpdated companions, each side in one atomic
//! script. Readers already skip empty levels, so clients see no change and no order-book seq is
//! taken; the job keeps the hashes small. (Our vulcan deletes a level the moment it empties, so
//! this mostly finds levels left by older writers.)
//!
//! Reads: `perpetual_markets` (the market list, every run). Redis: `v4/orderbookLevels/...`.

use async_trait::async_trait;
use indexer_cache::maintenance::prune_zero_levels;
use indexer_cache::BookSide;
use indexer_query::MarketsSnapshot;

use crate::jobs::Deps;
use crate::metrics;
use crate::scheduler::{Job, RunContext};
use crate::JobError;

pub struct DeleteZeroPriceLevels {
    deps: Deps,
}

impl DeleteZeroPriceLevels {
    pub fn new(deps: Deps) -> Self {
        Self { deps }
    }
}

#[async_trait]
impl Job for DeleteZeroPriceLevels {
    async fn run(&self, _ctx: &RunContext) -> Result<(), JobError> {
        let markets = MarketsSnapshot::load(self.deps.pools.reader()).await?;
        let mut deleted = 0;
        for market in markets.markets() {
            for side in [BookSide::Buy, BookSide::Sell] {
                deleted += prune_zero_levels(&self.deps.cache, &market.ticker, side).await?;
            }
        }
        if deleted > 0 {
            tracing::info!(deleted, "empty price levels deleted");
        }
        metrics::count("roundtable_zero_price_levels_deleted_total", deleted);
        Ok(())
    }
}
