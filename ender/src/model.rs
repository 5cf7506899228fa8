//! Ender's typed view of the rows it reads and writes (ingest.md §6.1), with exact decimals and
//! domain enums, plus the conversions to and from the store's column-shaped rows.

use chrono::{DateTime, Utc};
use indexer_domain::{
    CandleResolution, Decimal, EventId, MarketParams, OrderSide, OrderStatus, OrderType,
    PerpetualMarketStatus, PerpetualMarketType, PerpetualPositionStatus, PositionSide, TimeInForce,
};
use indexer_store::write as rows;
use uuid::Uuid;

use crate::error::BlockError;

/// A `markets` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Market {
    pub id: u32,
    pub pair: String,
    pub exponent: i32,
    pub min_price_change_ppm: u32,
    pub oracle_price: Option<Decimal>,
}

/// An `assets` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Asset {
    pub id: u32,
    pub symbol: String,
    pub atomic_resolution: i32,
    pub has_market: bool,
    pub market_id: Option<u32>,
}

/// A `liquidity_tiers` row; the caps are stored as decimal text.
#[derive(Debug, Clone, PartialEq)]
pub struct LiquidityTier {
    pub id: u32,
    pub name: String,
    pub initial_margin_ppm: u32,
    pub maintenance_fraction_ppm: u32,
    pub open_interest_lower_cap: Option<String>,
    pub open_interest_upper_cap: Option<String>,
}

/// A `perpetual_markets` row.
#[derive(Debug, Clone, PartialEq)]
pub struct PerpetualMarket {
    pub id: u32,
    pub clob_pair_id: u32,
    pub ticker: String,
    pub market_id: u32,
    pub status: PerpetualMarketStatus,
    pub price_change_24h: Decimal,
    pub volume_24h: Decimal,
    pub trades_24h: i32,
    pub next_funding_rate: Decimal,
    pub open_interest: Decimal,
    pub quantum_conversion_exponent: i32,
    pub atomic_resolution: i32,
    pub subticks_per_tick: u32,
    pub step_base_quantums: u64,
    pub liquidity_tier_id: u32,
    pub market_type: PerpetualMarketType,
    pub base_open_interest: Option<Decimal>,
    pub default_funding_rate_1h: Option<Decimal>,
}

impl PerpetualMarket {
    /// The unit-defining parameters of the market.
    pub fn params(&self) -> MarketParams {
        MarketParams {
            atomic_resolution: self.atomic_resolution,
            quantum_conversion_exponent: self.quantum_conversion_exponent,
            subticks_per_tick: self.subticks_per_tick,
            step_base_quantums: self.step_base_quantums,
        }
    }
}

/// An `orders` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub id: Uuid,
    pub subaccount_id: Uuid,
    pub client_id: u32,
    pub clob_pair_id: u32,
    pub side: OrderSide,
    pub size: Decimal,
    pub total_filled: Decimal,
    pub price: Decimal,
    pub order_type: OrderType,
    pub status: OrderStatus,
    pub time_in_force: TimeInForce,
    pub reduce_only: bool,
    pub order_flags: u32,
    pub good_til_block: Option<u32>,
    pub good_til_block_time: Option<DateTime<Utc>>,
    pub created_at_height: Option<u32>,
    pub client_metadata: u32,
    pub trigger_price: Option<Decimal>,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_at_height: Option<u32>,
    pub duration: Option<String>,
    pub interval: Option<String>,
    pub price_tolerance: Option<String>,
    pub builder_address: Option<String>,
    pub fee_ppm: Option<String>,
    pub order_router_address: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
}

/// A `perpetual_positions` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    pub id: Uuid,
    pub subaccount_id: Uuid,
    pub perpetual_id: u32,
    pub side: PositionSide,
    pub status: PerpetualPositionStatus,
    pub size: Decimal,
    pub max_size: Decimal,
    pub entry_price: Decimal,
    pub exit_price: Option<Decimal>,
    pub sum_open: Decimal,
    pub sum_close: Decimal,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at_height: u32,
    pub closed_at_height: Option<u32>,
    pub open_event_id: EventId,
    pub close_event_id: Option<EventId>,
    pub last_event_id: EventId,
    pub settled_funding: Decimal,
    pub total_realized_pnl: Option<Decimal>,
}

/// A `candles` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Candle {
    pub id: Uuid,
    pub started_at: DateTime<Utc>,
    pub ticker: String,
    pub resolution: CandleResolution,
    pub low: Decimal,
    pub high: Decimal,
    pub open: Decimal,
    pub close: Decimal,
    pub base_token_volume: Decimal,
    pub usd_volume: Decimal,
    pub trades: i32,
    pub starting_open_interest: Decimal,
    pub orderbook_mid_price_open: Option<Decimal>,
    pub orderbook_mid_price_close: Option<Decimal>,
}

fn dec(value: &bigdecimal::BigDecimal) -> Decimal {
    Decimal::from(value.clone())
}

fn big(value: &Decimal) -> bigdecimal::BigDecimal {
    value.trim().into_bigdecimal()
}

fn opt_big(value: &Option<Decimal>) -> Option<bigdecimal::BigDecimal> {
    value.as_ref().map(big)
}

fn parse<T: std::str::FromStr<Err = indexer_domain::Error>>(text: &str) -> Result<T, BlockError> {
    text.parse().map_err(BlockError::Domain)
}

fn unsigned(value: i64, column: &'static str) -> Result<u32, BlockError> {
    u32::try_from(value)
        .map_err(|_| BlockError::Corrupt(format!("{column} = {value} out of range")))
}

fn unsigned32(value: i32, column: &'static str) -> Result<u32, BlockError> {
    unsigned(i64::from(value), column)
}

impl Market {
    pub fn from_row(r: &rows::MarketRow) -> Result<Self, BlockError> {
        Ok(Market {
            id: unsigned32(r.id, "markets.id")?,
            pair: r.pair.clone(),
            exponent: r.exponent,
            min_price_change_ppm: unsigned32(r.min_price_change_ppm, "markets.minPriceChangePpm")?,
            oracle_price: r.oracle_price.as_ref().map(dec),
        })
    }

    pub fn to_row(&self) -> rows::MarketRow {
        rows::MarketRow {
            id: self.id as i32,
            pair: self.pair.clone(),
            exponent: self.exponent,
            min_price_change_ppm: self.min_price_change_ppm as i32,
            oracle_price: opt_big(&self.oracle_price),
        }
    }
}

impl Asset {
    pub fn from_row(r: &rows::AssetRow) -> Result<Self, BlockError> {
        Ok(Asset {
            id: r
                .id
                .parse()
                .map_err(|_| BlockError::Corrupt(format!("asset id {:?}", r.id)))?,
            symbol: r.symbol.clone(),
            atomic_resolution: r.atomic_resolution,
            has_market: r.has_market,
            market_id: r
                .market_id
                .map(|m| unsigned32(m, "assets.marketId"))
                .transpose()?,
        })
    }

    pub fn to_row(&self) -> rows::AssetRow {
        rows::AssetRow {
            id: self.id.to_string(),
            symbol: self.symbol.clone(),
            atomic_resolution: self.atomic_resolution,
            has_market: self.has_market,
            market_id: self.market_id.map(|m| m as i32),
        }
    }
}

impl LiquidityTier {
    pub fn from_row(r: &rows::LiquidityTierRow) -> Result<Self, BlockError> {
        Ok(LiquidityTier {
            id: unsigned32(r.id, "liquidity_tiers.id")?,
            name: r.name.clone(),
            initial_margin_ppm: unsigned(r.initial_margin_ppm, "initialMarginPpm")?,
            maintenance_fraction_ppm: unsigned(
                r.maintenance_fraction_ppm,
                "maintenanceFractionPpm",
            )?,
            open_interest_lower_cap: r.open_interest_lower_cap.clone(),
            open_interest_upper_cap: r.open_interest_upper_cap.clone(),
        })
    }

    pub fn to_row(&self) -> rows::LiquidityTierRow {
        rows::LiquidityTierRow {
            id: self.id as i32,
            name: self.name.clone(),
            initial_margin_ppm: i64::from(self.initial_margin_ppm),
            maintenance_fraction_ppm: i64::from(self.maintenance_fraction_ppm),
            open_interest_lower_cap: self.open_interest_lower_cap.clone(),
            open_interest_upper_cap: self.open_interest_upper_cap.clone(),
        }
    }
}

impl PerpetualMarket {
    pub fn from_row(r: &rows::PerpetualMarketRow) -> Result<Self, BlockError> {
        Ok(PerpetualMarket {
            id: unsigned(r.id, "perpetual_markets.id")?,
            clob_pair_id: unsigned(r.clob_pair_id, "clobPairId")?,
            ticker: r.ticker.clone(),
            market_id: unsigned32(r.market_id, "marketId")?,
            status: parse(&r.status)?,
            price_change_24h: dec(&r.price_change_24h),
            volume_24h: dec(&r.volume_24h),
            trades_24h: r.trades_24h,
            next_funding_rate: dec(&r.next_funding_rate),
            open_interest: dec(&r.open_interest),
            quantum_conversion_exponent: r.quantum_conversion_exponent,
            atomic_resolution: r.atomic_resolution,
            subticks_per_tick: unsigned32(r.subticks_per_tick, "subticksPerTick")?,
            step_base_quantums: u64::from(unsigned32(r.step_base_quantums, "stepBaseQuantums")?),
            liquidity_tier_id: unsigned32(r.liquidity_tier_id, "liquidityTierId")?,
            market_type: parse(&r.market_type)?,
            base_open_interest: r.base_open_interest.as_ref().map(dec),
            default_funding_rate_1h: r.default_funding_rate_1h.as_ref().map(dec),
        })
    }

    pub fn to_row(&self) -> rows::PerpetualMarketRow {
        rows::PerpetualMarketRow {
            id: i64::from(self.id),
            clob_pair_id: i64::from(self.clob_pair_id),
            ticker: self.ticker.clone(),
            market_id: self.market_id as i32,
            status: self.status.as_str().to_owned(),
            price_change_24h: big(&self.price_change_24h),
            volume_24h: big(&self.volume_24h),
            trades_24h: self.trades_24h,
            next_funding_rate: big(&self.next_funding_rate),
            open_interest: big(&self.open_interest),
            quantum_conversion_exponent: self.quantum_conversion_exponent,
            atomic_resolution: self.atomic_resolution,
            subticks_per_tick: self.subticks_per_tick as i32,
            step_base_quantums: self.step_base_quantums as i32,
            liquidity_tier_id: self.liquidity_tier_id as i32,
            market_type: self.market_type.as_str().to_owned(),
            base_open_interest: opt_big(&self.base_open_interest),
            default_funding_rate_1h: opt_big(&self.default_funding_rate_1h),
        }
    }
}

impl Order {
    pub fn from_row(r: &rows::OrderRow) -> Result<Self, BlockError> {
        Ok(Order {
            id: r.id,
            subaccount_id: r.subaccount_id,
            client_id: unsigned(r.client_id, "orders.clientId")?,
            clob_pair_id: unsigned(r.clob_pair_id, "orders.clobPairId")?,
            side: parse(&r.side)?,
            size: dec(&r.size),
            total_filled: dec(&r.total_filled),
            price: dec(&r.price),
            order_type: parse(&r.order_type)?,
            status: parse(&r.status)?,
            time_in_force: parse(&r.time_in_force)?,
            reduce_only: r.reduce_only,
            order_flags: unsigned(r.order_flags, "orders.orderFlags")?,
            good_til_block: r
                .good_til_block
                .map(|v| unsigned(v, "goodTilBlock"))
                .transpose()?,
            good_til_block_time: r.good_til_block_time,
            created_at_height: r
                .created_at_height
                .map(|v| unsigned(v, "createdAtHeight"))
                .transpose()?,
            client_metadata: unsigned(r.client_metadata, "clientMetadata")?,
            trigger_price: r.trigger_price.as_ref().map(dec),
            updated_at: r.updated_at,
            updated_at_height: r
                .updated_at_height
                .map(|v| unsigned(v, "updatedAtHeight"))
                .transpose()?,
            duration: r.duration.clone(),
            interval: r.interval.clone(),
            price_tolerance: r.price_tolerance.clone(),
            builder_address: r.builder_address.clone(),
            fee_ppm: r.fee_ppm.clone(),
            order_router_address: r.order_router_address.clone(),
            created_at: r.created_at,
        })
    }

    pub fn to_row(&self) -> rows::OrderRow {
        rows::OrderRow {
            id: self.id,
            subaccount_id: self.subaccount_id,
            client_id: i64::from(self.client_id),
            clob_pair_id: i64::from(self.clob_pair_id),
            side: self.side.as_str().to_owned(),
            size: big(&self.size),
            total_filled: big(&self.total_filled),
            price: big(&self.price),
            order_type: self.order_type.as_str().to_owned(),
            status: self.status.as_str().to_owned(),
            time_in_force: self.time_in_force.as_str().to_owned(),
            reduce_only: self.reduce_only,
            order_flags: i64::from(self.order_flags),
            good_til_block: self.good_til_block.map(i64::from),
            good_til_block_time: self.good_til_block_time,
            created_at_height: self.created_at_height.map(i64::from),
            client_metadata: i64::from(self.client_metadata),
            trigger_price: opt_big(&self.trigger_price),
            updated_at: self.updated_at,
            updated_at_height: self.updated_at_height.map(i64::from),
            duration: self.duration.clone(),
            interval: self.interval.clone(),
            price_tolerance: self.price_tolerance.clone(),
            builder_address: self.builder_address.clone(),
            fee_ppm: self.fee_ppm.clone(),
            order_router_address: self.order_router_address.clone(),
            created_at: self.created_at,
        }
    }
}

impl Position {
    pub fn from_row(r: &rows::PerpetualPositionRow) -> Result<Self, BlockError> {
        let event_id = |bytes: &[u8]| EventId::from_bytes(bytes).map_err(BlockError::Domain);
        Ok(Position {
            id: r.id,
            subaccount_id: r.subaccount_id,
            perpetual_id: unsigned(r.perpetual_id, "perpetualId")?,
            side: parse(&r.side)?,
            status: parse(&r.status)?,
            size: dec(&r.size),
            max_size: dec(&r.max_size),
            entry_price: dec(&r.entry_price),
            exit_price: r.exit_price.as_ref().map(dec),
            sum_open: dec(&r.sum_open),
            sum_close: dec(&r.sum_close),
            created_at: r.created_at,
            closed_at: r.closed_at,
            created_at_height: unsigned(r.created_at_height, "createdAtHeight")?,
            closed_at_height: r
                .closed_at_height
                .map(|v| unsigned(v, "closedAtHeight"))
                .transpose()?,
            open_event_id: event_id(&r.open_event_id)?,
            close_event_id: r.close_event_id.as_deref().map(event_id).transpose()?,
            last_event_id: event_id(&r.last_event_id)?,
            settled_funding: dec(&r.settled_funding),
            total_realized_pnl: r.total_realized_pnl.as_ref().map(dec),
        })
    }

    pub fn to_row(&self) -> rows::PerpetualPositionRow {
        rows::PerpetualPositionRow {
            id: self.id,
            subaccount_id: self.subaccount_id,
            perpetual_id: i64::from(self.perpetual_id),
            side: self.side.as_str().to_owned(),
            status: self.status.as_str().to_owned(),
            size: big(&self.size),
            max_size: big(&self.max_size),
            entry_price: big(&self.entry_price),
            exit_price: opt_big(&self.exit_price),
            sum_open: big(&self.sum_open),
            sum_close: big(&self.sum_close),
            created_at: self.created_at,
            closed_at: self.closed_at,
            created_at_height: i64::from(self.created_at_height),
            closed_at_height: self.closed_at_height.map(i64::from),
            open_event_id: self.open_event_id.as_bytes().to_vec(),
            close_event_id: self.close_event_id.map(|e| e.as_bytes().to_vec()),
            last_event_id: self.last_event_id.as_bytes().to_vec(),
            settled_funding: big(&self.settled_funding),
            total_realized_pnl: opt_big(&self.total_realized_pnl),
        }
    }
}

impl Candle {
    pub fn from_row(r: &rows::CandleRow) -> Result<Self, BlockError> {
        Ok(Candle {
            id: r.id,
            started_at: r.started_at,
            ticker: r.ticker.clone(),
            resolution: parse(&r.resolution)?,
            low: dec(&r.low),
            high: dec(&r.high),
            open: dec(&r.open),
            close: dec(&r.close),
            base_token_volume: dec(&r.base_token_volume),
            usd_volume: dec(&r.usd_volume),
            trades: r.trades,
            starting_open_interest: dec(&r.starting_open_interest),
            orderbook_mid_price_open: r.orderbook_mid_price_open.as_ref().map(dec),
            orderbook_mid_price_close: r.orderbook_mid_price_close.as_ref().map(dec),
        })
    }

    pub fn to_row(&self) -> rows::CandleRow {
        rows::CandleRow {
            id: self.id,
            started_at: self.started_at,
            ticker: self.ticker.clone(),
            resolution: self.resolution.as_str().to_owned(),
            low: big(&self.low),
            high: big(&self.high),
            open: big(&self.open),
            close: big(&self.close),
            base_token_volume: big(&self.base_token_volume),
            usd_volume: big(&self.usd_volume),
            trades: self.trades,
            starting_open_interest: big(&self.starting_open_interest),
            orderbook_mid_price_open: opt_big(&self.orderbook_mid_price_open),
            orderbook_mid_price_close: opt_big(&self.orderbook_mid_price_close),
        }
    }
}

/// Decimal → stored `numeric` (trailing zeros stripped, as the reference stores them).
pub fn to_numeric(value: &Decimal) -> bigdecimal::BigDecimal {
    big(value)
}

/// Optional decimal → stored `numeric`.
pub fn to_numeric_opt(value: &Option<Decimal>) -> Option<bigdecimal::BigDecimal> {
    opt_big(value)
}

/// A `fills` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Fill {
    pub id: Uuid,
    pub subaccount_id: Uuid,
    pub side: OrderSide,
    pub liquidity: indexer_domain::Liquidity,
    pub fill_type: indexer_domain::FillType,
    pub clob_pair_id: u32,
    pub order_id: Option<Uuid>,
    pub size: Decimal,
    pub price: Decimal,
    pub quote_amount: Decimal,
    pub event_id: EventId,
    pub transaction_hash: String,
    pub created_at: DateTime<Utc>,
    pub created_at_height: u32,
    pub client_metadata: Option<u32>,
    pub fee: Decimal,
    pub affiliate_rev_share: Decimal,
    pub builder_address: Option<String>,
    pub builder_fee: Option<Decimal>,
    pub order_router_address: Option<String>,
    pub order_router_fee: Option<Decimal>,
    pub position_size_before: Option<Decimal>,
    pub entry_price_before: Option<Decimal>,
    pub position_side_before: Option<PositionSide>,
}

impl Fill {
    pub fn to_row(&self) -> rows::FillRow {
        rows::FillRow {
            id: self.id,
            subaccount_id: self.subaccount_id,
            side: self.side.as_str().to_owned(),
            liquidity: self.liquidity.as_str().to_owned(),
            fill_type: self.fill_type.as_str().to_owned(),
            clob_pair_id: i64::from(self.clob_pair_id),
            order_id: self.order_id,
            size: big(&self.size),
            price: big(&self.price),
            quote_amount: big(&self.quote_amount),
            event_id: self.event_id.as_bytes().to_vec(),
            transaction_hash: self.transaction_hash.clone(),
            created_at: self.created_at,
            created_at_height: i64::from(self.created_at_height),
            client_metadata: self.client_metadata.map(i64::from),
            fee: self.fee.to_string(),
            affiliate_rev_share: big(&self.affiliate_rev_share),
            builder_address: self.builder_address.clone(),
            builder_fee: self.builder_fee.as_ref().map(|f| f.to_string()),
            order_router_address: self.order_router_address.clone(),
            order_router_fee: self.order_router_fee.as_ref().map(|f| f.to_string()),
            position_size_before: opt_big(&self.position_size_before),
            entry_price_before: opt_big(&self.entry_price_before),
            position_side_before: self.position_side_before.map(|s| s.as_str().to_owned()),
        }
    }
}
