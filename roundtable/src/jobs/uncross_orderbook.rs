//! `uncross_orderbook` (ops.md §1.4 #3): repairs crossed books in Redis.
//!
//! When a market's best bid is at or above its best ask, both sides are walked from the top
//! while they cross; at each step the older of the two levels (by lastUpdated; a tie drops the
//! bid) is chosen for removal. The chosen levels are removed by one atomic script that keeps any
//! level updated within `STALE_ORDERBOOK_LEVEL_THRESHOLD_SECONDS` (fresh levels are never
//! removed) and gives each visible removal the market's next order-book seq.
//!
//! Unlike the reference, which removes levels silently, each removal is announced on
//! `to-websockets-orderbooks` as a size-0 level message carrying that seq and the stream
//! epoch, so live `v4_orderbook` subscribers drop the level too and their seq stays gap-free.

use std::cmp::Ordering;

use async_trait::async_trait;
use indexer_bus::{MessageHeaders, OutgoingMessage, Topic};
use indexer_cache::maintenance::{remove_stale_levels, RemovedLevel};
use indexer_cache::{book_snapshot, BookSide, StoredLevel};
use indexer_domain::Decimal;
use indexer_proto::socks::OrderbookMessage;
use indexer_query::{MarketsSnapshot, PerpetualMarketInfo};
use prost::Message;
use serde_json::json;

use crate::jobs::Deps;
use crate::metrics;
use crate::scheduler::{Job, RunContext};
use crate::JobError;

/// Version of the order-book websocket message.
pub const ORDERBOOK_VERSION: &str = "1.0.0";

/// The crossing levels to remove, by price: the older level of each crossing pair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Uncross {
    pub bids: Vec<String>,
    pub asks: Vec<String>,
}

impl Uncross {
    pub fn is_empty(&self) -> bool {
        self.bids.is_empty() && self.asks.is_empty()
    }
}

struct Level<'a> {
    price: Decimal,
    stored: &'a StoredLevel,
}

fn sorted(levels: &[StoredLevel], descending: bool) -> Vec<Level<'_>> {
    let mut parsed: Vec<Level> = levels
        .iter()
        .filter(|level| level.size_quantums > 0)
        .filter_map(|stored| {
            Decimal::parse(&stored.price)
                .ok()
                .map(|price| Level { price, stored })
        })
        .collect();
    parsed.sort_by(|a, b| {
        let order = a.price.cmp(&b.price);
        if descending {
            order.reverse()
        } else {
            order
        }
    });
    parsed
}

/// Which levels to remove so the book no longer crosses (empty levels ignored): while the best
/// remaining bid is at or above the best remaining ask, the older of the two goes (a tie in
/// lastUpdated takes the bid).
pub fn plan_uncross(bids: &[StoredLevel], asks: &[StoredLevel]) -> Uncross {
    let bids = sorted(bids, true);
    let asks = sorted(asks, false);
    let (mut b, mut a) = (0, 0);
    while let (Some(bid), Some(ask)) = (bids.get(b), asks.get(a)) {
        if bid.price.cmp(&ask.price) == Ordering::Less {
            break;
        }
        if bid.stored.last_updated > ask.stored.last_updated {
            a += 1;
        } else {
            b += 1;
        }
    }
    let prices = |levels: &[Level]| levels.iter().map(|l| l.stored.price.clone()).collect();
    Uncross {
        bids: prices(&bids[..b]),
        asks: prices(&asks[..a]),
    }
}

/// The size-0 level message announcing a removal, with its seq, epoch and channel headers.
pub fn removal_message(
    market: &PerpetualMarketInfo,
    level: &RemovedLevel,
    seq: u64,
    epoch: &str,
) -> OutgoingMessage {
    let side = match level.side {
        BookSide::Buy => "bids",
        BookSide::Sell => "asks",
    };
    let mut contents = serde_json::Map::new();
    contents.insert(side.to_string(), json!([[level.price, "0"]]));
    let message = OrderbookMessage {
        contents: serde_json::Value::Object(contents).to_string(),
        clob_pair_id: market.clob_pair_id.to_string(),
        version: ORDERBOOK_VERSION.to_string(),
    };
    let headers = MessageHeaders::new()
        .with("seq", seq.to_string())
        .with("epoch", epoch)
        .with("channel", format!("v4_orderbook/{}", market.ticker));
    OutgoingMessage::new(None, message.encode_to_vec()).with_headers(headers)
}

pub struct UncrossOrderbook {
    deps: Deps,
    stale_after_seconds: u64,
}

impl UncrossOrderbook {
    pub fn new(deps: Deps, stale_after: std::time::Duration) -> Self {
        Self {
            deps,
            stale_after_seconds: stale_after.as_secs(),
        }
    }

    async fn uncross(&self, market: &PerpetualMarketInfo) -> Result<(), JobError> {
        let book = book_snapshot(&self.deps.cache, &market.ticker).await?;
        let plan = plan_uncross(&book.bids, &book.asks);
        if plan.is_empty() {
            return Ok(());
        }
        let ticker = market.ticker.clone();
        metrics::count_labeled(
            "roundtable_crossed_orderbooks_total",
            "ticker",
            ticker.clone(),
            1,
        );
        let epoch_candidate = uuid::Uuid::new_v4().to_string();
        let removal = remove_stale_levels(
            &self.deps.cache,
            &market.ticker,
            &plan.bids,
            &plan.asks,
            self.stale_after_seconds,
            &epoch_candidate,
        )
        .await?;
        let chosen = plan.bids.len() + plan.asks.len();
        tracing::info!(
            ticker = %market.ticker,
            chosen_bids = ?plan.bids,
            chosen_asks = ?plan.asks,
            removed = removal.removed.len(),
            kept_fresh = chosen - removal.removed.len(),
            "uncrossing order book"
        );
        metrics::count_labeled(
            "roundtable_uncross_levels_removed_total",
            "ticker",
            ticker.clone(),
            removal.removed.len() as u64,
        );
        metrics::count_labeled(
            "roundtable_uncross_levels_kept_fresh_total",
            "ticker",
            ticker,
            (chosen - removal.removed.len()) as u64,
        );
        let messages: Vec<OutgoingMessage> = removal
            .removed
            .iter()
            .filter_map(|level| {
                level
                    .seq
                    .map(|seq| removal_message(market, level, seq, &removal.epoch))
            })
            .collect();
        if !messages.is_empty() {
            self.deps
                .producer
                .send_all(Topic::ToWebsocketsOrderbooks, &messages)
                .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Job for UncrossOrderbook {
    async fn run(&self, _ctx: &RunContext) -> Result<(), JobError> {
        let markets = MarketsSnapshot::load(self.deps.pools.reader()).await?;
        let mut first_error = None;
        for market in markets.markets() {
            // One market's failure does not keep the others crossed.
            if let Err(error) = self.uncross(market).await {
                tracing::warn!(ticker = %market.ticker, %error, "could not uncross the book");
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(price: &str, size: i64, last_updated: i64) -> StoredLevel {
        StoredLevel {
            price: price.into(),
            size_quantums: size,
            last_updated,
        }
    }

    #[test]
    fn an_uncrossed_book_needs_nothing() {
        let plan = plan_uncross(&[level("99", 5, 1)], &[level("100", 5, 1)]);
        assert!(plan.is_empty());
    }

    #[test]
    fn the_older_side_of_each_crossing_pair_goes_and_ties_drop_the_bid() {
        let bids = [
            level("102", 5, 10), // older than ask 100 → removed
            level("101", 5, 30), // newer than ask 100 → ask 100 removed; then vs ask 100.5
            level("99", 5, 1),
        ];
        let asks = [
            level("100", 5, 20),
            level("100.5", 5, 30), // tie with bid 101 → bid 101 removed
            level("103", 5, 1),
        ];
        let plan = plan_uncross(&bids, &asks);
        assert_eq!(plan.bids, vec!["102", "101"]);
        assert_eq!(plan.asks, vec!["100"]);
    }

    #[test]
    fn prices_compare_numerically_and_empty_levels_are_ignored() {
        // "9.5" < "10" numerically although it sorts after it as text.
        let bids = [level("9.5", 5, 1), level("11", 0, 1)];
        let asks = [level("10", 5, 1)];
        assert!(plan_uncross(&bids, &asks).is_empty());
    }

    #[test]
    fn removal_messages_announce_size_zero_with_seq_and_epoch() {
        let market = PerpetualMarketInfo {
            id: 0,
            clob_pair_id: 0,
            ticker: "BTC-USD".into(),
            market_id: 0,
            status: "ACTIVE".into(),
            atomic_resolution: -10,
            quantum_conversion_exponent: -9,
            subticks_per_tick: 100_000,
            step_base_quantums: 1_000_000,
            liquidity_tier_id: 0,
            market_type: "CROSS".into(),
        };
        let removed = RemovedLevel {
            side: BookSide::Sell,
            price: "100.5".into(),
            seq: Some(9),
        };
        let out = removal_message(&market, &removed, 9, "e1");
        let message = OrderbookMessage::decode(out.payload.as_slice()).unwrap();
        assert_eq!(message.contents, r#"{"asks":[["100.5","0"]]}"#);
        assert_eq!(message.clob_pair_id, "0");
        assert_eq!(out.headers.get_str("seq"), Some("9"));
        assert_eq!(out.headers.get_str("epoch"), Some("e1"));
        assert_eq!(out.headers.get_str("channel"), Some("v4_orderbook/BTC-USD"));
        assert_eq!(out.key, None);
    }
}
