//! One block end to end against Postgres: prefetch the rows it reads, process it, write it and
//! advance the progress marker in one transaction. Caches change only after the commit.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use indexer_domain::{ids, Decimal};
use indexer_proto::events::{
    order_fill_event_v1::TakerOrder, source_of_funds::Source, stateful_order_event_v1::Event as Sof,
};
use indexer_store::read::ender_state;
use sqlx::PgPool;
use uuid::Uuid;

use crate::block::{process_block, BlockOutcome};
use crate::candles;
use crate::decode::{DecodedBlock, Payload};
use crate::error::BlockError;
use crate::model::PerpetualMarket;
use crate::state::{Caches, CanceledStatus, ProcessSettings, State};

/// Inputs a block needs that do not come from Postgres.
#[derive(Debug, Clone, Default)]
pub struct BlockInputs {
    pub canceled: HashMap<Uuid, CanceledStatus>,
    pub mid_prices: HashMap<String, Decimal>,
    pub message_timestamp_ms: Option<i64>,
    pub settings: ProcessSettings,
}

/// Histogram of each stage of a block: `prefetch` (the rows it reads), `prefetch_markets` (open
/// interest and fresh perpetual markets, when needed), `process`, `write`, `commit`.
pub const STAGE_SECONDS: &str = "ender_block_stage_seconds";

/// Times consecutive stages of one block.
struct Stages(Instant);

impl Stages {
    fn start() -> Self {
        Stages(Instant::now())
    }

    /// Records the stage that just ended and starts the next.
    fn done(self, stage: &'static str) -> Self {
        metrics::histogram!(STAGE_SECONDS, "stage" => stage).record(self.0.elapsed().as_secs_f64());
        Stages::start()
    }
}

/// Keys of the rows a block reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrefetchKeys {
    pub orders: Vec<Uuid>,
    pub positions: Vec<(Uuid, i64)>,
    pub subaccounts: Vec<Uuid>,
    /// Regular fills' order ids, whose canceled status is read from Redis.
    pub fill_orders: Vec<Uuid>,
    pub needs_fresh_perpetual_markets: bool,
}

fn subaccount_of(sub: Option<&indexer_proto::protocol::v1::IndexerSubaccountId>) -> Option<Uuid> {
    sub.map(|s| ids::subaccount_uuid(&s.owner, s.number))
}

fn order_of(
    order: Option<&indexer_proto::protocol::v1::IndexerOrder>,
) -> Option<(Uuid, Uuid, u32)> {
    let id = order?.order_id.as_ref()?;
    let sub = subaccount_of(id.subaccount_id.as_ref())?;
    Some((
        ids::db_order_uuid(sub, id.client_id, id.clob_pair_id, id.order_flags),
        sub,
        id.clob_pair_id,
    ))
}

/// Which rows `block` reads (pure).
pub fn prefetch_keys(block: &DecodedBlock, caches: &Caches) -> PrefetchKeys {
    let mut orders = HashSet::new();
    let mut positions = HashSet::new();
    let mut subaccounts = HashSet::new();
    let mut fill_orders = HashSet::new();
    let mut fresh = false;
    let perpetual_of_clob = |clob: u32| {
        caches
            .perpetual_market_by_clob_pair(clob)
            .map(|m| i64::from(m.id))
    };
    for event in &block.events {
        match &event.payload {
            Payload::OrderFill(fill) => {
                let mut sides = vec![order_of(fill.maker_order.as_ref())];
                match &fill.taker_order {
                    Some(TakerOrder::Order(taker)) => {
                        sides.push(order_of(Some(taker)));
                        for (order, _, _) in sides.iter().flatten() {
                            fill_orders.insert(*order);
                        }
                    }
                    Some(TakerOrder::LiquidationOrder(l)) => {
                        if let (Some(sub), Some(perp)) = (
                            subaccount_of(l.liquidated.as_ref()),
                            perpetual_of_clob(l.clob_pair_id),
                        ) {
                            positions.insert((sub, perp));
                        }
                    }
                    None => {}
                }
                for (order, sub, clob) in sides.into_iter().flatten() {
                    orders.insert(order);
                    if let Some(perp) = perpetual_of_clob(clob) {
                        positions.insert((sub, perp));
                    }
                }
            }
            Payload::SubaccountUpdate(update) => {
                if let Some(sub) = subaccount_of(update.subaccount_id.as_ref()) {
                    for p in &update.updated_perpetual_positions {
                        positions.insert((sub, i64::from(p.perpetual_id)));
                    }
                }
            }
            Payload::Deleveraging(d) => {
                for sub in [
                    subaccount_of(d.liquidated.as_ref()),
                    subaccount_of(d.offsetting.as_ref()),
                ]
                .into_iter()
                .flatten()
                {
                    positions.insert((sub, i64::from(d.perpetual_id)));
                }
            }
            Payload::Transfer(t) => {
                for source in [t.sender.as_ref(), t.recipient.as_ref()]
                    .into_iter()
                    .flatten()
                {
                    if let Some(Source::SubaccountId(sub)) = &source.source {
                        subaccounts.insert(ids::subaccount_uuid(&sub.owner, sub.number));
                    }
                }
            }
            Payload::StatefulOrder(s) => {
                let id = match &s.event {
                    Some(Sof::OrderPlace(p)) => p.order.as_ref().and_then(|o| o.order_id.clone()),
                    Some(Sof::LongTermOrderPlacement(p)) => {
                        p.order.as_ref().and_then(|o| o.order_id.clone())
                    }
                    Some(Sof::ConditionalOrderPlacement(p)) => {
                        p.order.as_ref().and_then(|o| o.order_id.clone())
                    }
                    Some(Sof::TwapOrderPlacement(p)) => {
                        p.order.as_ref().and_then(|o| o.order_id.clone())
                    }
                    Some(Sof::OrderRemoval(r)) => r.removed_order_id.clone(),
                    Some(Sof::ConditionalOrderTriggered(t)) => t.triggered_order_id.clone(),
                    _ => None,
                };
                if let Some(id) = id {
                    if let Some(sub) = subaccount_of(id.subaccount_id.as_ref()) {
                        subaccounts.insert(sub);
                        orders.insert(ids::db_order_uuid(
                            sub,
                            id.client_id,
                            id.clob_pair_id,
                            id.order_flags,
                        ));
                    }
                }
            }
            Payload::LiquidityTier(_)
            | Payload::UpdatePerpetual(_)
            | Payload::UpdateClobPair(_) => fresh = true,
            _ => {}
        }
    }
    let mut keys = PrefetchKeys {
        orders: orders.into_iter().collect(),
        positions: positions.into_iter().collect(),
        subaccounts: subaccounts.into_iter().collect(),
        fill_orders: fill_orders.into_iter().collect(),
        needs_fresh_perpetual_markets: fresh,
    };
    keys.orders.sort();
    keys.positions.sort();
    keys.subaccounts.sort();
    keys.fill_orders.sort();
    keys
}

/// Loads the cached tables.
pub async fn load_caches(pool: &PgPool) -> Result<Caches, BlockError> {
    let mut conn = pool.acquire().await?;
    let rows = ender_state::load_cache_rows(&mut conn).await?;
    Caches::from_rows(&rows)
}

/// What a committed block leaves for after the commit.
#[derive(Debug, Clone)]
pub struct Committed {
    pub outcome: BlockOutcome,
    pub epoch: Uuid,
}

/// Processes and commits `block`. On success the caller applies `outcome.cache_delta` to its
/// caches; on failure nothing was written and the caches are untouched.
pub async fn apply_block(
    pool: &PgPool,
    caches: &Caches,
    block: &DecodedBlock,
    inputs: BlockInputs,
) -> Result<Committed, BlockError> {
    let keys = prefetch_keys(block, caches);
    let stage = Stages::start();
    let mut tx = pool.begin().await?;
    let rows =
        ender_state::load_block_rows(&mut tx, &keys.orders, &keys.positions, &keys.subaccounts)
            .await?;
    let stage = stage.done("prefetch");
    let open_interest = if candles::needs_open_interest(block, caches) {
        let map = ender_state::open_interest_by_perpetual(&mut tx).await?;
        Some(
            map.into_iter()
                .map(|(id, size)| (id as u32, Decimal::from(size)))
                .collect(),
        )
    } else {
        None
    };
    let fresh_perpetual_markets = if keys.needs_fresh_perpetual_markets {
        let rows = ender_state::load_perpetual_markets(&mut tx).await?;
        let mut map = BTreeMap::new();
        for row in &rows {
            let market = PerpetualMarket::from_row(row)?;
            map.insert(market.id, market);
        }
        Some(map)
    } else {
        None
    };
    let mut state = State::new(caches).with_rows(&rows)?;
    state.canceled = inputs.canceled;
    state.mid_prices = inputs.mid_prices;
    state.message_timestamp_ms = inputs.message_timestamp_ms;
    state.settings = inputs.settings;
    state.open_interest = open_interest;
    state.fresh_perpetual_markets = fresh_perpetual_markets;
    let stage = stage.done("prefetch_markets");
    let outcome = process_block(block, &state)?;
    let stage = stage.done("process");
    let summary =
        indexer_store::write::write_block(&mut tx, i64::from(block.height), &outcome.write).await?;
    let stage = stage.done("write");
    tx.commit().await?;
    stage.done("commit");
    Ok(Committed {
        outcome,
        epoch: summary.epoch,
    })
}
