//! `process_block`: one decoded block and the state it reads in, every row, message, Redis effect
//! and cache change out. Pure: no I/O, and the clock only feeds the per-handler time metric.
//!
//! Events are applied one at a time on [`Working`], an overlay over the prefetched state, in the
//! two passes of ingest.md §4.3 (unordered events, then ordered ones; the reverse for the genesis
//! block). Each handler builds its messages right after its own writes, so it sees exactly the
//! rows and caches the reference handler sees.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use indexer_domain::{ids, Decimal};
use indexer_proto::protocol::v1::IndexerSubaccountId;
use indexer_store::write::{
    AffiliateReferredUserRow, AssetPositionRow, BlockRow, BlockWrite, FundingIndexUpdateRow,
    OraclePriceRow, RowChange, SubaccountRow, TendermintEventRow, TradingRewardRow, TransactionRow,
    TransferRow, VaultRow, WalletCredit,
};
use uuid::Uuid;

use crate::candles::{self, BlockTrade};
use crate::decode::{DecodedBlock, DecodedEvent};
use crate::error::BlockError;
use crate::handlers;
use crate::messages::{self, Pending, SubaccountPending};
use crate::model::{Asset, Fill, LiquidityTier, Market, Order, PerpetualMarket, Position};
use crate::state::{CacheDelta, CanceledStatus, State};
use crate::validate;

/// A Redis side effect (ingest.md §7.1). Written to the outbox in the block's transaction and
/// applied by the relay exactly once (see `redis_io`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RedisEffect {
    /// `v4/state_filled_quantums/<order>` = quantums, TTL 300 s.
    StateFilledQuantums { order_id: Uuid, quantums: u64 },
    /// RPUSH a premium sample (1-hour rate) onto `v4/nextFunding/<ticker>`.
    PushNextFundingSample { ticker: String, rate: Decimal },
    /// DEL `v4/nextFunding/<ticker>` (a funding tick).
    ClearNextFundingSamples { ticker: String },
}

/// Something worth a log line and a metric that does not fail the block.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub event: String,
    pub kind: &'static str,
    pub message: String,
}

/// Everything a block produces.
#[derive(Debug, Clone, Default)]
pub struct BlockOutcome {
    pub write: BlockWrite,
    pub redis: Vec<RedisEffect>,
    pub cache_delta: CacheDelta,
    pub notices: Vec<Notice>,
}

/// Applies `block` to `state`.
pub fn process_block(block: &DecodedBlock, state: &State<'_>) -> Result<BlockOutcome, BlockError> {
    let skips = validate::validate_block(block, state)?;
    let mut w = Working::new(block, state);
    w.write_block_rows();
    let (first, second): (Vec<_>, Vec<_>) = block
        .events
        .iter()
        .zip(skips.iter())
        .partition(|(event, _)| !event.payload.is_ordered());
    let passes = if block.height == 0 {
        [second, first]
    } else {
        [first, second]
    };
    let mut handler_time: BTreeMap<&'static str, Duration> = BTreeMap::new();
    for (event, skip) in passes.into_iter().flatten() {
        let started = Instant::now();
        handlers::apply(&mut w, event, *skip)?;
        *handler_time.entry(event.payload.handler()).or_default() += started.elapsed();
    }
    let started = Instant::now();
    candles::apply_block(&mut w)?;
    handler_time.insert("candles", started.elapsed());
    record_handler_time(handler_time);
    Ok(w.finish())
}

/// Histogram of the time one block spent in each handler (all its events of that kind), for
/// finding the handler a slow block spends its CPU in. Metrics only: the outcome never depends
/// on the clock.
pub const HANDLER_SECONDS: &str = "ender_handler_seconds";

fn record_handler_time(handler_time: BTreeMap<&'static str, Duration>) {
    for (handler, time) in handler_time {
        metrics::histogram!(HANDLER_SECONDS, "handler" => handler).record(time.as_secs_f64());
    }
}

/// The block's mutable overlay over [`State`], plus everything written so far.
pub struct Working<'s, 'c> {
    pub block: &'s DecodedBlock,
    pub state: &'s State<'c>,
    pub height: u32,
    pub time: DateTime<Utc>,
    pub markets: BTreeMap<u32, Market>,
    pub assets: BTreeMap<u32, Asset>,
    pub liquidity_tiers: BTreeMap<u32, LiquidityTier>,
    pub perpetual_markets: BTreeMap<u32, (RowChange, PerpetualMarket)>,
    clob_pairs: HashMap<u32, u32>,
    orders: HashMap<Uuid, Order>,
    dirty_orders: Touched,
    positions: HashMap<Uuid, Position>,
    latest_position: HashMap<(Uuid, u32), Uuid>,
    dirty_positions: Touched,
    subaccounts_known: HashSet<Uuid>,
    subaccount_rows: BTreeMap<Uuid, SubaccountRow>,
    subaccount_order: Vec<Uuid>,
    wallets: BTreeMap<String, Decimal>,
    asset_positions: BTreeMap<Uuid, AssetPositionRow>,
    vaults: BTreeMap<String, VaultRow>,
    pub write: BlockWrite,
    pub fills: Vec<Fill>,
    pub trades: Vec<BlockTrade>,
    pub pending: Vec<Pending>,
    pub redis: Vec<RedisEffect>,
    pub notices: Vec<Notice>,
    pub new_candles: Vec<crate::model::Candle>,
}

impl<'s, 'c> Working<'s, 'c> {
    fn new(block: &'s DecodedBlock, state: &'s State<'c>) -> Self {
        let mut latest_position = HashMap::new();
        let mut positions = HashMap::new();
        for (key, position) in &state.positions {
            latest_position.insert(*key, position.id);
            positions.insert(position.id, position.clone());
        }
        Working {
            block,
            state,
            height: block.height,
            time: block.time,
            markets: BTreeMap::new(),
            assets: BTreeMap::new(),
            liquidity_tiers: BTreeMap::new(),
            perpetual_markets: BTreeMap::new(),
            clob_pairs: HashMap::new(),
            orders: state.orders.clone(),
            dirty_orders: Touched::default(),
            positions,
            latest_position,
            dirty_positions: Touched::default(),
            subaccounts_known: state.existing_subaccounts.clone(),
            subaccount_rows: BTreeMap::new(),
            subaccount_order: Vec::new(),
            wallets: BTreeMap::new(),
            asset_positions: BTreeMap::new(),
            vaults: BTreeMap::new(),
            write: BlockWrite::default(),
            fills: Vec::new(),
            trades: Vec::new(),
            pending: Vec::new(),
            redis: Vec::new(),
            notices: Vec::new(),
            new_candles: Vec::new(),
        }
    }

    fn write_block_rows(&mut self) {
        let height = i64::from(self.height);
        self.write.block = Some(BlockRow {
            block_height: height,
            time: self.time,
        });
        self.write.transactions = self
            .block
            .tx_hashes
            .iter()
            .enumerate()
            .map(|(i, hash)| TransactionRow {
                id: ids::transaction_uuid(self.height, i as u32),
                block_height: height,
                transaction_index: i as i32,
                transaction_hash: hash.clone(),
            })
            .collect();
        self.write.tendermint_events = self
            .block
            .events
            .iter()
            .map(|e| TendermintEventRow {
                id: e.id.as_bytes().to_vec(),
                block_height: height,
                transaction_index: e.transaction_index(),
                event_index: e.event_index as i32,
            })
            .collect();
    }

    /// Transaction hash of an event; block events have none (fills and transfers are
    /// transaction events, so this is only empty for events that never reach a hash column).
    pub fn tx_hash(&self, event: &DecodedEvent) -> String {
        match event.placement {
            indexer_domain::EventPlacement::Transaction(i) => {
                self.block.tx_hashes[i as usize].clone()
            }
            _ => String::new(),
        }
    }

    // ---- caches with overlay -------------------------------------------------------------

    pub fn market(&self, id: u32) -> Option<&Market> {
        self.markets
            .get(&id)
            .or_else(|| self.state.caches.markets.get(&id))
    }

    pub fn asset(&self, id: u32) -> Option<&Asset> {
        self.assets
            .get(&id)
            .or_else(|| self.state.caches.assets.get(&id))
    }

    pub fn liquidity_tier(&self, id: u32) -> Option<&LiquidityTier> {
        self.liquidity_tiers
            .get(&id)
            .or_else(|| self.state.caches.liquidity_tiers.get(&id))
    }

    pub fn perpetual_market(&self, id: u32) -> Option<&PerpetualMarket> {
        self.perpetual_markets
            .get(&id)
            .map(|(_, m)| m)
            .or_else(|| self.state.caches.perpetual_markets.get(&id))
    }

    pub fn perpetual_market_by_clob_pair(&self, clob_pair_id: u32) -> Option<&PerpetualMarket> {
        if let Some(id) = self.clob_pairs.get(&clob_pair_id) {
            return self.perpetual_market(*id);
        }
        self.state
            .caches
            .perpetual_market_by_clob_pair(clob_pair_id)
            .filter(|m| !self.perpetual_markets.contains_key(&m.id))
    }

    /// Every perpetual market id, overlay included.
    pub fn perpetual_market_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .state
            .caches
            .perpetual_markets
            .keys()
            .copied()
            .collect();
        ids.extend(self.perpetual_markets.keys().copied());
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// A perpetual market with the freshest aggregates known (for market messages).
    pub fn perpetual_market_for_message(&self, id: u32) -> Option<PerpetualMarket> {
        let mut market = self.perpetual_market(id)?.clone();
        if let Some(fresh) = self
            .state
            .fresh_perpetual_markets
            .as_ref()
            .and_then(|m| m.get(&id))
        {
            market.price_change_24h = fresh.price_change_24h.clone();
            market.volume_24h = fresh.volume_24h.clone();
            market.trades_24h = fresh.trades_24h;
            market.next_funding_rate = fresh.next_funding_rate.clone();
            market.open_interest = fresh.open_interest.clone();
            market.base_open_interest = fresh.base_open_interest.clone();
        }
        Some(market)
    }

    pub fn set_market(&mut self, market: Market) {
        self.markets.insert(market.id, market);
    }

    pub fn set_asset(&mut self, asset: Asset) {
        self.assets.insert(asset.id, asset);
    }

    pub fn set_liquidity_tier(&mut self, tier: LiquidityTier) {
        self.liquidity_tiers.insert(tier.id, tier);
    }

    pub fn set_perpetual_market(&mut self, change: RowChange, market: PerpetualMarket) {
        let change = match self.perpetual_markets.get(&market.id) {
            Some((RowChange::Insert, _)) => RowChange::Insert,
            _ => change,
        };
        if let Some(old) = self.perpetual_market(market.id) {
            let old_clob = old.clob_pair_id;
            self.clob_pairs.remove(&old_clob);
        }
        self.clob_pairs.insert(market.clob_pair_id, market.id);
        self.perpetual_markets.insert(market.id, (change, market));
    }

    // ---- rows ---------------------------------------------------------------------------

    pub fn order(&self, id: &Uuid) -> Option<&Order> {
        self.orders.get(id)
    }

    pub fn put_order(&mut self, order: Order) {
        self.dirty_orders.touch(order.id);
        self.orders.insert(order.id, order);
    }

    pub fn latest_position(&self, subaccount: Uuid, perpetual: u32) -> Option<&Position> {
        self.latest_position
            .get(&(subaccount, perpetual))
            .and_then(|id| self.positions.get(id))
    }

    pub fn put_position(&mut self, position: Position) {
        let key = (position.subaccount_id, position.perpetual_id);
        let is_latest = self
            .latest_position(key.0, key.1)
            .is_none_or(|latest| latest.open_event_id <= position.open_event_id);
        if is_latest {
            self.latest_position.insert(key, position.id);
        }
        self.dirty_positions.touch(position.id);
        self.positions.insert(position.id, position);
    }

    pub fn subaccount_exists(&self, id: &Uuid) -> bool {
        self.subaccounts_known.contains(id)
    }

    /// Inserts the subaccount or refreshes its updatedAt / updatedAtHeight.
    pub fn upsert_subaccount(&mut self, owner: &str, number: u32) -> Uuid {
        let id = ids::subaccount_uuid(owner, number);
        if !self.subaccount_rows.contains_key(&id) {
            self.subaccount_order.push(id);
        }
        self.subaccount_rows.insert(
            id,
            SubaccountRow {
                id,
                address: owner.to_owned(),
                subaccount_number: number as i32,
                updated_at: self.time,
                updated_at_height: i64::from(self.height),
            },
        );
        self.subaccounts_known.insert(id);
        id
    }

    /// Inserts the wallet if missing.
    pub fn ensure_wallet(&mut self, address: &str) {
        self.wallets
            .entry(address.to_owned())
            .or_insert_with(Decimal::zero);
    }

    /// Adds trading rewards to a wallet (inserting it if missing).
    pub fn credit_wallet(&mut self, address: &str, amount: &Decimal) {
        let entry = self
            .wallets
            .entry(address.to_owned())
            .or_insert_with(Decimal::zero);
        *entry = &*entry + amount;
    }

    pub fn upsert_asset_position(&mut self, row: AssetPositionRow) {
        self.asset_positions.insert(row.id, row);
    }

    pub fn upsert_vault(&mut self, row: VaultRow) {
        let row = match self.vaults.get(&row.address) {
            Some(existing) => VaultRow {
                created_at: existing.created_at,
                ..row
            },
            None => row,
        };
        self.vaults.insert(row.address.clone(), row);
    }

    pub fn insert_fill(&mut self, fill: Fill) {
        self.write.fills.push(fill.to_row());
        self.fills.push(fill);
    }

    pub fn insert_transfer(&mut self, row: TransferRow) {
        self.write.transfers.push(row);
    }

    pub fn insert_oracle_price(&mut self, row: OraclePriceRow) {
        self.write.oracle_prices.push(row);
    }

    pub fn insert_funding_index_update(&mut self, row: FundingIndexUpdateRow) {
        self.write.funding_index_updates.push(row);
    }

    pub fn insert_trading_reward(&mut self, row: TradingRewardRow) {
        self.write.trading_rewards.push(row);
    }

    pub fn insert_affiliate(&mut self, row: AffiliateReferredUserRow) {
        self.write.affiliate_referred_users.push(row);
    }

    // ---- messages -----------------------------------------------------------------------

    pub fn subaccount_message(
        &mut self,
        event: &DecodedEvent,
        subaccount: &IndexerSubaccountId,
        contents: messages::SubaccountContents,
        fill_of_order: Option<Uuid>,
    ) {
        let mut contents = contents;
        contents.block_height = self.height.to_string();
        self.pending.push(Pending::Subaccount(SubaccountPending {
            subaccount: subaccount.clone(),
            transaction_index: event.transaction_index(),
            event_index: event.event_index,
            contents,
            fill_of_order,
        }));
    }

    pub fn notice(&mut self, event: &DecodedEvent, kind: &'static str, message: impl Into<String>) {
        self.notices.push(Notice {
            event: event.describe(),
            kind,
            message: message.into(),
        });
    }

    pub fn canceled_status(&self, order: &Uuid) -> CanceledStatus {
        self.state.canceled.get(order).copied().unwrap_or_default()
    }

    /// POS json for a position of `perpetual`, with the oracle price as currently visible.
    pub fn position_json(
        &mut self,
        event: &DecodedEvent,
        position: &Position,
        owner: &str,
        number: u32,
    ) -> messages::Raw {
        let market = self.perpetual_market(position.perpetual_id);
        let ticker = market.map(|m| m.ticker.clone()).unwrap_or_default();
        let price = market
            .and_then(|m| self.market(m.market_id))
            .and_then(|m| m.oracle_price.clone());
        if price.is_none() {
            self.notice(
                event,
                "missing_oracle_price",
                format!("no oracle price for {ticker}; unrealizedPnl is null"),
            );
        }
        messages::position_json(position, owner, number, &ticker, price.as_ref())
    }

    fn finish(mut self) -> BlockOutcome {
        let mut write = std::mem::take(&mut self.write);
        write.markets = self.markets.values().map(Market::to_row).collect();
        write.assets = self
            .assets
            .values()
            .filter(|a| !self.state.caches.assets.contains_key(&a.id))
            .map(Asset::to_row)
            .collect();
        write.liquidity_tiers = self
            .liquidity_tiers
            .values()
            .map(LiquidityTier::to_row)
            .collect();
        write.perpetual_markets = self
            .perpetual_markets
            .values()
            .map(|(change, m)| (*change, m.to_row()))
            .collect();
        write.subaccounts = self
            .subaccount_order
            .iter()
            .map(|id| self.subaccount_rows[id].clone())
            .collect();
        write.wallets = self
            .wallets
            .iter()
            .map(|(address, delta)| WalletCredit {
                address: address.clone(),
                trading_rewards_delta: crate::model::to_numeric(delta),
            })
            .collect();
        write.orders = self
            .dirty_orders
            .order
            .iter()
            .map(|id| self.orders[id].to_row())
            .collect();
        write.perpetual_positions = self
            .dirty_positions
            .order
            .iter()
            .map(|id| self.positions[id].to_row())
            .collect();
        write.asset_positions = self.asset_positions.into_values().collect();
        write.vaults = self.vaults.into_values().collect();
        write.candles = self.new_candles.iter().map(|c| c.to_row()).collect();
        write.outbox = messages::assemble(self.height, &self.time, self.pending);
        // When the indexer received the block (Kafka timestamp), for end-to-end latency.
        if let Some(ms) = self.state.message_timestamp_ms {
            for message in write
                .outbox
                .iter_mut()
                .filter(|m| m.topic.starts_with("to-websockets-"))
            {
                message
                    .headers
                    .push(("message_received_timestamp".to_owned(), ms.to_string()));
            }
        }
        if !self.state.settings.send_websocket_messages {
            write
                .outbox
                .retain(|m| !m.topic.starts_with("to-websockets-"));
        }
        write
            .outbox
            .extend(self.redis.iter().map(crate::redis_io::outbox_message));
        let cache_delta = CacheDelta {
            markets: self.markets,
            assets: self.assets,
            liquidity_tiers: self.liquidity_tiers,
            perpetual_markets: self
                .perpetual_markets
                .into_iter()
                .map(|(id, (_, m))| (id, m))
                .collect(),
            candles: self.new_candles,
        };
        BlockOutcome {
            write,
            redis: self.redis,
            cache_delta,
            notices: self.notices,
        }
    }
}

/// Row ids changed by the block, in first-change order (so writes are deterministic).
#[derive(Debug, Default)]
struct Touched {
    order: Vec<Uuid>,
    seen: HashSet<Uuid>,
}

impl Touched {
    fn touch(&mut self, id: Uuid) {
        if self.seen.insert(id) {
            self.order.push(id);
        }
    }
}
