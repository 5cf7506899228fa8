//! What a block reads: the committed in-memory [`Caches`] and the prefetched rows of [`State`].
//!
//! Caches change only through [`Caches::apply`] with the [`CacheDelta`] of a committed block, so
//! a failed block leaves them exactly as they were.

use std::collections::{BTreeMap, HashMap, HashSet};

use indexer_domain::{CandleResolution, Decimal};
use indexer_store::read::ender_state::{BlockRows, CacheRows};
use uuid::Uuid;

use crate::error::BlockError;
use crate::model::{Asset, Candle, LiquidityTier, Market, Order, PerpetualMarket, Position};

/// The committed state ender keeps in memory (ingest.md §4.1).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Caches {
    pub markets: BTreeMap<u32, Market>,
    pub assets: BTreeMap<u32, Asset>,
    pub liquidity_tiers: BTreeMap<u32, LiquidityTier>,
    pub perpetual_markets: BTreeMap<u32, PerpetualMarket>,
    /// clob pair id → perpetual id.
    pub clob_pairs: HashMap<u32, u32>,
    /// The latest candle per (ticker, resolution).
    pub candles: HashMap<(String, CandleResolution), Candle>,
}

impl Caches {
    /// Builds the caches from the stored rows.
    pub fn from_rows(rows: &CacheRows) -> Result<Self, BlockError> {
        let mut caches = Caches::default();
        for row in &rows.markets {
            let market = Market::from_row(row)?;
            caches.markets.insert(market.id, market);
        }
        for row in &rows.assets {
            let asset = Asset::from_row(row)?;
            caches.assets.insert(asset.id, asset);
        }
        for row in &rows.liquidity_tiers {
            let tier = LiquidityTier::from_row(row)?;
            caches.liquidity_tiers.insert(tier.id, tier);
        }
        for row in &rows.perpetual_markets {
            caches.insert_perpetual_market(PerpetualMarket::from_row(row)?);
        }
        for row in &rows.candles {
            let candle = Candle::from_row(row)?;
            caches
                .candles
                .insert((candle.ticker.clone(), candle.resolution), candle);
        }
        Ok(caches)
    }

    fn insert_perpetual_market(&mut self, market: PerpetualMarket) {
        if let Some(old) = self.perpetual_markets.get(&market.id) {
            self.clob_pairs.remove(&old.clob_pair_id);
        }
        self.clob_pairs.insert(market.clob_pair_id, market.id);
        self.perpetual_markets.insert(market.id, market);
    }

    /// The perpetual market trading on `clob_pair_id`.
    pub fn perpetual_market_by_clob_pair(&self, clob_pair_id: u32) -> Option<&PerpetualMarket> {
        self.clob_pairs
            .get(&clob_pair_id)
            .and_then(|id| self.perpetual_markets.get(id))
    }

    /// Applies the changes of a committed block.
    pub fn apply(&mut self, delta: CacheDelta) {
        self.markets.extend(delta.markets);
        self.assets.extend(delta.assets);
        self.liquidity_tiers.extend(delta.liquidity_tiers);
        for (_, market) in delta.perpetual_markets {
            self.insert_perpetual_market(market);
        }
        for candle in delta.candles {
            self.candles
                .insert((candle.ticker.clone(), candle.resolution), candle);
        }
    }
}

/// Cache entries a block created or changed, applied after its commit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CacheDelta {
    pub markets: BTreeMap<u32, Market>,
    pub assets: BTreeMap<u32, Asset>,
    pub liquidity_tiers: BTreeMap<u32, LiquidityTier>,
    pub perpetual_markets: BTreeMap<u32, PerpetualMarket>,
    pub candles: Vec<Candle>,
}

/// Whether an order id is in one of vulcan's canceled sets (ingest.md §4.2 step 9, §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CanceledStatus {
    Canceled,
    BestEffortCanceled,
    #[default]
    NotCanceled,
}

/// Settings that change how events are processed.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessSettings {
    /// Order UUIDs whose stateful-order events are skipped entirely (`SKIP_STATEFUL_ORDER_UUIDS`).
    pub skip_stateful_order_uuids: HashSet<Uuid>,
    /// `SEND_WEBSOCKET_MESSAGES` (default true): when false no `to-websockets-*` message is
    /// written to the outbox (vulcan messages and Redis effects still are).
    pub send_websocket_messages: bool,
}

impl Default for ProcessSettings {
    fn default() -> Self {
        ProcessSettings {
            skip_stateful_order_uuids: HashSet::new(),
            send_websocket_messages: true,
        }
    }
}

/// Everything `process_block` reads.
#[derive(Debug, Clone)]
pub struct State<'a> {
    pub caches: &'a Caches,
    /// Prefetched orders by id.
    pub orders: HashMap<Uuid, Order>,
    /// Latest position (by openEventId, any status) per (subaccount, perpetual).
    pub positions: HashMap<(Uuid, u32), Position>,
    /// Subaccounts known to exist before the block (among those the block refers to).
    pub existing_subaccounts: HashSet<Uuid>,
    /// Canceled status per order UUID (absent = not canceled).
    pub canceled: HashMap<Uuid, CanceledStatus>,
    /// Σ OPEN LONG position size per perpetual id, when a new candle may start this block.
    pub open_interest: Option<HashMap<u32, Decimal>>,
    /// Median order-book mid price per ticker (absent when unknown).
    pub mid_prices: HashMap<String, Decimal>,
    /// Fresh perpetual market rows (current roundtable aggregates) for blocks that emit market
    /// messages; falls back to the caches.
    pub fresh_perpetual_markets: Option<BTreeMap<u32, PerpetualMarket>>,
    /// Kafka timestamp of the block message (epoch ms), for vulcan headers.
    pub message_timestamp_ms: Option<i64>,
    pub settings: ProcessSettings,
}

impl<'a> State<'a> {
    /// A state with only the caches (tests, blocks that read nothing).
    pub fn new(caches: &'a Caches) -> Self {
        State {
            caches,
            orders: HashMap::new(),
            positions: HashMap::new(),
            existing_subaccounts: HashSet::new(),
            canceled: HashMap::new(),
            open_interest: None,
            mid_prices: HashMap::new(),
            fresh_perpetual_markets: None,
            message_timestamp_ms: None,
            settings: ProcessSettings::default(),
        }
    }

    /// Adds the rows fetched from Postgres.
    pub fn with_rows(mut self, rows: &BlockRows) -> Result<Self, BlockError> {
        for row in &rows.orders {
            let order = Order::from_row(row)?;
            self.orders.insert(order.id, order);
        }
        for row in &rows.positions {
            let position = Position::from_row(row)?;
            self.positions
                .insert((position.subaccount_id, position.perpetual_id), position);
        }
        self.existing_subaccounts
            .extend(rows.existing_subaccounts.iter().copied());
        Ok(self)
    }
}
