//! Rows ender writes for one block, one struct per table (ingest.md §6.1). Fields hold the column
//! values exactly as stored: decimals as `BigDecimal` (already trimmed by the caller), enum columns
//! as their text spelling, event ids as their 12 bytes.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// `blocks`.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockRow {
    pub block_height: i64,
    pub time: DateTime<Utc>,
}

/// `transactions`.
#[derive(Debug, Clone, PartialEq)]
pub struct TransactionRow {
    pub id: Uuid,
    pub block_height: i64,
    pub transaction_index: i32,
    pub transaction_hash: String,
}

/// `tendermint_events`.
#[derive(Debug, Clone, PartialEq)]
pub struct TendermintEventRow {
    pub id: Vec<u8>,
    pub block_height: i64,
    pub transaction_index: i32,
    pub event_index: i32,
}

/// `subaccounts`: inserted, or on conflict only `updatedAt` / `updatedAtHeight` change.
#[derive(Debug, Clone, PartialEq)]
pub struct SubaccountRow {
    pub id: Uuid,
    pub address: String,
    pub subaccount_number: i32,
    pub updated_at: DateTime<Utc>,
    pub updated_at_height: i64,
}

/// `wallets`: inserted if missing (totalVolume 0); `trading_rewards_delta` is added to
/// `totalTradingRewards` (the initial value of a new wallet).
#[derive(Debug, Clone, PartialEq)]
pub struct WalletCredit {
    pub address: String,
    pub trading_rewards_delta: BigDecimal,
}

/// `markets`: upserted with every column (ender owns them all).
#[derive(Debug, Clone, PartialEq)]
pub struct MarketRow {
    pub id: i32,
    pub pair: String,
    pub exponent: i32,
    pub min_price_change_ppm: i32,
    pub oracle_price: Option<BigDecimal>,
}

/// `oracle_prices`.
#[derive(Debug, Clone, PartialEq)]
pub struct OraclePriceRow {
    pub id: Uuid,
    pub market_id: i32,
    pub price: BigDecimal,
    pub effective_at: DateTime<Utc>,
    pub effective_at_height: i64,
}

/// `assets` (insert only).
#[derive(Debug, Clone, PartialEq)]
pub struct AssetRow {
    pub id: String,
    pub symbol: String,
    pub atomic_resolution: i32,
    pub has_market: bool,
    pub market_id: Option<i32>,
}

/// `asset_positions`: upserted (size and isLong change).
#[derive(Debug, Clone, PartialEq)]
pub struct AssetPositionRow {
    pub id: Uuid,
    pub asset_id: String,
    pub subaccount_id: Uuid,
    pub size: BigDecimal,
    pub is_long: bool,
}

/// `liquidity_tiers`: upserted with every column.
#[derive(Debug, Clone, PartialEq)]
pub struct LiquidityTierRow {
    pub id: i32,
    pub name: String,
    pub initial_margin_ppm: i64,
    pub maintenance_fraction_ppm: i64,
    pub open_interest_lower_cap: Option<String>,
    pub open_interest_upper_cap: Option<String>,
}

/// `perpetual_markets`. A new row is inserted with every column; an existing row gets only the
/// columns ender owns (everything but the 24 h aggregates, open interest and next funding rate,
/// which roundtable maintains).
#[derive(Debug, Clone, PartialEq)]
pub struct PerpetualMarketRow {
    pub id: i64,
    pub clob_pair_id: i64,
    pub ticker: String,
    pub market_id: i32,
    pub status: String,
    pub price_change_24h: BigDecimal,
    pub volume_24h: BigDecimal,
    pub trades_24h: i32,
    pub next_funding_rate: BigDecimal,
    pub open_interest: BigDecimal,
    pub quantum_conversion_exponent: i32,
    pub atomic_resolution: i32,
    pub subticks_per_tick: i32,
    pub step_base_quantums: i32,
    pub liquidity_tier_id: i32,
    pub market_type: String,
    pub base_open_interest: Option<BigDecimal>,
    pub default_funding_rate_1h: Option<BigDecimal>,
}

/// Whether a perpetual market row is new in this block or an update of an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowChange {
    Insert,
    Update,
}

/// `orders`: upserted with every column (the caller carries `createdAt` over from the
/// existing row where the reference keeps it).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRow {
    pub id: Uuid,
    pub subaccount_id: Uuid,
    pub client_id: i64,
    pub clob_pair_id: i64,
    pub side: String,
    pub size: BigDecimal,
    pub total_filled: BigDecimal,
    pub price: BigDecimal,
    pub order_type: String,
    pub status: String,
    pub time_in_force: String,
    pub reduce_only: bool,
    pub order_flags: i64,
    pub good_til_block: Option<i64>,
    pub good_til_block_time: Option<DateTime<Utc>>,
    pub created_at_height: Option<i64>,
    pub client_metadata: i64,
    pub trigger_price: Option<BigDecimal>,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_at_height: Option<i64>,
    pub duration: Option<String>,
    pub interval: Option<String>,
    pub price_tolerance: Option<String>,
    pub builder_address: Option<String>,
    pub fee_ppm: Option<String>,
    pub order_router_address: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
}

/// `fills` (append only).
#[derive(Debug, Clone, PartialEq)]
pub struct FillRow {
    pub id: Uuid,
    pub subaccount_id: Uuid,
    pub side: String,
    pub liquidity: String,
    pub fill_type: String,
    pub clob_pair_id: i64,
    pub order_id: Option<Uuid>,
    pub size: BigDecimal,
    pub price: BigDecimal,
    pub quote_amount: BigDecimal,
    pub event_id: Vec<u8>,
    pub transaction_hash: String,
    pub created_at: DateTime<Utc>,
    pub created_at_height: i64,
    pub client_metadata: Option<i64>,
    pub fee: String,
    pub affiliate_rev_share: BigDecimal,
    pub builder_address: Option<String>,
    pub builder_fee: Option<String>,
    pub order_router_address: Option<String>,
    pub order_router_fee: Option<String>,
    pub position_size_before: Option<BigDecimal>,
    pub entry_price_before: Option<BigDecimal>,
    pub position_side_before: Option<String>,
}

/// `perpetual_positions`: upserted with every column.
#[derive(Debug, Clone, PartialEq)]
pub struct PerpetualPositionRow {
    pub id: Uuid,
    pub subaccount_id: Uuid,
    pub perpetual_id: i64,
    pub side: String,
    pub status: String,
    pub size: BigDecimal,
    pub max_size: BigDecimal,
    pub entry_price: BigDecimal,
    pub exit_price: Option<BigDecimal>,
    pub sum_open: BigDecimal,
    pub sum_close: BigDecimal,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at_height: i64,
    pub closed_at_height: Option<i64>,
    pub open_event_id: Vec<u8>,
    pub close_event_id: Option<Vec<u8>>,
    pub last_event_id: Vec<u8>,
    pub settled_funding: BigDecimal,
    pub total_realized_pnl: Option<BigDecimal>,
}

/// `transfers` (append only).
#[derive(Debug, Clone, PartialEq)]
pub struct TransferRow {
    pub id: Uuid,
    pub sender_subaccount_id: Option<Uuid>,
    pub recipient_subaccount_id: Option<Uuid>,
    pub sender_wallet_address: Option<String>,
    pub recipient_wallet_address: Option<String>,
    pub asset_id: String,
    pub size: BigDecimal,
    pub event_id: Vec<u8>,
    pub transaction_hash: String,
    pub created_at: DateTime<Utc>,
    pub created_at_height: i64,
}

/// `funding_index_updates` (append only).
#[derive(Debug, Clone, PartialEq)]
pub struct FundingIndexUpdateRow {
    pub id: Uuid,
    pub perpetual_id: i64,
    pub event_id: Vec<u8>,
    pub rate: BigDecimal,
    pub oracle_price: BigDecimal,
    pub funding_index: BigDecimal,
    pub effective_at: DateTime<Utc>,
    pub effective_at_height: i64,
}

/// `trading_rewards` (append only).
#[derive(Debug, Clone, PartialEq)]
pub struct TradingRewardRow {
    pub id: Uuid,
    pub address: String,
    pub block_time: DateTime<Utc>,
    pub block_height: i64,
    pub amount: BigDecimal,
}

/// `affiliate_referred_users` (insert; a second registration of a referee fails the block).
#[derive(Debug, Clone, PartialEq)]
pub struct AffiliateReferredUserRow {
    pub referee_address: String,
    pub affiliate_address: String,
    pub referred_at_block: i64,
}

/// `vaults`: inserted, or on conflict only status and updatedAt change.
#[derive(Debug, Clone, PartialEq)]
pub struct VaultRow {
    pub address: String,
    pub clob_pair_id: i64,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `candles`: upserted with every column.
#[derive(Debug, Clone, PartialEq)]
pub struct CandleRow {
    pub id: Uuid,
    pub started_at: DateTime<Utc>,
    pub ticker: String,
    pub resolution: String,
    pub low: BigDecimal,
    pub high: BigDecimal,
    pub open: BigDecimal,
    pub close: BigDecimal,
    pub base_token_volume: BigDecimal,
    pub usd_volume: BigDecimal,
    pub trades: i32,
    pub starting_open_interest: BigDecimal,
    pub orderbook_mid_price_open: Option<BigDecimal>,
    pub orderbook_mid_price_close: Option<BigDecimal>,
}

/// A message for the outbox relay. When `channel` is set, the writer assigns the channel's next
/// sequence number and puts `seq`, `epoch` and `channel` into the headers (beyond.md §1).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    pub topic: String,
    pub partition_key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    /// Extra Kafka headers (name → value).
    pub headers: Vec<(String, String)>,
    pub channel: Option<Channel>,
}

/// A websocket channel id whose messages are sequenced, e.g. (`v4_subaccounts`, `dydx1…/0`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Channel {
    pub channel: String,
    pub id: String,
}
