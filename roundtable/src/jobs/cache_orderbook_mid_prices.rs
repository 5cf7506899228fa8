//! `cache_orderbook_mid_prices` (ops.md §1.4 #29): samples every market's order-book mid price
//! into `v4/orderbook_mid_prices/<ticker>` (score = unix seconds; samples older than 60 s are
//! dropped). Ender takes the median of these samples for the candles' order-book mid-price
//! fields.
//!
//! The book is read like the REST order book: empty levels dropped, sorted, uncrossed with the
//! read-time rule (`indexer_query::orderbook`). The market list is reloaded every run, so a new
//! market is sampled from its first run on.

use async_trait::async_trait;
use chrono::Utc;
use indexer_cache::book_snapshot;
use indexer_cache::maintenance::add_mid_prices;
use indexer_domain::Decimal;
use indexer_query::orderbook::build_orderbook;
use indexer_query::MarketsSnapshot;

use crate::jobs::Deps;
use crate::scheduler::{Job, RunContext};
use crate::JobError;

/// (best bid + best ask) / 2, exact; `None` when a side is empty or a price is unparsable.
pub fn mid_price(best_bid: Option<&str>, best_ask: Option<&str>) -> Option<String> {
    let bid = Decimal::parse(best_bid?).ok()?;
    let ask = Decimal::parse(best_ask?).ok()?;
    let half = Decimal::parse("0.5").expect("constant");
    Some(((bid + ask) * half).trim().to_string())
}

pub struct CacheOrderbookMidPrices {
    deps: Deps,
}

impl CacheOrderbookMidPrices {
    pub fn new(deps: Deps) -> Self {
        Self { deps }
    }
}

#[async_trait]
impl Job for CacheOrderbookMidPrices {
    async fn run(&self, _ctx: &RunContext) -> Result<(), JobError> {
        let markets = MarketsSnapshot::load(self.deps.pools.reader()).await?;
        let mut samples = Vec::new();
        for market in markets.markets() {
            let snapshot = book_snapshot(&self.deps.cache, &market.ticker).await?;
            let top = build_orderbook(snapshot, &market.params(), 1);
            let bid = top.bids.first().map(|level| level.price.as_str());
            let ask = top.asks.first().map(|level| level.price.as_str());
            match mid_price(bid, ask) {
                Some(mid) => samples.push((market.ticker.clone(), mid)),
                None => tracing::debug!(ticker = %market.ticker, "no mid price (a side is empty)"),
            }
        }
        add_mid_prices(&self.deps.cache, &samples, Utc::now().timestamp()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mid_price_is_exact_and_needs_both_sides() {
        assert_eq!(
            mid_price(Some("100"), Some("101")).as_deref(),
            Some("100.5")
        );
        assert_eq!(
            mid_price(Some("0.00001"), Some("0.00002")).as_deref(),
            Some("0.000015")
        );
        assert_eq!(mid_price(Some("100"), None), None);
        assert_eq!(mid_price(None, Some("100")), None);
    }
}
