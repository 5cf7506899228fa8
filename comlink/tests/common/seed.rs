//! Test data. Every Postgres row is written here, and only here, with plain SQL in the schema of
//! ingest.md §6 (ender's block processing can replace these bodies without touching the tests).
//! Open orders go through vulcan's real Redis script (`indexer_cache::apply_order_ops`); order-book
//! levels are written to the documented level hashes (ingest.md §7.2) directly.

use chrono::{DateTime, TimeZone, Utc};
use indexer_cache::orders::{BookFacts, OrderOp, PlaceOrder};
use indexer_cache::Cache;
use indexer_domain::ids::{order_uuid, subaccount_uuid};
use indexer_domain::EventId;
use indexer_proto::protocol::v1::indexer_order::GoodTilOneof;
use indexer_proto::protocol::v1::{IndexerOrder, IndexerOrderId, IndexerSubaccountId};
use indexer_proto::redis::RedisOrder;
use prost::Message;
use sqlx::PgPool;
use uuid::Uuid;

/// `2024-05-01T00:00:00Z` plus `seconds`.
pub fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_714_521_600 + seconds, 0).unwrap()
}

/// Block time of `height` in these fixtures: one block per second.
pub fn block_time(height: i64) -> DateTime<Utc> {
    at(height)
}

/// Writes fixture rows.
pub struct Seed<'a> {
    pub pool: &'a PgPool,
}

/// A perpetual market with its oracle market and liquidity tier.
pub struct MarketSeed<'a> {
    pub perpetual_id: i64,
    pub ticker: &'a str,
    pub oracle_price: Option<&'a str>,
    pub atomic_resolution: i32,
    pub initial_margin_ppm: i64,
    pub maintenance_fraction_ppm: i64,
}

/// A perpetual position row.
pub struct PositionSeed<'a> {
    pub subaccount: Uuid,
    pub perpetual_id: i64,
    pub side: &'a str,
    pub status: &'a str,
    pub size: &'a str,
    pub entry_price: &'a str,
    pub settled_funding: &'a str,
    pub open_event: Vec<u8>,
    pub last_event: Vec<u8>,
    pub created_at_height: i64,
    pub exit_price: Option<&'a str>,
}

/// A fill row.
pub struct FillSeed<'a> {
    pub subaccount: Uuid,
    pub side: &'a str,
    pub liquidity: &'a str,
    pub fill_type: &'a str,
    pub clob_pair_id: i64,
    pub size: &'a str,
    pub price: &'a str,
    pub fee: &'a str,
    pub height: i64,
    pub event: Vec<u8>,
    pub order_id: Option<Uuid>,
}

impl Seed<'_> {
    async fn exec(&self, sql: &str) {
        sqlx::query(sql)
            .execute(self.pool)
            .await
            .unwrap_or_else(|e| panic!("seeding failed: {e}\n{sql}"));
    }

    pub async fn blocks(&self, heights: std::ops::RangeInclusive<i64>) {
        for height in heights {
            sqlx::query(r#"INSERT INTO blocks ("blockHeight", time) VALUES ($1, $2)"#)
                .bind(height)
                .bind(block_time(height))
                .execute(self.pool)
                .await
                .unwrap();
        }
    }

    /// The id of event `index` of transaction `tx` in block `height`, inserted if missing.
    pub async fn event(&self, height: i64, tx: u32, index: u32) -> Vec<u8> {
        let id = EventId::new(height as u32, tx as i32, index)
            .as_bytes()
            .to_vec();
        sqlx::query(
            r#"INSERT INTO tendermint_events (id, "blockHeight", "transactionIndex", "eventIndex")
               VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"#,
        )
        .bind(&id)
        .bind(height)
        .bind(tx as i32)
        .bind(index as i32)
        .execute(self.pool)
        .await
        .unwrap();
        id
    }

    pub async fn market(&self, m: MarketSeed<'_>) {
        let id = m.perpetual_id;
        sqlx::query(
            r#"INSERT INTO liquidity_tiers (id, name, "initialMarginPpm", "maintenanceFractionPpm",
                   "openInterestLowerCap", "openInterestUpperCap")
               VALUES ($1, 'tier', $2, $3, '0', '0')"#,
        )
        .bind(id as i32)
        .bind(m.initial_margin_ppm)
        .bind(m.maintenance_fraction_ppm)
        .execute(self.pool)
        .await
        .unwrap();
        sqlx::query(
            r#"INSERT INTO markets (id, pair, exponent, "minPriceChangePpm", "oraclePrice")
               VALUES ($1, $2, -5, 50, $3::numeric)"#,
        )
        .bind(id as i32)
        .bind(m.ticker)
        .bind(m.oracle_price)
        .execute(self.pool)
        .await
        .unwrap();
        sqlx::query(
            r#"INSERT INTO perpetual_markets (id, "clobPairId", ticker, "marketId", status,
                   "priceChange24H", "volume24H", "trades24H", "nextFundingRate", "openInterest",
                   "quantumConversionExponent", "atomicResolution", "subticksPerTick",
                   "stepBaseQuantums", "liquidityTierId", "marketType", "baseOpenInterest",
                   "defaultFundingRate1H")
               VALUES ($1, $1, $2, $1, 'ACTIVE', -512.1, 183456789.2431, 48231, 0.0000125,
                   1534.2187, -9, $3, 100000, 1000000, $1, 'CROSS', 1498.0002, 0)"#,
        )
        .bind(id)
        .bind(m.ticker)
        .bind(m.atomic_resolution)
        .execute(self.pool)
        .await
        .unwrap();
    }

    /// BTC-USD (perpetual 0, oracle 50000, IMF 0.05, MMF 0.03) and ETH-USD (perpetual 1, oracle
    /// 3000.5, IMF 0.1, MMF 0.05).
    pub async fn standard_markets(&self) {
        self.market(MarketSeed {
            perpetual_id: 0,
            ticker: "BTC-USD",
            oracle_price: Some("50000"),
            atomic_resolution: -10,
            initial_margin_ppm: 50_000,
            maintenance_fraction_ppm: 600_000,
        })
        .await;
        self.market(MarketSeed {
            perpetual_id: 1,
            ticker: "ETH-USD",
            oracle_price: Some("3000.5"),
            atomic_resolution: -9,
            initial_margin_ppm: 100_000,
            maintenance_fraction_ppm: 500_000,
        })
        .await;
        self.exec(
            r#"INSERT INTO assets (id, "atomicResolution", "hasMarket", "marketId", symbol)
               VALUES ('0', -6, false, NULL, 'USDC')"#,
        )
        .await;
    }

    pub async fn subaccount(&self, address: &str, number: u32, updated_at_height: i64) -> Uuid {
        let id = subaccount_uuid(address, number);
        sqlx::query(
            r#"INSERT INTO subaccounts (id, address, "subaccountNumber", "updatedAt", "updatedAtHeight")
               VALUES ($1, $2, $3, $4, $5)"#,
        )
        .bind(id)
        .bind(address)
        .bind(number as i32)
        .bind(block_time(updated_at_height))
        .bind(updated_at_height)
        .execute(self.pool)
        .await
        .unwrap();
        id
    }

    pub async fn wallet(&self, address: &str, total_trading_rewards: &str) {
        sqlx::query(
            r#"INSERT INTO wallets (address, "totalTradingRewards") VALUES ($1, $2::numeric)
               ON CONFLICT DO NOTHING"#,
        )
        .bind(address)
        .bind(total_trading_rewards)
        .execute(self.pool)
        .await
        .unwrap();
    }

    pub async fn usdc(&self, subaccount: Uuid, size: &str, is_long: bool) {
        sqlx::query(
            r#"INSERT INTO asset_positions (id, "assetId", "subaccountId", size, "isLong")
               VALUES ($1, '0', $2, $3::numeric, $4)"#,
        )
        .bind(Uuid::new_v4())
        .bind(subaccount)
        .bind(size)
        .bind(is_long)
        .execute(self.pool)
        .await
        .unwrap();
    }

    pub async fn position(&self, p: PositionSeed<'_>) {
        let closed = p.status != "OPEN";
        sqlx::query(
            r#"INSERT INTO perpetual_positions (id, "subaccountId", "perpetualId", side, status,
                   size, "maxSize", "entryPrice", "exitPrice", "sumOpen", "sumClose", "createdAt",
                   "closedAt", "createdAtHeight", "closedAtHeight", "openEventId", "closeEventId",
                   "lastEventId", "settledFunding", "totalRealizedPnl")
               VALUES ($1, $2, $3, $4, $5, $6::numeric, $6::numeric, $7::numeric, $8::numeric,
                   abs($6::numeric), 0, $9, $10, $11, $12, $13, $14, $15, $16::numeric, NULL)"#,
        )
        .bind(Uuid::new_v4())
        .bind(p.subaccount)
        .bind(p.perpetual_id)
        .bind(p.side)
        .bind(p.status)
        .bind(p.size)
        .bind(p.entry_price)
        .bind(p.exit_price)
        .bind(block_time(p.created_at_height))
        .bind(closed.then(|| block_time(p.created_at_height + 1)))
        .bind(p.created_at_height)
        .bind(closed.then_some(p.created_at_height + 1))
        .bind(&p.open_event)
        .bind(closed.then_some(&p.last_event))
        .bind(&p.last_event)
        .bind(p.settled_funding)
        .execute(self.pool)
        .await
        .unwrap();
    }

    pub async fn funding(
        &self,
        perpetual_id: i64,
        height: i64,
        rate: &str,
        price: &str,
        index: &str,
    ) {
        let event = self.event(height, 0, 100 + perpetual_id as u32).await;
        sqlx::query(
            r#"INSERT INTO funding_index_updates (id, "perpetualId", "eventId", rate, "oraclePrice",
                   "fundingIndex", "effectiveAt", "effectiveAtHeight")
               VALUES ($1, $2, $3, $4::numeric, $5::numeric, $6::numeric, $7, $8)"#,
        )
        .bind(Uuid::new_v4())
        .bind(perpetual_id)
        .bind(event)
        .bind(rate)
        .bind(price)
        .bind(index)
        .bind(block_time(height))
        .bind(height)
        .execute(self.pool)
        .await
        .unwrap();
    }

    pub async fn fill(&self, f: FillSeed<'_>) -> Uuid {
        let id = Uuid::new_v4();
        sqlx::query(
            r#"INSERT INTO fills (id, "subaccountId", side, liquidity, type, "clobPairId", "orderId",
                   size, price, "quoteAmount", "eventId", "transactionHash", "createdAt",
                   "createdAtHeight", "clientMetadata", fee, "affiliateRevShare")
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8::numeric, $9::numeric,
                   $8::numeric * $9::numeric, $10, 'ABC', $11, $12, 0, $13, 0)"#,
        )
        .bind(id)
        .bind(f.subaccount)
        .bind(f.side)
        .bind(f.liquidity)
        .bind(f.fill_type)
        .bind(f.clob_pair_id)
        .bind(f.order_id)
        .bind(f.size)
        .bind(f.price)
        .bind(&f.event)
        .bind(block_time(f.height))
        .bind(f.height)
        .bind(f.fee)
        .execute(self.pool)
        .await
        .unwrap();
        id
    }

    /// A stateful (long-term) order row expiring at `good_til_block_time`, or a short-term one
    /// expiring at `good_til_block`.
    #[allow(clippy::too_many_arguments)]
    pub async fn order(
        &self,
        subaccount: Uuid,
        client_id: u32,
        clob_pair_id: u32,
        status: &str,
        time_in_force: &str,
        good_til_block: Option<i64>,
        good_til_block_time: Option<DateTime<Utc>>,
        height: i64,
    ) -> Uuid {
        let flags = if good_til_block.is_some() { 0 } else { 64 };
        let id = order_uuid(subaccount, client_id, clob_pair_id, flags);
        sqlx::query(
            r#"INSERT INTO orders (id, "subaccountId", "clientId", "clobPairId", side, size,
                   "totalFilled", price, type, status, "timeInForce", "reduceOnly", "orderFlags",
                   "goodTilBlock", "goodTilBlockTime", "createdAtHeight", "clientMetadata",
                   "updatedAt", "updatedAtHeight", "orderRouterAddress", "createdAt")
               VALUES ($1, $2, $3, $4, 'BUY', 0.05, 0, 61000, 'LIMIT', $5, $6, false, $7, $8, $9,
                   $10, 0, $11, $10, '', $11)"#,
        )
        .bind(id)
        .bind(subaccount)
        .bind(i64::from(client_id))
        .bind(i64::from(clob_pair_id))
        .bind(status)
        .bind(time_in_force)
        .bind(i64::from(flags))
        .bind(good_til_block)
        .bind(good_til_block_time)
        .bind(height)
        .bind(block_time(height))
        .execute(self.pool)
        .await
        .unwrap();
        id
    }

    /// A transfer; `None` sides are the wallet of `wallet` (deposit / withdrawal).
    pub async fn transfer(
        &self,
        sender: Option<Uuid>,
        recipient: Option<Uuid>,
        wallet: &str,
        size: &str,
        event: Vec<u8>,
        height: i64,
    ) -> Uuid {
        let id = Uuid::new_v4();
        sqlx::query(
            r#"INSERT INTO transfers (id, "senderSubaccountId", "recipientSubaccountId", "assetId",
                   size, "eventId", "transactionHash", "createdAt", "createdAtHeight",
                   "senderWalletAddress", "recipientWalletAddress")
               VALUES ($1, $2, $3, '0', $4::numeric, $5, 'DEADBEEF', $6, $7, $8, $9)"#,
        )
        .bind(id)
        .bind(sender)
        .bind(recipient)
        .bind(size)
        .bind(event)
        .bind(block_time(height))
        .bind(height)
        .bind(sender.is_none().then_some(wallet))
        .bind(recipient.is_none().then_some(wallet))
        .execute(self.pool)
        .await
        .unwrap();
        id
    }

    pub async fn candle(
        &self,
        ticker: &str,
        resolution: &str,
        started_at: DateTime<Utc>,
        close: &str,
    ) {
        sqlx::query(
            r#"INSERT INTO candles (id, "startedAt", ticker, resolution, low, high, open, close,
                   "baseTokenVolume", "usdVolume", trades, "startingOpenInterest",
                   "orderbookMidPriceOpen", "orderbookMidPriceClose")
               VALUES ($1, $2, $3, $4, 1, 2, 1.5, $5::numeric, 10, 15, 3, 100, NULL, 1.25)"#,
        )
        .bind(Uuid::new_v4())
        .bind(started_at)
        .bind(ticker)
        .bind(resolution)
        .bind(close)
        .execute(self.pool)
        .await
        .unwrap();
    }

    pub async fn pnl_tick(&self, subaccount: Uuid, height: i64, equity: &str) {
        sqlx::query(
            r#"INSERT INTO pnl_ticks (id, "subaccountId", equity, "totalPnl", "netTransfers",
                   "createdAt", "blockHeight", "blockTime")
               VALUES ($1, $2, $3::numeric, $3::numeric - 100, 100, $4, $5, $4)"#,
        )
        .bind(Uuid::new_v4())
        .bind(subaccount)
        .bind(equity)
        .bind(block_time(height))
        .bind(height)
        .execute(self.pool)
        .await
        .unwrap();
    }

    /// A funding payment of `subaccount` at `height` (ticker of perpetual 0 or 1).
    pub async fn funding_payment(
        &self,
        subaccount: Uuid,
        perpetual_id: i64,
        height: i64,
        payment: &str,
    ) {
        let ticker = if perpetual_id == 0 {
            "BTC-USD"
        } else {
            "ETH-USD"
        };
        sqlx::query(
            r#"INSERT INTO funding_payments ("subaccountId", "createdAt", "createdAtHeight",
                   "perpetualId", ticker, "oraclePrice", size, side, rate, payment, "fundingIndex")
               VALUES ($1, $2, $3, $4, $5, 50000, 0.1, 'LONG', 0.0000125, $6::numeric, 1234.567)"#,
        )
        .bind(subaccount)
        .bind(block_time(height))
        .bind(height)
        .bind(perpetual_id)
        .bind(ticker)
        .bind(payment)
        .execute(self.pool)
        .await
        .unwrap();
    }

    /// A `pnl` row (roundtable's per-funding-height PnL).
    pub async fn pnl_row(
        &self,
        subaccount: Uuid,
        created_at: DateTime<Utc>,
        height: i64,
        equity: &str,
    ) {
        sqlx::query(
            r#"INSERT INTO pnl ("subaccountId", "createdAt", "createdAtHeight", equity,
                   "netTransfers", "totalPnl")
               VALUES ($1, $2, $3, $4::numeric, 100, $4::numeric - 100)"#,
        )
        .bind(subaccount)
        .bind(created_at)
        .bind(height)
        .bind(equity)
        .execute(self.pool)
        .await
        .unwrap();
    }

    pub async fn trading_reward(&self, address: &str, height: i64, amount: &str) {
        sqlx::query(
            r#"INSERT INTO trading_rewards (id, address, "blockTime", "blockHeight", amount)
               VALUES ($1, $2, $3, $4, $5::numeric)"#,
        )
        .bind(Uuid::new_v4())
        .bind(address)
        .bind(block_time(height))
        .bind(height)
        .bind(amount)
        .execute(self.pool)
        .await
        .unwrap();
    }

    pub async fn reward_aggregation(
        &self,
        address: &str,
        period: &str,
        start: i64,
        end: Option<i64>,
        amount: &str,
    ) {
        sqlx::query(
            r#"INSERT INTO trading_reward_aggregations (id, address, "startedAt", "startedAtHeight",
                   "endedAt", "endedAtHeight", period, amount)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8::numeric)"#,
        )
        .bind(Uuid::new_v4())
        .bind(address)
        .bind(block_time(start))
        .bind(start)
        .bind(end.map(block_time))
        .bind(end)
        .bind(period)
        .bind(amount)
        .execute(self.pool)
        .await
        .unwrap();
    }

    pub async fn username(&self, subaccount: Uuid, username: &str) {
        sqlx::query(
            r#"INSERT INTO subaccount_usernames (username, "subaccountId") VALUES ($1, $2)"#,
        )
        .bind(username)
        .bind(subaccount)
        .execute(self.pool)
        .await
        .unwrap();
    }

    pub async fn wallet_volume(&self, address: &str, volume: &str) {
        sqlx::query(r#"UPDATE wallets SET "totalVolume" = $2::numeric WHERE address = $1"#)
            .bind(address)
            .bind(volume)
            .execute(self.pool)
            .await
            .unwrap();
    }

    pub async fn referral(&self, affiliate: &str, referee: &str) {
        sqlx::query(
            r#"INSERT INTO affiliate_referred_users ("refereeAddress", "affiliateAddress", "referredAtBlock")
               VALUES ($1, $2, 1)"#,
        )
        .bind(referee)
        .bind(affiliate)
        .execute(self.pool)
        .await
        .unwrap();
    }

    /// The screening provider's stored verdict.
    pub async fn compliance_data(&self, address: &str, blocked: bool) {
        sqlx::query(
            "INSERT INTO compliance_data (address, provider, blocked) VALUES ($1, 'ELLIPTIC', $2)",
        )
        .bind(address)
        .bind(blocked)
        .execute(self.pool)
        .await
        .unwrap();
    }

    pub async fn compliance_status(&self, address: &str, status: &str) {
        sqlx::query(
            "INSERT INTO compliance_status (address, status, reason) VALUES ($1, $2, 'MANUAL')",
        )
        .bind(address)
        .bind(status)
        .execute(self.pool)
        .await
        .unwrap();
    }
}

/// Places a resting order in Redis through vulcan's place script; returns its UUID.
#[allow(clippy::too_many_arguments)]
pub async fn place_redis_order(
    cache: &Cache,
    owner: &str,
    number: u32,
    client_id: u32,
    clob_pair_id: u32,
    ticker: &str,
    good_til: GoodTilOneof,
    price: &str,
    size: &str,
) -> Uuid {
    let order_flags = match good_til {
        GoodTilOneof::GoodTilBlock(_) => 0,
        GoodTilOneof::GoodTilBlockTime(_) => 64,
    };
    let subaccount = subaccount_uuid(owner, number);
    let id = order_uuid(subaccount, client_id, clob_pair_id, order_flags);
    let expiry = match good_til {
        GoodTilOneof::GoodTilBlock(block) => u64::from(block),
        GoodTilOneof::GoodTilBlockTime(seconds) => u64::from(seconds),
    };
    let order = RedisOrder {
        id: id.to_string(),
        order: Some(IndexerOrder {
            order_id: Some(IndexerOrderId {
                subaccount_id: Some(IndexerSubaccountId {
                    owner: owner.to_owned(),
                    number,
                }),
                client_id,
                order_flags,
                clob_pair_id,
            }),
            side: 2,
            quantums: 10_000_000,
            subticks: 100_000,
            good_til_oneof: Some(good_til),
            time_in_force: 2,
            reduce_only: false,
            client_metadata: 7,
            ..Default::default()
        }),
        ticker: ticker.to_owned(),
        ticker_type: 1,
        price: price.to_owned(),
        size: size.to_owned(),
    };
    let op = OrderOp::Place(PlaceOrder {
        order_uuid: id.to_string(),
        subaccount_uuid: subaccount.to_string(),
        redis_order: order.encode_to_vec(),
        expiry,
        short_term: order_flags == 0,
        pop_cached_update: false,
        book_facts: BookFacts {
            side: indexer_cache::BookSide::Sell,
            immediate: false,
            quantums: 10_000_000,
            price: price.to_owned(),
        },
    });
    indexer_cache::apply_order_ops(cache, &[op], 0, "test-epoch")
        .await
        .expect("placing the order in Redis");
    id
}

/// Writes one order-book level (size in quantums, last change in unix seconds) as vulcan stores
/// it.
pub async fn book_level(
    cache: &Cache,
    ticker: &str,
    side: indexer_cache::BookSide,
    price: &str,
    quantums: i64,
    updated: i64,
) {
    let keys = cache.keys();
    let mut conn = cache.conn();
    let _: () = redis::pipe()
        .hset(keys.orderbook_levels(ticker, side), price, quantums)
        .hset(
            keys.orderbook_levels_last_updated(ticker, side),
            price,
            updated,
        )
        .query_async(&mut conn)
        .await
        .unwrap();
}
