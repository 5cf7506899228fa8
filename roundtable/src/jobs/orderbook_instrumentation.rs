//! `orderbook_instrumentation` (ops.md §1.4 #6): order-book gauges per market, for dashboards and
//! the "order book crossed" alert. Metrics only.
//!
//! For every market, from one atomic read of its book: the number of non-empty levels per side,
//! the best bid and ask, and the spread (best ask − best bid; negative = crossed), both as stored
//! (`view="raw"`) and as served after read-time uncrossing (`view="uncrossed"`). The prices are
//! floating-point gauges: they are for graphs, nothing is computed from them.

use async_trait::async_trait;
use indexer_cache::book_snapshot;
use indexer_domain::Decimal;
use indexer_query::orderbook::build_orderbook;
use indexer_query::MarketsSnapshot;

use crate::jobs::Deps;
use crate::scheduler::{Job, RunContext};
use crate::JobError;

/// Top of one view of a book.
#[derive(Debug, Clone, PartialEq)]
pub struct BookTop {
    pub bid_levels: usize,
    pub ask_levels: usize,
    pub best_bid: Option<Decimal>,
    pub best_ask: Option<Decimal>,
}

impl BookTop {
    /// Best ask − best bid, when both exist.
    pub fn spread(&self) -> Option<Decimal> {
        Some(self.best_ask.clone()? - self.best_bid.clone()?)
    }
}

/// The raw view: non-empty stored levels, best prices by numeric order.
pub fn raw_top(
    bids: &[indexer_cache::StoredLevel],
    asks: &[indexer_cache::StoredLevel],
) -> BookTop {
    let prices = |levels: &[indexer_cache::StoredLevel]| -> Vec<Decimal> {
        levels
            .iter()
            .filter(|l| l.size_quantums > 0)
            .filter_map(|l| Decimal::parse(&l.price).ok())
            .collect()
    };
    let (bids, asks) = (prices(bids), prices(asks));
    BookTop {
        bid_levels: bids.len(),
        ask_levels: asks.len(),
        best_bid: bids.iter().max().cloned(),
        best_ask: asks.iter().min().cloned(),
    }
}

fn as_f64(value: &Decimal) -> f64 {
    value.to_string().parse().unwrap_or(f64::NAN)
}

fn export(ticker: &str, view: &'static str, top: &BookTop) {
    use metrics::Label;
    let labels = |side: Option<&'static str>| {
        let mut labels = vec![
            Label::new("ticker", ticker.to_string()),
            Label::new("view", view),
        ];
        labels.extend(side.map(|side| Label::new("side", side)));
        labels
    };
    metrics::gauge!("roundtable_orderbook_levels", labels(Some("bid"))).set(top.bid_levels as f64);
    metrics::gauge!("roundtable_orderbook_levels", labels(Some("ask"))).set(top.ask_levels as f64);
    if let Some(bid) = &top.best_bid {
        metrics::gauge!("roundtable_orderbook_best_price", labels(Some("bid"))).set(as_f64(bid));
    }
    if let Some(ask) = &top.best_ask {
        metrics::gauge!("roundtable_orderbook_best_price", labels(Some("ask"))).set(as_f64(ask));
    }
    if let Some(spread) = top.spread() {
        metrics::gauge!("roundtable_orderbook_spread", labels(None)).set(as_f64(&spread));
    }
}

pub struct OrderbookInstrumentation {
    deps: Deps,
}

impl OrderbookInstrumentation {
    pub fn new(deps: Deps) -> Self {
        Self { deps }
    }
}

#[async_trait]
impl Job for OrderbookInstrumentation {
    async fn run(&self, _ctx: &RunContext) -> Result<(), JobError> {
        let markets = MarketsSnapshot::load(self.deps.pools.reader()).await?;
        for market in markets.markets() {
            let snapshot = book_snapshot(&self.deps.cache, &market.ticker).await?;
            let raw = raw_top(&snapshot.bids, &snapshot.asks);
            let served = build_orderbook(snapshot, &market.params(), usize::MAX);
            let uncrossed = BookTop {
                bid_levels: served.bids.len(),
                ask_levels: served.asks.len(),
                best_bid: served
                    .bids
                    .first()
                    .and_then(|l| Decimal::parse(&l.price).ok()),
                best_ask: served
                    .asks
                    .first()
                    .and_then(|l| Decimal::parse(&l.price).ok()),
            };
            if raw.spread().is_some_and(|s| !s.is_positive()) {
                tracing::info!(ticker = %market.ticker, best_bid = ?raw.best_bid, best_ask = ?raw.best_ask, "order book crossed");
            }
            export(&market.ticker, "raw", &raw);
            export(&market.ticker, "uncrossed", &uncrossed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexer_cache::StoredLevel;

    fn level(price: &str, size: i64) -> StoredLevel {
        StoredLevel {
            price: price.into(),
            size_quantums: size,
            last_updated: 1,
        }
    }

    #[test]
    fn the_raw_view_shows_a_crossed_book_as_a_negative_spread() {
        let top = raw_top(
            &[level("9.5", 1), level("10.5", 1), level("11", 0)],
            &[level("10", 1), level("12", 1)],
        );
        assert_eq!((top.bid_levels, top.ask_levels), (2, 2));
        assert_eq!(top.best_bid, Some(Decimal::parse("10.5").unwrap()));
        assert_eq!(top.spread(), Some(Decimal::parse("-0.5").unwrap()));
    }
}
