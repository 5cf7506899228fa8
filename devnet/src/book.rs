//! One market's limit order book with price-time priority, as a full node's in-memory clob keeps
//! it: orders rest at their limit price in arrival order; an incoming order matches the best
//! opposite prices first (earliest order first within a price) at the maker's price, and what is
//! left of it may rest. The book never stays crossed: [`OrderBook::take`] consumes every maker an
//! order crosses before anything of it rests.

use std::collections::{BTreeMap, VecDeque};

use indexer_proto::protocol::v1::{indexer_order::GoodTilOneof, IndexerOrder, IndexerOrderId};

pub const SIDE_BUY: i32 = 1;
pub const SIDE_SELL: i32 = 2;

/// An order waiting on the book.
#[derive(Debug, Clone, PartialEq)]
pub struct RestingOrder {
    pub order: IndexerOrder,
    /// Index of the owning account in the chain's account list.
    pub account: usize,
    /// Base quantums already filled (cumulative, as `total_filled` in fills and updates).
    pub filled: u64,
}

impl RestingOrder {
    pub fn remaining(&self) -> u64 {
        self.order.quantums - self.filled
    }

    pub fn id(&self) -> &IndexerOrderId {
        self.order.order_id.as_ref().expect("orders carry their id")
    }

    pub fn is_stateful(&self) -> bool {
        self.id().order_flags != 0
    }
}

/// One maker consumed (partly or fully) by an incoming order.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub maker: RestingOrder,
    /// Base quantums of this match.
    pub fill: u64,
    /// True if the match emptied the maker, which left the book.
    pub maker_done: bool,
}

/// What an incoming order did to the book.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Taken {
    pub matches: Vec<Match>,
    /// Makers of the incoming order's own account that stood in its way: removed, as the
    /// protocol removes them (self-trade).
    pub self_trade_removals: Vec<RestingOrder>,
    /// Base quantums of the incoming order left unmatched.
    pub remaining: u64,
}

/// Bids and asks of one market, by price in subticks, each level in arrival order.
#[derive(Debug, Default, Clone)]
pub struct OrderBook {
    bids: BTreeMap<u64, VecDeque<RestingOrder>>,
    asks: BTreeMap<u64, VecDeque<RestingOrder>>,
}

impl OrderBook {
    pub fn best_bid(&self) -> Option<u64> {
        self.bids.keys().next_back().copied()
    }

    pub fn best_ask(&self) -> Option<u64> {
        self.asks.keys().next().copied()
    }

    /// True if the best bid reaches the best ask (never the case between calls).
    pub fn is_crossed(&self) -> bool {
        matches!((self.best_bid(), self.best_ask()), (Some(bid), Some(ask)) if bid >= ask)
    }

    /// Every resting order, bids from the best down then asks from the best up.
    pub fn orders(&self) -> impl Iterator<Item = &RestingOrder> {
        self.bids
            .values()
            .rev()
            .flatten()
            .chain(self.asks.values().flatten())
    }

    pub fn len(&self) -> usize {
        self.orders().count()
    }

    pub fn is_empty(&self) -> bool {
        self.bids.is_empty() && self.asks.is_empty()
    }

    /// Total remaining size at each price of one side, best price first.
    pub fn levels(&self, side: i32) -> Vec<(u64, u64)> {
        let total = |(price, queue): (&u64, &VecDeque<RestingOrder>)| {
            (*price, queue.iter().map(RestingOrder::remaining).sum())
        };
        if side == SIDE_BUY {
            self.bids.iter().rev().map(total).collect()
        } else {
            self.asks.iter().map(total).collect()
        }
    }

    /// Matches an incoming order of `account` on `side` up to `limit` subticks (inclusive) for
    /// `quantums`, against the best opposite prices first.
    pub fn take(&mut self, account: usize, side: i32, limit: u64, quantums: u64) -> Taken {
        let mut taken = Taken {
            remaining: quantums,
            ..Taken::default()
        };
        while taken.remaining > 0 {
            let Some(price) = self.best_crossing(side, limit) else {
                break;
            };
            let opposite = self.side_mut(opposite(side));
            let queue = opposite.get_mut(&price).expect("best price has a level");
            let maker = queue.front_mut().expect("levels are never empty");
            if maker.account == account {
                let removed = queue.pop_front().expect("front exists");
                taken.self_trade_removals.push(removed);
            } else {
                let fill = taken.remaining.min(maker.remaining());
                maker.filled += fill;
                taken.remaining -= fill;
                let maker_done = maker.remaining() == 0;
                let snapshot = maker.clone();
                if maker_done {
                    queue.pop_front();
                }
                taken.matches.push(Match {
                    maker: snapshot,
                    fill,
                    maker_done,
                });
            }
            if queue.is_empty() {
                opposite.remove(&price);
            }
        }
        taken
    }

    /// Puts an order on the book behind the orders already at its price.
    ///
    /// # Panics
    /// If the order would cross the book (callers `take` first) or has nothing left.
    pub fn rest(&mut self, order: RestingOrder) {
        assert!(order.remaining() > 0, "a resting order has size left");
        let side = order.order.side;
        assert!(
            self.best_crossing(side, order.order.subticks).is_none(),
            "a resting order never crosses"
        );
        self.side_mut(side)
            .entry(order.order.subticks)
            .or_default()
            .push_back(order);
    }

    /// Takes an order off the book by id.
    pub fn remove(&mut self, id: &IndexerOrderId) -> Option<RestingOrder> {
        for book_side in [&mut self.bids, &mut self.asks] {
            let found = book_side.iter_mut().find_map(|(price, queue)| {
                let at = queue.iter().position(|o| o.id() == id)?;
                Some((*price, at))
            });
            if let Some((price, at)) = found {
                let queue = book_side.get_mut(&price).expect("found above");
                let removed = queue.remove(at);
                if queue.is_empty() {
                    book_side.remove(&price);
                }
                return removed;
            }
        }
        None
    }

    /// Removes and returns the orders `expired` says are past their good-til, in book order.
    pub fn remove_where(&mut self, expired: impl Fn(&RestingOrder) -> bool) -> Vec<RestingOrder> {
        let mut removed = Vec::new();
        for book_side in [&mut self.bids, &mut self.asks] {
            for queue in book_side.values_mut() {
                let (gone, kept): (VecDeque<_>, VecDeque<_>) =
                    queue.drain(..).partition(|o| expired(o));
                removed.extend(gone);
                *queue = kept;
            }
            book_side.retain(|_, queue| !queue.is_empty());
        }
        removed
    }

    fn best_crossing(&self, side: i32, limit: u64) -> Option<u64> {
        if side == SIDE_BUY {
            self.best_ask().filter(|ask| *ask <= limit)
        } else {
            self.best_bid().filter(|bid| *bid >= limit)
        }
    }

    fn side_mut(&mut self, side: i32) -> &mut BTreeMap<u64, VecDeque<RestingOrder>> {
        if side == SIDE_BUY {
            &mut self.bids
        } else {
            &mut self.asks
        }
    }
}

pub fn opposite(side: i32) -> i32 {
    if side == SIDE_BUY {
        SIDE_SELL
    } else {
        SIDE_BUY
    }
}

/// Short-term orders expire by block height, stateful ones by block time.
pub fn expired_at(order: &IndexerOrder, height: u32, time_secs: i64) -> bool {
    match order.good_til_oneof {
        Some(GoodTilOneof::GoodTilBlock(block)) => block < height,
        Some(GoodTilOneof::GoodTilBlockTime(time)) => i64::from(time) < time_secs,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexer_proto::protocol::v1::IndexerSubaccountId;

    fn order(
        account: usize,
        client_id: u32,
        side: i32,
        subticks: u64,
        quantums: u64,
    ) -> RestingOrder {
        RestingOrder {
            order: IndexerOrder {
                order_id: Some(IndexerOrderId {
                    subaccount_id: Some(IndexerSubaccountId {
                        owner: format!("owner{account}"),
                        number: 0,
                    }),
                    client_id,
                    order_flags: 0,
                    clob_pair_id: 0,
                }),
                side,
                quantums,
                subticks,
                good_til_oneof: Some(GoodTilOneof::GoodTilBlock(10)),
                ..Default::default()
            },
            account,
            filled: 0,
        }
    }

    #[test]
    fn matches_best_price_first_then_earliest_order_at_the_maker_price() {
        let mut book = OrderBook::default();
        book.rest(order(1, 1, SIDE_SELL, 101, 5));
        book.rest(order(2, 2, SIDE_SELL, 100, 5));
        book.rest(order(3, 3, SIDE_SELL, 100, 5));
        let taken = book.take(0, SIDE_BUY, 101, 12);
        let fills: Vec<(u32, u64, u64)> = taken
            .matches
            .iter()
            .map(|m| (m.maker.id().client_id, m.maker.order.subticks, m.fill))
            .collect();
        assert_eq!(fills, [(2, 100, 5), (3, 100, 5), (1, 101, 2)]);
        assert_eq!(taken.remaining, 0);
        assert_eq!(book.levels(SIDE_SELL), [(101, 3)]);
    }

    #[test]
    fn an_order_stops_at_its_limit_and_own_orders_are_removed_not_matched() {
        let mut book = OrderBook::default();
        book.rest(order(0, 1, SIDE_BUY, 99, 5));
        book.rest(order(1, 2, SIDE_BUY, 98, 5));
        book.rest(order(2, 3, SIDE_BUY, 97, 5));
        let taken = book.take(0, SIDE_SELL, 98, 20);
        assert_eq!(taken.self_trade_removals.len(), 1);
        assert_eq!(taken.matches.len(), 1);
        assert_eq!(taken.remaining, 15);
        assert_eq!(book.best_bid(), Some(97));
        assert!(!book.is_crossed());
    }

    #[test]
    fn remove_and_expiry_take_orders_off_their_levels() {
        let mut book = OrderBook::default();
        book.rest(order(0, 1, SIDE_BUY, 99, 5));
        book.rest(order(1, 2, SIDE_SELL, 101, 5));
        let id = book.orders().next().unwrap().id().clone();
        assert!(book.remove(&id).is_some());
        assert_eq!(book.len(), 1);
        let gone = book.remove_where(|o| expired_at(&o.order, 11, 0));
        assert_eq!(gone.len(), 1);
        assert!(book.is_empty());
    }
}
