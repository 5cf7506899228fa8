//! Every Redis key the indexer reads or writes (ingest.md §7.1), in one place.
//!
//! Keys are exactly the reference's when the prefix is empty (production). Tests set a unique
//! prefix (`REDIS_KEY_PREFIX`) so they can share one Redis server without seeing each other.

/// Builds keys under an optional prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

/// Side of an order-book level hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookSide {
    Buy,
    Sell,
}

impl BookSide {
    pub fn as_str(self) -> &'static str {
        match self {
            BookSide::Buy => "BUY",
            BookSide::Sell => "SELL",
        }
    }
}

impl Keys {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, rest: std::fmt::Arguments<'_>) -> String {
        format!("{}{}", self.prefix, rest)
    }

    /// Roundtable's marker that the Athena tables of RDS export `export_id` were created.
    pub fn research_tables_written(&self, export_id: &str) -> String {
        self.key(format_args!("roundtable/researchTablesWritten/{export_id}"))
    }

    /// Protobuf `RedisOrder` of an open order.
    pub fn order(&self, order_uuid: &str) -> String {
        self.key(format_args!("v4/orders/{order_uuid}"))
    }

    /// `<expiry>_<totalFilledQuantums>_<restingOnBook>` of an open order.
    pub fn order_data(&self, order_uuid: &str) -> String {
        self.key(format_args!("v4/orderData/{order_uuid}"))
    }

    /// Our addition: `<side><immediate><quantums>:<price>` of an open order (e.g.
    /// `1025000000:50000`), written and deleted with the order so the scripts need not decode
    /// the protobuf order on every update (see `scripts/common.lua`).
    pub fn order_book_facts(&self, order_uuid: &str) -> String {
        self.key(format_args!("v4/orderBookFacts/{order_uuid}"))
    }

    /// Hash of open order ids of a subaccount.
    pub fn subaccount_order_ids(&self, subaccount_uuid: &str) -> String {
        self.key(format_args!("v4/subaccountOrderIds/{subaccount_uuid}"))
    }

    /// Sorted set of short-term order ids by good-til-block.
    pub fn order_expiry(&self) -> String {
        self.key(format_args!("v4/orderExpiry"))
    }

    /// Price → total resting quantums of one side of a market.
    pub fn orderbook_levels(&self, ticker: &str, side: BookSide) -> String {
        self.key(format_args!(
            "v4/orderbookLevels/{ticker}/{}",
            side.as_str()
        ))
    }

    /// Price → unix seconds of the last change of that level.
    pub fn orderbook_levels_last_updated(&self, ticker: &str, side: BookSide) -> String {
        self.key(format_args!(
            "v4/orderbookLevels/{ticker}/{}/lastUpdated",
            side.as_str()
        ))
    }

    pub fn cancelled_orders(&self) -> String {
        self.key(format_args!("v4/cancelled_orders"))
    }

    pub fn best_effort_cancelled_orders(&self) -> String {
        self.key(format_args!("v4/best_effort_cancelled_orders"))
    }

    /// On-chain cumulative filled quantums of an order (TTL 300 s), written by ender.
    pub fn state_filled_quantums(&self, order_uuid: &str) -> String {
        self.key(format_args!("v4/state_filled_quantums/{order_uuid}"))
    }

    pub fn stateful_order_update_ids(&self) -> String {
        self.key(format_args!("v4/stateful_order_update_ids"))
    }

    pub fn stateful_order_updates(&self) -> String {
        self.key(format_args!("v4/stateful_order_updates"))
    }

    /// 1-hour premium-sample rates since the last funding tick.
    pub fn next_funding(&self, ticker: &str) -> String {
        self.key(format_args!("v4/nextFunding/{ticker}"))
    }

    pub fn orderbook_mid_prices(&self, ticker: &str) -> String {
        self.key(format_args!("v4/orderbook_mid_prices/{ticker}"))
    }

    pub fn latest_accounts_pnl_tick(&self) -> String {
        self.key(format_args!("v4/latest-accounts-pnl-tick"))
    }

    /// Our addition (beyond.md §1): the order-book channel sequence of a market, incremented in
    /// the same script that changes its levels.
    pub fn orderbook_seq(&self, ticker: &str) -> String {
        self.key(format_args!("v4/orderbookSeq/{ticker}"))
    }

    /// Our addition: the epoch of the Redis-held streams; a new value after Redis is cleared.
    pub fn stream_epoch(&self) -> String {
        self.key(format_args!("v4/streamEpoch"))
    }

    /// Our addition: the sequence of the `v4_subaccounts` messages vulcan publishes for channel
    /// id `<owner>/<number>` (ender numbers its own messages of that channel in Postgres; the two
    /// streams are told apart by the `source` header, see vulcan/README.md).
    pub fn subaccount_vulcan_seq(&self, owner: &str, number: u32) -> String {
        self.key(format_args!("v4/subaccountSeq/{owner}/{number}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_the_reference_catalogue_without_prefix() {
        let k = Keys::default();
        assert_eq!(k.order("abc"), "v4/orders/abc");
        assert_eq!(k.order_data("abc"), "v4/orderData/abc");
        assert_eq!(k.subaccount_order_ids("s"), "v4/subaccountOrderIds/s");
        assert_eq!(
            k.orderbook_levels("BTC-USD", BookSide::Buy),
            "v4/orderbookLevels/BTC-USD/BUY"
        );
        assert_eq!(
            k.orderbook_levels_last_updated("BTC-USD", BookSide::Sell),
            "v4/orderbookLevels/BTC-USD/SELL/lastUpdated"
        );
        assert_eq!(k.cancelled_orders(), "v4/cancelled_orders");
        assert_eq!(k.state_filled_quantums("o"), "v4/state_filled_quantums/o");
        assert_eq!(k.next_funding("ETH-USD"), "v4/nextFunding/ETH-USD");
    }

    #[test]
    fn prefix_is_prepended() {
        assert_eq!(Keys::new("t1:").order_expiry(), "t1:v4/orderExpiry");
    }
}
