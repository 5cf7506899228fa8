//! The L2 order book snapshot (serve.md §4.2.2) built from vulcan's level hashes in Redis.
//!
//! The levels and the order-book seq come from one atomic Redis read
//! ([`indexer_cache::book_snapshot`]), so socks can send this snapshot with the seq it reflects
//! (beyond.md §1). Building the response from the stored levels is a pure function.

use std::cmp::Ordering;

use indexer_cache::{book_snapshot, BookSnapshot, Cache, StoredLevel};
use indexer_domain::{Decimal, MarketParams};
use serde::Serialize;
use utoipa::ToSchema;

use crate::json::Numeric;
use crate::markets::PerpetualMarketInfo;
use crate::QueryError;

/// Levels per side returned by REST (`API_ORDERBOOK_LEVELS_PER_SIDE_LIMIT`).
pub const LEVELS_PER_SIDE: usize = 100;

/// `OrderbookResponsePriceLevel`: human price (as stored) and human size.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = OrderbookResponsePriceLevel)]
pub struct OrderbookLevel {
    pub price: String,
    pub size: Numeric,
}

/// `{"bids": [...], "asks": [...]}`: bids by price descending, asks ascending.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
#[schema(as = OrderbookResponseObject)]
pub struct OrderbookResponse {
    pub bids: Vec<OrderbookLevel>,
    pub asks: Vec<OrderbookLevel>,
}

/// The response together with the order-book seq and stream epoch it reflects.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderbookSnapshot {
    pub book: OrderbookResponse,
    pub seq: u64,
    pub epoch: Option<String>,
}

/// Reads the market's book from Redis and renders at most `levels_per_side` levels per side.
pub async fn orderbook(
    cache: &Cache,
    market: &PerpetualMarketInfo,
    levels_per_side: usize,
) -> Result<OrderbookSnapshot, QueryError> {
    let snapshot = book_snapshot(cache, &market.ticker).await?;
    let seq = snapshot.seq;
    let epoch = snapshot.epoch.clone();
    Ok(OrderbookSnapshot {
        book: build_orderbook(snapshot, &market.params(), levels_per_side),
        seq,
        epoch,
    })
}

/// A stored level with its price parsed for numeric comparison.
struct Level {
    price: Decimal,
    stored: StoredLevel,
}

/// Drops empty levels, sorts, uncrosses, keeps `levels_per_side` per side and converts sizes to
/// human units.
pub fn build_orderbook(
    snapshot: BookSnapshot,
    params: &MarketParams,
    levels_per_side: usize,
) -> OrderbookResponse {
    let mut bids = positive_levels(snapshot.bids);
    let mut asks = positive_levels(snapshot.asks);
    bids.sort_by(|a, b| b.price.cmp(&a.price));
    asks.sort_by(|a, b| a.price.cmp(&b.price));
    uncross(&mut bids, &mut asks);
    let render = |levels: Vec<Level>| {
        levels
            .into_iter()
            .take(levels_per_side)
            .map(|level| OrderbookLevel {
                size: Numeric::computed(params.size(level.stored.size_quantums)),
                price: level.stored.price,
            })
            .collect()
    };
    OrderbookResponse {
        bids: render(bids),
        asks: render(asks),
    }
}

fn positive_levels(levels: Vec<StoredLevel>) -> Vec<Level> {
    levels
        .into_iter()
        .filter(|level| level.size_quantums > 0)
        .filter_map(|stored| match Decimal::parse(&stored.price) {
            Ok(price) => Some(Level { price, stored }),
            Err(_) => {
                tracing::warn!(price = %stored.price, "order-book level with an unparsable price; ignored");
                None
            }
        })
        .collect()
}

/// While the best bid is at or above the best ask, drop one of them: the ask when the bid
/// changed more recently or is larger, otherwise the bid (a full tie keeps the ask).
fn uncross(bids: &mut Vec<Level>, asks: &mut Vec<Level>) {
    let (mut bid_index, mut ask_index) = (0, 0);
    while let (Some(bid), Some(ask)) = (bids.get(bid_index), asks.get(ask_index)) {
        if bid.price.cmp(&ask.price) == Ordering::Less {
            break;
        }
        let bid_wins = bid.stored.last_updated > ask.stored.last_updated
            || bid.stored.size_quantums > ask.stored.size_quantums;
        if bid_wins {
            ask_index += 1;
        } else {
            bid_index += 1;
        }
    }
    bids.drain(..bid_index);
    asks.drain(..ask_index);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(price: &str, size_quantums: i64, last_updated: i64) -> StoredLevel {
        StoredLevel {
            price: price.to_owned(),
            size_quantums,
            last_updated,
        }
    }

    fn btc() -> MarketParams {
        MarketParams {
            atomic_resolution: -10,
            quantum_conversion_exponent: -9,
            subticks_per_tick: 100_000,
            step_base_quantums: 1_000_000,
        }
    }

    fn book(bids: Vec<StoredLevel>, asks: Vec<StoredLevel>) -> OrderbookResponse {
        let snapshot = BookSnapshot {
            bids,
            asks,
            seq: 0,
            epoch: None,
        };
        build_orderbook(snapshot, &btc(), LEVELS_PER_SIDE)
    }

    fn prices(levels: &[OrderbookLevel]) -> Vec<&str> {
        levels.iter().map(|l| l.price.as_str()).collect()
    }

    #[test]
    fn sorts_numerically_drops_empty_levels_and_converts_sizes() {
        let response = book(
            vec![
                level("9", 5_000_000_000, 1),
                level("10", 12_345_000_000, 1),
                level("8", 0, 1),
            ],
            vec![level("100", 10_000_000_000, 1), level("11", -5, 1)],
        );
        assert_eq!(prices(&response.bids), ["10", "9"]);
        assert_eq!(response.bids[0].size.to_string(), "1.2345");
        assert_eq!(prices(&response.asks), ["100"]);
        assert_eq!(response.asks[0].size.to_string(), "1");
    }

    #[test]
    fn crossed_levels_keep_the_newer_or_larger_side_and_a_tie_keeps_the_ask() {
        // Bid newer than ask: the ask goes.
        let response = book(
            vec![level("101", 1, 20)],
            vec![level("100", 1, 10), level("102", 1, 1)],
        );
        assert_eq!(prices(&response.bids), ["101"]);
        assert_eq!(prices(&response.asks), ["102"]);
        // Bid older but larger: the ask goes.
        let response = book(vec![level("101", 9, 1)], vec![level("100", 1, 10)]);
        assert_eq!(prices(&response.bids), ["101"]);
        assert!(response.asks.is_empty());
        // Full tie at the same price: the bid goes.
        let response = book(
            vec![level("100", 1, 5), level("99", 1, 5)],
            vec![level("100", 1, 5)],
        );
        assert_eq!(prices(&response.bids), ["99"]);
        assert_eq!(prices(&response.asks), ["100"]);
    }

    #[test]
    fn keeps_at_most_the_requested_levels_per_side() {
        let bids = (1..=150).map(|p| level(&p.to_string(), 1, 1)).collect();
        let snapshot = BookSnapshot {
            bids,
            asks: vec![],
            seq: 3,
            epoch: None,
        };
        let response = build_orderbook(snapshot, &btc(), 100);
        assert_eq!(response.bids.len(), 100);
        assert_eq!(response.bids[0].price, "150");
        assert_eq!(response.bids[99].price, "51");
    }
}
