//! Data written through the real ingestion code: blocks of the devnet's simulated chain go through
//! ender's block pipeline (decode, process, one Postgres transaction per block), and resting
//! orders go through vulcan's batch processor into the Redis order book. What comlink then reads
//! is exactly what the running services would have written.
//!
//! Ender's Redis side effects (filled-quantum markers, next-funding samples) are not applied:
//! comlink reads neither.

use std::time::Instant;

use devnet::chain::{ChainConfig, SimulatedChain};
use ender::pipeline::{apply_block, load_caches, BlockInputs};
use ender::Caches;
use indexer_bus::MessageHeaders;
use indexer_cache::Cache;
use indexer_domain::serializable_int;
use indexer_proto::events::{
    AddressTradingReward, RegisterAffiliateEventV1, TradingRewardsEventV1,
};
use indexer_proto::indexer_manager::indexer_tendermint_event::{BlockEvent, OrderingWithinBlock};
use indexer_proto::indexer_manager::{IndexerTendermintBlock, IndexerTendermintEvent};
use indexer_proto::off_chain_updates::off_chain_update_v1::UpdateMessage;
use indexer_proto::off_chain_updates::{OffChainUpdateV1, OrderPlaceV1, OrderUpdateV1};
use indexer_proto::protocol::v1::indexer_order::GoodTilOneof;
use indexer_proto::protocol::v1::{IndexerOrder, IndexerOrderId, IndexerSubaccountId};
use num_bigint::BigInt;
use prost::Message;
use sqlx::PgPool;
use vulcan::pipeline::{Inbound, Processor, ProcessorSettings};

pub use devnet::chain::{owner_address, MarketSpec};

const SIDE_BUY: i32 = 1;
const SIDE_SELL: i32 = 2;
/// `OrderPlaceV1.placement_status` OPENED.
const PLACEMENT_OPENED: i32 = 1;
/// Short-term orders of the seeded book stay valid this many blocks past the latest height.
const BOOK_GOOD_TIL_BLOCKS: u32 = 20;

/// Ender's block pipeline over one database, with the caches it keeps between blocks.
pub struct Ender<'a> {
    pool: &'a PgPool,
    caches: Caches,
}

impl<'a> Ender<'a> {
    pub async fn new(pool: &'a PgPool) -> Self {
        let caches = load_caches(pool).await.expect("loading ender's caches");
        Self { pool, caches }
    }

    /// Decodes, processes and commits `block` as ender's consumer does.
    pub async fn apply(&mut self, block: &IndexerTendermintBlock) {
        let decoded = ender::decode_block(block).expect("the block decodes");
        let committed = apply_block(self.pool, &self.caches, &decoded, BlockInputs::default())
            .await
            .unwrap_or_else(|e| panic!("ender refused block {}: {e}", block.height));
        self.caches.apply(committed.outcome.cache_delta);
    }

    /// Runs the next `blocks` blocks of `chain` through the pipeline.
    pub async fn run(&mut self, chain: &mut SimulatedChain, blocks: u32) {
        for _ in 0..blocks {
            self.apply(&chain.next_block()).await;
        }
    }
}

/// Runs `blocks` blocks of a simulated chain (genesis included) through ender's pipeline into
/// `pool`, and hands back the chain so the caller knows its final prices and positions.
pub async fn ingest_chain(pool: &PgPool, config: ChainConfig, blocks: u32) -> SimulatedChain {
    let mut chain = SimulatedChain::new(config);
    Ender::new(pool).await.run(&mut chain, blocks).await;
    chain
}

/// A block at `height` and `time_secs` carrying `events` (subtype, version, payload) as a full
/// node would send them: transaction events in transaction 0, the end-block-only kinds
/// (`trading_reward`, `funding_values`) as end-block events.
pub fn block_of(
    height: u32,
    time_secs: i64,
    events: Vec<(&str, u32, Vec<u8>)>,
) -> IndexerTendermintBlock {
    let mut in_tx = 0;
    let mut in_block = 0;
    let events = events
        .into_iter()
        .map(|(subtype, version, data)| {
            let end_block = matches!(subtype, "trading_reward" | "funding_values");
            let (ordering, index) = if end_block {
                in_block += 1;
                (
                    OrderingWithinBlock::BlockEvent(BlockEvent::EndBlock as i32),
                    in_block - 1,
                )
            } else {
                in_tx += 1;
                (OrderingWithinBlock::TransactionIndex(0), in_tx - 1)
            };
            IndexerTendermintEvent {
                subtype: subtype.into(),
                ordering_within_block: Some(ordering),
                event_index: index,
                version,
                data_bytes: data,
            }
        })
        .collect();
    IndexerTendermintBlock {
        height,
        time: Some(prost_types::Timestamp {
            seconds: time_secs,
            nanos: 0,
        }),
        events,
        tx_hashes: vec![format!("{height:064X}")],
    }
}

/// A `trading_reward` event paying `amount` (in the reward denom's 10^-18 units) to `owner`.
pub fn trading_reward(owner: &str, amount: u128) -> (&'static str, u32, Vec<u8>) {
    let event = TradingRewardsEventV1 {
        trading_rewards: vec![AddressTradingReward {
            owner: owner.into(),
            denom_amount: serializable_int::encode(&BigInt::from(amount)),
        }],
    };
    ("trading_reward", 1, event.encode_to_vec())
}

/// A `register_affiliate` event: `affiliate` referred `referee`.
pub fn register_affiliate(referee: &str, affiliate: &str) -> (&'static str, u32, Vec<u8>) {
    let event = RegisterAffiliateEventV1 {
        referee: referee.into(),
        affiliate: affiliate.into(),
    };
    ("register_affiliate", 1, event.encode_to_vec())
}

/// One resting order of the seeded book.
#[derive(Debug, Clone, Copy)]
pub struct RestingOrder {
    pub owner_index: usize,
    pub client_id: u32,
    pub clob_pair_id: u32,
    pub buy: bool,
    pub quantums: u64,
    pub subticks: u64,
}

/// Places `orders` (short-term, good for `BOOK_GOOD_TIL_BLOCKS` past the latest height) through
/// vulcan's processor, with the markets and height vulcan would load from `pool`.
pub async fn place_orders(pool: &PgPool, cache: &Cache, orders: &[RestingOrder]) {
    let context = vulcan::service::load_context(pool)
        .await
        .expect("vulcan loads markets and height");
    let height = context.latest_height().unwrap_or(0) as u32;
    let processor = Processor::new(
        cache.clone(),
        Some(pool.clone()),
        context,
        ProcessorSettings::default(),
    );
    // As the protocol does: the placement, then an update with the filled amount (0), which is
    // what puts the order's remaining size on its price level.
    let batch: Vec<Inbound> = orders
        .iter()
        .flat_map(|order| {
            [
                inbound(place(order, height + BOOK_GOOD_TIL_BLOCKS)),
                inbound(unfilled(order)),
            ]
        })
        .collect();
    for chunk in batch.chunks(500) {
        let processed = processor.process(chunk).await.expect("vulcan batch");
        assert!(
            processed.dead_letters.is_empty(),
            "vulcan refused seeded orders: {:?}",
            processed
                .dead_letters
                .iter()
                .map(|d| &d.reason)
                .collect::<Vec<_>>()
        );
    }
}

/// A book of `levels` bids below and `levels` asks above `mid_subticks`, one tick apart, each
/// level one order of `quantums`, placed by the simulated chain's first two accounts.
pub fn ladder(
    market: &MarketSpec,
    clob_pair_id: u32,
    mid_subticks: u64,
    levels: u32,
    quantums: u64,
    first_client_id: u32,
) -> Vec<RestingOrder> {
    let tick = u64::from(market.subticks_per_tick);
    let mid = mid_subticks / tick * tick;
    (1..=levels)
        .flat_map(|level| {
            let offset = u64::from(level) * tick;
            let client_id = first_client_id + 2 * level;
            [
                RestingOrder {
                    owner_index: 0,
                    client_id,
                    clob_pair_id,
                    buy: true,
                    quantums,
                    subticks: mid - offset,
                },
                RestingOrder {
                    owner_index: 1,
                    client_id: client_id + 1,
                    clob_pair_id,
                    buy: false,
                    quantums,
                    subticks: mid + offset,
                },
            ]
        })
        .collect()
}

fn order_id(order: &RestingOrder) -> IndexerOrderId {
    IndexerOrderId {
        subaccount_id: Some(IndexerSubaccountId {
            owner: owner_address(order.owner_index),
            number: 0,
        }),
        client_id: order.client_id,
        order_flags: 0,
        clob_pair_id: order.clob_pair_id,
    }
}

fn unfilled(order: &RestingOrder) -> OffChainUpdateV1 {
    OffChainUpdateV1 {
        update_message: Some(UpdateMessage::OrderUpdate(OrderUpdateV1 {
            order_id: Some(order_id(order)),
            total_filled_quantums: 0,
        })),
    }
}

fn place(order: &RestingOrder, good_til_block: u32) -> OffChainUpdateV1 {
    OffChainUpdateV1 {
        update_message: Some(UpdateMessage::OrderPlace(OrderPlaceV1 {
            order: Some(IndexerOrder {
                order_id: Some(order_id(order)),
                side: if order.buy { SIDE_BUY } else { SIDE_SELL },
                quantums: order.quantums,
                subticks: order.subticks,
                good_til_oneof: Some(GoodTilOneof::GoodTilBlock(good_til_block)),
                ..Default::default()
            }),
            placement_status: PLACEMENT_OPENED,
            time_stamp: None,
        })),
    }
}

fn inbound(update: OffChainUpdateV1) -> Inbound {
    Inbound {
        raw: update.encode_to_vec(),
        update,
        key: None,
        headers: MessageHeaders::new(),
        kafka_timestamp_ms: None,
        received: Instant::now(),
        meta: None,
    }
}
