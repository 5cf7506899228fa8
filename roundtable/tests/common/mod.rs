//! Test fixtures: a fresh database, Redis key prefix and Kafka topics per test, and a small chain
//! builder that writes blocks through ender's write path (`indexer_store::write::write_block`),
//! so jobs read exactly the rows ender would have written.

#![allow(dead_code)]

use std::time::Duration;

use bigdecimal::BigDecimal;
use chrono::{DateTime, TimeDelta, Utc};
use indexer_base::config::{Env, RedisSettings};
use indexer_bus::{BusConsumer, BusProducer, ConsumerOptions, Received, StartAt, Topic};
use indexer_cache::Cache;
use indexer_domain::ids::{self, subaccount_uuid};
use indexer_domain::EventId;
use indexer_store::write::*;
use indexer_store::Pools;
use indexer_testkit::db::TestDb;
use indexer_testkit::kafka::TestTopics;
use roundtable::jobs::Deps;

/// Generous bound on waiting for a message; never an assertion about speed.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub const ALICE: &str = "dydx1alice0000000000000000000000000000000";
pub const BOB: &str = "dydx1bob000000000000000000000000000000000";

/// Everything a job test needs, isolated from other tests.
pub struct TestEnv {
    pub db: TestDb,
    pub cache: Cache,
    pub topics: TestTopics,
    pub deps: Deps,
}

impl TestEnv {
    pub async fn new() -> Self {
        let db = TestDb::new().await;
        let prefix = format!("test-{}:", uuid::Uuid::new_v4());
        let env = Env::from_pairs([("REDIS_KEY_PREFIX", prefix.as_str())]);
        let cache = Cache::connect(&RedisSettings::from_env(&env).unwrap())
            .await
            .unwrap();
        let topics = TestTopics::new().await;
        let deps = Deps {
            pools: Pools {
                primary: db.pool().clone(),
                replica: None,
            },
            cache: cache.clone(),
            producer: BusProducer::new(&topics.settings).unwrap(),
            max_batch_bytes: topics.settings.max_batch_bytes,
        };
        Self {
            db,
            cache,
            topics,
            deps,
        }
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        self.db.pool()
    }

    /// Writes one block through ender's write path.
    pub async fn write(&self, block: BlockWrite) {
        let height = block.block.as_ref().expect("a block row").block_height;
        let mut tx = self.pool().begin().await.unwrap();
        write_block(&mut tx, height, &block).await.unwrap();
        tx.commit().await.unwrap();
    }

    /// A consumer of `topic` from its beginning (partitions assigned, no group wait).
    pub async fn consumer(&self, topic: Topic) -> BusConsumer<Vec<u8>> {
        BusConsumer::assign(
            &self.topics.settings,
            &ConsumerOptions::new(format!("test-{}", uuid::Uuid::new_v4()), [topic]),
            StartAt::Beginning,
            Box::new(|bytes: &[u8]| Ok(bytes.to_vec())),
        )
        .await
        .unwrap()
    }

    pub async fn cleanup(self) {
        self.cache.clear().await.unwrap();
        drop(self.deps);
        self.db.cleanup().await;
        let _ = self.topics.cleanup().await;
    }
}

/// The next message, or a panic after [`PATIENCE`].
pub async fn next_message(consumer: &BusConsumer<Vec<u8>>) -> Received<Vec<u8>> {
    tokio::time::timeout(PATIENCE, consumer.next())
        .await
        .expect("a message within the patience bound")
        .unwrap()
}

/// Whether another message arrives within `wait` (used after the expected ones were read, to
/// show nothing else was sent).
pub async fn more_messages(consumer: &BusConsumer<Vec<u8>>, wait: Duration) -> bool {
    tokio::time::timeout(wait, consumer.next()).await.is_ok()
}

pub fn dec(text: &str) -> BigDecimal {
    text.parse().unwrap()
}

pub fn event(height: i64, tx: i32, index: u32) -> (Vec<u8>, TendermintEventRow) {
    let id = EventId::new(height as u32, tx, index).as_bytes().to_vec();
    (
        id.clone(),
        TendermintEventRow {
            id,
            block_height: height,
            transaction_index: tx,
            event_index: index as i32,
        },
    )
}

/// An empty block at `height`.
pub fn block(height: i64, time: DateTime<Utc>) -> BlockWrite {
    BlockWrite {
        block: Some(BlockRow {
            block_height: height,
            time,
        }),
        ..Default::default()
    }
}

/// Block 1: markets BTC-USD (perpetual 0, clob pair 0) and ETH-USD (perpetual 1, clob pair 1),
/// liquidity tier 0, USDC, and oracle prices 50 000 and 3 000.
pub fn genesis(time: DateTime<Utc>) -> BlockWrite {
    let mut w = block(1, time);
    w.markets = vec![market_row(0, "BTC-USD", -5), market_row(1, "ETH-USD", -6)];
    w.liquidity_tiers = vec![LiquidityTierRow {
        id: 0,
        name: "Large-Cap".into(),
        initial_margin_ppm: 50_000,
        maintenance_fraction_ppm: 600_000,
        open_interest_lower_cap: None,
        open_interest_upper_cap: None,
    }];
    w.assets = vec![AssetRow {
        id: "0".into(),
        symbol: "USDC".into(),
        atomic_resolution: -6,
        has_market: false,
        market_id: None,
    }];
    w.perpetual_markets = vec![
        (RowChange::Insert, perpetual_market(0, "BTC-USD", -10)),
        (RowChange::Insert, perpetual_market(1, "ETH-USD", -9)),
    ];
    w.oracle_prices = vec![
        oracle_price(0, "50000", 1, time),
        oracle_price(1, "3000", 1, time),
    ];
    w
}

fn market_row(id: i32, pair: &str, exponent: i32) -> MarketRow {
    MarketRow {
        id,
        pair: pair.into(),
        exponent,
        min_price_change_ppm: 50,
        oracle_price: None,
    }
}

pub fn perpetual_market(id: i64, ticker: &str, atomic_resolution: i32) -> PerpetualMarketRow {
    PerpetualMarketRow {
        id,
        clob_pair_id: id,
        ticker: ticker.into(),
        market_id: id as i32,
        status: "ACTIVE".into(),
        price_change_24h: dec("0"),
        volume_24h: dec("0"),
        trades_24h: 0,
        next_funding_rate: dec("0"),
        open_interest: dec("0"),
        quantum_conversion_exponent: -9,
        atomic_resolution,
        subticks_per_tick: 100_000,
        step_base_quantums: 1_000_000,
        liquidity_tier_id: 0,
        market_type: "CROSS".into(),
        base_open_interest: Some(dec("0")),
        default_funding_rate_1h: Some(dec("0")),
    }
}

pub fn oracle_price(
    market_id: i32,
    price: &str,
    height: i64,
    time: DateTime<Utc>,
) -> OraclePriceRow {
    OraclePriceRow {
        id: ids::oracle_price_uuid(market_id as u32, height as u32),
        market_id,
        price: dec(price),
        effective_at: time,
        effective_at_height: height,
    }
}

pub fn subaccount(owner: &str, number: i32, height: i64, time: DateTime<Utc>) -> SubaccountRow {
    SubaccountRow {
        id: subaccount_uuid(owner, number as u32),
        address: owner.into(),
        subaccount_number: number,
        updated_at: time,
        updated_at_height: height,
    }
}

pub fn wallet(address: &str) -> WalletCredit {
    WalletCredit {
        address: address.into(),
        trading_rewards_delta: dec("0"),
    }
}

/// A fill of `owner`/0 at `height`; `event` must be one of the block's events.
#[allow(clippy::too_many_arguments)]
pub fn fill(
    owner: &str,
    event_id: &[u8],
    liquidity: &str,
    side: &str,
    clob_pair_id: i64,
    size: &str,
    price: &str,
    height: i64,
    time: DateTime<Utc>,
) -> FillRow {
    let size_d = dec(size);
    let price_d = dec(price);
    FillRow {
        id: uuid::Uuid::new_v4(),
        subaccount_id: subaccount_uuid(owner, 0),
        side: side.into(),
        liquidity: liquidity.into(),
        fill_type: "LIMIT".into(),
        clob_pair_id,
        order_id: None,
        quote_amount: &size_d * &price_d,
        size: size_d,
        price: price_d,
        event_id: event_id.to_vec(),
        transaction_hash: "HASH".into(),
        created_at: time,
        created_at_height: height,
        client_metadata: None,
        fee: "0".into(),
        affiliate_rev_share: dec("0"),
        builder_address: None,
        builder_fee: None,
        order_router_address: None,
        order_router_fee: None,
        position_size_before: None,
        entry_price_before: None,
        position_side_before: None,
    }
}

/// An open position of `owner`/0 in `perpetual_id`; `size` is signed.
pub fn position(
    owner: &str,
    perpetual_id: i64,
    size: &str,
    event_id: &[u8],
    height: i64,
    time: DateTime<Utc>,
) -> PerpetualPositionRow {
    let size_d = dec(size);
    let side = if size_d < dec("0") { "SHORT" } else { "LONG" };
    PerpetualPositionRow {
        id: uuid::Uuid::new_v4(),
        subaccount_id: subaccount_uuid(owner, 0),
        perpetual_id,
        side: side.into(),
        status: "OPEN".into(),
        max_size: size_d.clone(),
        size: size_d,
        entry_price: dec("50000"),
        exit_price: None,
        sum_open: dec("0"),
        sum_close: dec("0"),
        created_at: time,
        closed_at: None,
        created_at_height: height,
        closed_at_height: None,
        open_event_id: event_id.to_vec(),
        close_event_id: None,
        last_event_id: event_id.to_vec(),
        settled_funding: dec("0"),
        total_realized_pnl: None,
    }
}

/// A short-term order row (flags 0) of `owner`/0.
pub fn short_term_order(
    owner: &str,
    client_id: u32,
    status: &str,
    good_til_block: i64,
    height: i64,
    time: DateTime<Utc>,
) -> OrderRow {
    let subaccount = subaccount_uuid(owner, 0);
    OrderRow {
        id: ids::order_uuid(subaccount, client_id, 0, 0),
        subaccount_id: subaccount,
        client_id: i64::from(client_id),
        clob_pair_id: 0,
        side: "BUY".into(),
        size: dec("1"),
        total_filled: dec("0.5"),
        price: dec("50000"),
        order_type: "LIMIT".into(),
        status: status.into(),
        time_in_force: "GTT".into(),
        reduce_only: false,
        order_flags: 0,
        good_til_block: Some(good_til_block),
        good_til_block_time: None,
        created_at_height: Some(height),
        client_metadata: 0,
        trigger_price: None,
        updated_at: Some(time),
        updated_at_height: Some(height),
        duration: None,
        interval: None,
        price_tolerance: None,
        builder_address: None,
        fee_ppm: None,
        order_router_address: None,
        created_at: Some(time),
    }
}

pub fn minutes(n: i64) -> TimeDelta {
    TimeDelta::minutes(n)
}

/// An order of `owner`/0 on BTC-USD (clob pair 0) as vulcan stores it.
pub fn redis_order(
    owner: &str,
    client_id: u32,
    side: indexer_cache::BookSide,
    quantums: u64,
    price: &str,
    good_til_block: u32,
) -> (String, indexer_proto::redis::RedisOrder) {
    use indexer_proto::protocol::v1::indexer_order::GoodTilOneof;
    use indexer_proto::protocol::v1::{IndexerOrder, IndexerOrderId, IndexerSubaccountId};
    let order_uuid = ids::order_uuid(subaccount_uuid(owner, 0), client_id, 0, 0).to_string();
    let order = indexer_proto::redis::RedisOrder {
        id: order_uuid.clone(),
        order: Some(IndexerOrder {
            order_id: Some(IndexerOrderId {
                subaccount_id: Some(IndexerSubaccountId {
                    owner: owner.into(),
                    number: 0,
                }),
                client_id,
                order_flags: 0,
                clob_pair_id: 0,
            }),
            side: match side {
                indexer_cache::BookSide::Buy => 1,
                indexer_cache::BookSide::Sell => 2,
            },
            quantums,
            subticks: 1,
            good_til_oneof: Some(GoodTilOneof::GoodTilBlock(good_til_block)),
            ..Default::default()
        }),
        ticker: "BTC-USD".into(),
        ticker_type: 1,
        price: price.into(),
        size: "0".into(),
    };
    (order_uuid, order)
}

/// Places a short-term BTC-USD order through vulcan's Redis path and rests it on the book (the
/// node's first `Update` brings the resting size into its level).
pub async fn rest_order(
    cache: &Cache,
    owner: &str,
    client_id: u32,
    side: indexer_cache::BookSide,
    quantums: u64,
    price: &str,
    good_til_block: u32,
) -> String {
    use indexer_cache::orders::{BookFacts, PlaceOrder, UpdateOrder};
    use indexer_cache::{apply_order_ops, OrderOp};
    use prost::Message;
    let (order_uuid, order) = redis_order(owner, client_id, side, quantums, price, good_til_block);
    let ops = [
        OrderOp::Place(PlaceOrder {
            order_uuid: order_uuid.clone(),
            subaccount_uuid: subaccount_uuid(owner, 0).to_string(),
            redis_order: order.encode_to_vec(),
            expiry: u64::from(good_til_block),
            short_term: true,
            pop_cached_update: false,
            book_facts: BookFacts {
                side,
                immediate: false,
                quantums,
                price: price.into(),
            },
        }),
        OrderOp::Update(UpdateOrder {
            order_uuid: order_uuid.clone(),
            ticker: "BTC-USD".into(),
            total_filled_quantums: 0,
            cache_if_missing: None,
        }),
    ];
    apply_order_ops(
        cache,
        &ops,
        Utc::now().timestamp_millis(),
        &uuid::Uuid::new_v4().to_string(),
    )
    .await
    .unwrap();
    order_uuid
}

/// Sets a level's lastUpdated (unix seconds), as if it had not changed since then.
pub async fn age_level(
    cache: &Cache,
    side: indexer_cache::BookSide,
    price: &str,
    last_updated: i64,
) {
    let _: () = redis::cmd("HSET")
        .arg(cache.keys().orderbook_levels_last_updated("BTC-USD", side))
        .arg(price)
        .arg(last_updated)
        .query_async(&mut cache.conn())
        .await
        .unwrap();
}

pub fn ctx() -> roundtable::scheduler::RunContext {
    roundtable::scheduler::RunContext {
        tick: Utc::now(),
        cancel: Default::default(),
    }
}

/// A deposit from `owner`'s wallet into `owner`/0 (USDC).
pub fn deposit(
    owner: &str,
    amount: &str,
    event_id: &[u8],
    height: i64,
    time: DateTime<Utc>,
) -> TransferRow {
    TransferRow {
        id: uuid::Uuid::new_v4(),
        sender_subaccount_id: None,
        recipient_subaccount_id: Some(subaccount_uuid(owner, 0)),
        sender_wallet_address: Some(owner.into()),
        recipient_wallet_address: None,
        asset_id: "0".into(),
        size: dec(amount),
        event_id: event_id.to_vec(),
        transaction_hash: "HASH".into(),
        created_at: time,
        created_at_height: height,
    }
}

/// `owner`/0's USDC balance (signed).
pub fn usdc(owner: &str, balance: &str) -> AssetPositionRow {
    let subaccount = subaccount_uuid(owner, 0);
    let value = dec(balance);
    let is_long = value >= dec("0");
    AssetPositionRow {
        id: ids::asset_position_uuid(subaccount, 0),
        asset_id: "0".into(),
        subaccount_id: subaccount,
        size: if is_long { value } else { -value },
        is_long,
    }
}

pub fn funding_index(
    perpetual_id: i64,
    index: &str,
    event_id: &[u8],
    height: i64,
    time: DateTime<Utc>,
) -> FundingIndexUpdateRow {
    FundingIndexUpdateRow {
        id: uuid::Uuid::new_v4(),
        perpetual_id,
        event_id: event_id.to_vec(),
        rate: dec("0.0001"),
        oracle_price: dec("50000"),
        funding_index: dec(index),
        effective_at: time,
        effective_at_height: height,
    }
}

pub fn trading_reward(
    address: &str,
    amount: &str,
    height: i64,
    time: DateTime<Utc>,
) -> TradingRewardRow {
    TradingRewardRow {
        id: ids::trading_reward_uuid(address, height as u32),
        address: address.into(),
        block_time: time,
        block_height: height,
        amount: dec(amount),
    }
}
