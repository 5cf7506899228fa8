//! Websocket and vulcan messages (ingest.md §4.8–4.9, beyond.md §1).
//!
//! Handlers record [`Pending`] messages while a block is processed; [`assemble`] turns them into
//! outbox messages in publishing order: the block-height message, subaccount messages merged per
//! order and sorted by (transaction index, event index), one trade message per clob pair, market
//! and candle messages in generation order, then `to-vulcan` updates. Every websocket message
//! names its channel id so the writer can give it the channel's next `seq`.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use indexer_domain::time::to_iso;
use indexer_domain::{quantums, Decimal, PositionSide};
use indexer_proto::protocol::v1::IndexerSubaccountId;
use indexer_proto::socks;
use indexer_store::write::OutboxMessage;
use prost::Message;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::model::{Candle, Fill, LiquidityTier, Order, PerpetualMarket, Position};

/// Topic base names (the relay adds the deployment prefix).
pub mod topics {
    pub const SUBACCOUNTS: &str = "to-websockets-subaccounts";
    pub const TRADES: &str = "to-websockets-trades";
    pub const MARKETS: &str = "to-websockets-markets";
    pub const CANDLES: &str = "to-websockets-candles";
    pub const BLOCK_HEIGHT: &str = "to-websockets-block-height";
    pub const VULCAN: &str = "to-vulcan";
}

/// Websocket message versions (ingest.md §3.8).
pub mod versions {
    pub const SUBACCOUNTS: &str = "3.0.0";
    pub const TRADES: &str = "2.1.0";
    pub const MARKETS: &str = "1.0.0";
    pub const CANDLES: &str = "1.0.0";
    pub const BLOCK_HEIGHT: &str = "1.0.0";
}

/// `source: ender` on every websocket message: vulcan numbers its own `v4_subaccounts` messages
/// separately, and socks tells the two sequences apart by this header.
fn source_header() -> Vec<(String, String)> {
    vec![("source".to_owned(), "ender".to_owned())]
}

/// Channel ids whose messages carry a `seq` (beyond.md §1): the socks channel name and id.
pub mod channels {
    use indexer_domain::CandleResolution;
    use indexer_store::write::Channel;

    pub fn subaccount(owner: &str, number: u32) -> Channel {
        Channel {
            channel: "v4_subaccounts".into(),
            id: format!("{owner}/{number}"),
        }
    }
    pub fn trades(ticker: &str) -> Channel {
        Channel {
            channel: "v4_trades".into(),
            id: ticker.into(),
        }
    }
    pub fn markets() -> Channel {
        Channel {
            channel: "v4_markets".into(),
            id: "v4_markets".into(),
        }
    }
    pub fn candles(ticker: &str, resolution: CandleResolution) -> Channel {
        Channel {
            channel: "v4_candles".into(),
            id: format!("{ticker}/{resolution}"),
        }
    }
    pub fn block_height() -> Channel {
        Channel {
            channel: "v4_block_height".into(),
            id: "v4_block_height".into(),
        }
    }
}

/// A message recorded by a handler, before aggregation (lives for one block).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Pending {
    Subaccount(SubaccountPending),
    Trade {
        clob_pair_id: u32,
        ticker: String,
        transaction_index: i32,
        event_index: u32,
        trade: Value,
    },
    Market(Value),
    Candle {
        clob_pair_id: u32,
        candle: Candle,
    },
    Vulcan {
        key: Vec<u8>,
        payload: Vec<u8>,
        headers: Vec<(String, String)>,
    },
}

/// A JSON fragment serialised once, embedded as is in the message contents.
pub type Raw = Box<RawValue>;

fn raw<T: Serialize>(value: &T) -> Raw {
    serde_json::value::to_raw_value(value).expect("message fragments always serialise")
}

/// Any JSON value as a fragment (for the rare, small objects built with `json!`).
pub fn raw_value(value: &Value) -> Raw {
    raw(value)
}

/// The `contents` of a subaccount message (ingest.md §4.8; serve.md §5.8.1): empty lists and
/// absent objects are omitted.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubaccountContents {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fills: Vec<Raw>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub perpetual_positions: Vec<Raw>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub asset_positions: Vec<Raw>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub orders: Vec<Raw>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfers: Option<Raw>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trading_reward: Option<Raw>,
    pub block_height: String,
}

/// A subaccount message before aggregation.
#[derive(Debug, Clone)]
pub struct SubaccountPending {
    pub subaccount: IndexerSubaccountId,
    pub transaction_index: i32,
    pub event_index: u32,
    pub contents: SubaccountContents,
    /// Set for fill messages of an order: all of them in a block merge into the last one.
    pub fill_of_order: Option<Uuid>,
}

/// Serialises a number (or any `Display`) as a JSON string, as the reference renders bigint
/// and numeric columns.
struct Text<T>(T);

impl<T: std::fmt::Display> Serialize for Text<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

fn text<T: std::fmt::Display>(value: T) -> Text<T> {
    Text(value)
}

fn opt_text<T: std::fmt::Display + Copy>(value: &Option<T>) -> Option<Text<T>> {
    value.map(Text)
}

fn iso<S: serde::Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    indexer_domain::time::iso_millis::serialize(time, serializer)
}

fn iso_opt<S: serde::Serializer>(
    time: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    indexer_domain::time::iso_millis::option::serialize(time, serializer)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderJson<'a> {
    id: &'a Uuid,
    subaccount_id: &'a Uuid,
    client_id: Text<u32>,
    clob_pair_id: Text<u32>,
    side: &'static str,
    size: &'a Decimal,
    total_filled: &'a Decimal,
    price: &'a Decimal,
    #[serde(rename = "type")]
    order_type: &'static str,
    status: &'static str,
    time_in_force: &'static str,
    reduce_only: bool,
    order_flags: Text<u32>,
    good_til_block: Option<Text<u32>>,
    #[serde(serialize_with = "iso_opt")]
    good_til_block_time: Option<DateTime<Utc>>,
    created_at_height: Option<Text<u32>>,
    #[serde(serialize_with = "iso_opt")]
    created_at: Option<DateTime<Utc>>,
    client_metadata: Text<u32>,
    trigger_price: &'a Option<Decimal>,
    #[serde(serialize_with = "iso_opt")]
    updated_at: Option<DateTime<Utc>>,
    updated_at_height: Option<Text<u32>>,
    duration: &'a Option<String>,
    interval: &'a Option<String>,
    price_tolerance: &'a Option<String>,
    builder_address: &'a Option<String>,
    fee_ppm: &'a Option<String>,
    order_router_address: &'a Option<String>,
    post_only: bool,
    ticker: &'a str,
}

/// ORDER (§4.8): every column as stored, API time in force, `postOnly`, `ticker`.
pub fn order_json(order: &Order, ticker: &str) -> Raw {
    raw(&OrderJson {
        id: &order.id,
        subaccount_id: &order.subaccount_id,
        client_id: text(order.client_id),
        clob_pair_id: text(order.clob_pair_id),
        side: order.side.as_str(),
        size: &order.size,
        total_filled: &order.total_filled,
        price: &order.price,
        order_type: order.order_type.as_str(),
        status: order.status.as_str(),
        time_in_force: order.time_in_force.api().as_str(),
        reduce_only: order.reduce_only,
        order_flags: text(order.order_flags),
        good_til_block: opt_text(&order.good_til_block),
        good_til_block_time: order.good_til_block_time,
        created_at_height: opt_text(&order.created_at_height),
        created_at: order.created_at,
        client_metadata: text(order.client_metadata),
        trigger_price: &order.trigger_price,
        updated_at: order.updated_at,
        updated_at_height: opt_text(&order.updated_at_height),
        duration: &order.duration,
        interval: &order.interval,
        price_tolerance: &order.price_tolerance,
        builder_address: &order.builder_address,
        fee_ppm: &order.fee_ppm,
        order_router_address: &order.order_router_address,
        post_only: order.time_in_force.is_post_only(),
        ticker,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FillJson<'a> {
    id: &'a Uuid,
    subaccount_id: &'a Uuid,
    side: &'static str,
    liquidity: &'static str,
    #[serde(rename = "type")]
    fill_type: &'static str,
    clob_pair_id: Text<u32>,
    order_id: &'a Option<Uuid>,
    size: &'a Decimal,
    price: &'a Decimal,
    quote_amount: &'a Decimal,
    event_id: String,
    transaction_hash: &'a str,
    #[serde(serialize_with = "iso")]
    created_at: DateTime<Utc>,
    created_at_height: Text<u32>,
    client_metadata: Option<Text<u32>>,
    fee: &'a Decimal,
    affiliate_rev_share: &'a Decimal,
    builder_fee: &'a Option<Decimal>,
    builder_address: &'a Option<String>,
    order_router_address: &'a Option<String>,
    order_router_fee: &'a Option<Decimal>,
    position_size_before: &'a Option<Decimal>,
    entry_price_before: &'a Option<Decimal>,
    position_side_before: Option<&'static str>,
    ticker: &'a str,
}

/// FILL (§4.8): every column as stored, `eventId` in hex, plus `ticker`.
pub fn fill_json(fill: &Fill, ticker: &str) -> Raw {
    raw(&FillJson {
        id: &fill.id,
        subaccount_id: &fill.subaccount_id,
        side: fill.side.as_str(),
        liquidity: fill.liquidity.as_str(),
        fill_type: fill.fill_type.as_str(),
        clob_pair_id: text(fill.clob_pair_id),
        order_id: &fill.order_id,
        size: &fill.size,
        price: &fill.price,
        quote_amount: &fill.quote_amount,
        event_id: fill.event_id.to_hex(),
        transaction_hash: &fill.transaction_hash,
        created_at: fill.created_at,
        created_at_height: text(fill.created_at_height),
        client_metadata: opt_text(&fill.client_metadata),
        fee: &fill.fee,
        affiliate_rev_share: &fill.affiliate_rev_share,
        builder_fee: &fill.builder_fee,
        builder_address: &fill.builder_address,
        order_router_address: &fill.order_router_address,
        order_router_fee: &fill.order_router_fee,
        position_size_before: &fill.position_size_before,
        entry_price_before: &fill.entry_price_before,
        position_side_before: fill.position_side_before.map(|s| s.as_str()),
        ticker,
    })
}

/// realizedPnl of a position message: (LONG ? exit − entry : entry − exit) × sumClose + funding.
pub fn realized_pnl(position: &Position) -> Decimal {
    let exit = position.exit_price.clone().unwrap_or_else(Decimal::zero);
    let per_unit = match position.side {
        PositionSide::Long => &exit - &position.entry_price,
        PositionSide::Short => &position.entry_price - &exit,
    };
    (per_unit * &position.sum_close + &position.settled_funding).trim()
}

/// unrealizedPnl: size × (oracle price − entry price); `None` without an oracle price.
pub fn unrealized_pnl(position: &Position, oracle_price: Option<&Decimal>) -> Option<Decimal> {
    oracle_price.map(|price| (&position.size * (price - &position.entry_price)).trim())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PositionJson<'a> {
    address: &'a str,
    subaccount_number: u32,
    position_id: &'a Uuid,
    market: &'a str,
    side: &'static str,
    status: &'static str,
    size: &'a Decimal,
    max_size: &'a Decimal,
    net_funding: &'a Decimal,
    entry_price: &'a Decimal,
    exit_price: &'a Option<Decimal>,
    sum_open: &'a Decimal,
    sum_close: &'a Decimal,
    realized_pnl: Decimal,
    unrealized_pnl: Option<Decimal>,
}

/// POS (§4.8).
pub fn position_json(
    position: &Position,
    owner: &str,
    number: u32,
    ticker: &str,
    oracle_price: Option<&Decimal>,
) -> Raw {
    raw(&PositionJson {
        address: owner,
        subaccount_number: number,
        position_id: &position.id,
        market: ticker,
        side: position.side.as_str(),
        status: position.status.as_str(),
        size: &position.size,
        max_size: &position.max_size,
        net_funding: &position.settled_funding,
        entry_price: &position.entry_price,
        exit_price: &position.exit_price,
        sum_open: &position.sum_open,
        sum_close: &position.sum_close,
        realized_pnl: realized_pnl(position),
        unrealized_pnl: unrealized_pnl(position, oracle_price),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AssetPositionJson<'a> {
    address: &'a str,
    subaccount_number: u32,
    position_id: Uuid,
    asset_id: Text<u32>,
    symbol: &'a str,
    side: &'static str,
    size: &'a Decimal,
}

/// ASSET (§4.8).
pub fn asset_position_json(
    position_id: Uuid,
    owner: &str,
    number: u32,
    asset_id: u32,
    symbol: &str,
    is_long: bool,
    size: &Decimal,
) -> Raw {
    raw(&AssetPositionJson {
        address: owner,
        subaccount_number: number,
        position_id,
        asset_id: text(asset_id),
        symbol,
        side: if is_long { "LONG" } else { "SHORT" },
        size,
    })
}

fn dec(d: &Decimal) -> Value {
    Value::String(d.to_string())
}

fn opt_dec(d: &Option<Decimal>) -> Value {
    d.as_ref().map_or(Value::Null, dec)
}

fn opt_string(s: &Option<String>) -> Value {
    s.clone().map_or(Value::Null, Value::String)
}

/// MARKET (§4.8), the `trading` entry of a markets message.
pub fn market_json(market: &PerpetualMarket, tier: Option<&LiquidityTier>) -> Value {
    let params = market.params();
    let (initial, maintenance, lower, upper) = match tier {
        Some(t) => (
            dec(&quantums::initial_margin_fraction(t.initial_margin_ppm)),
            dec(&quantums::maintenance_margin_fraction(
                t.initial_margin_ppm,
                t.maintenance_fraction_ppm,
            )),
            opt_string(&t.open_interest_lower_cap),
            opt_string(&t.open_interest_upper_cap),
        ),
        None => (Value::Null, Value::Null, Value::Null, Value::Null),
    };
    json!({
        "id": market.id.to_string(),
        "clobPairId": market.clob_pair_id.to_string(),
        "ticker": market.ticker,
        "marketId": market.market_id,
        "status": market.status.as_str(),
        "quantumConversionExponent": market.quantum_conversion_exponent,
        "atomicResolution": market.atomic_resolution,
        "subticksPerTick": market.subticks_per_tick,
        "stepBaseQuantums": market.step_base_quantums,
        "marketType": market.market_type.as_str(),
        "initialMarginFraction": initial,
        "maintenanceMarginFraction": maintenance,
        "openInterestLowerCap": lower,
        "openInterestUpperCap": upper,
        "tickSize": dec(&params.tick_size()),
        "stepSize": dec(&params.step_size()),
        "priceChange24H": dec(&market.price_change_24h),
        "volume24H": dec(&market.volume_24h),
        "trades24H": market.trades_24h,
        "nextFundingRate": dec(&market.next_funding_rate),
        "openInterest": dec(&market.open_interest),
        "baseOpenInterest": opt_dec(&market.base_open_interest),
        "defaultFundingRate1H": opt_dec(&market.default_funding_rate_1h),
        "liquidityTierId": market.liquidity_tier_id,
    })
}

/// A candle message's contents: the row without `id`.
pub fn candle_json(candle: &Candle) -> Value {
    json!({
        "startedAt": to_iso(&candle.started_at),
        "ticker": candle.ticker,
        "resolution": candle.resolution.as_str(),
        "low": dec(&candle.low),
        "high": dec(&candle.high),
        "open": dec(&candle.open),
        "close": dec(&candle.close),
        "baseTokenVolume": dec(&candle.base_token_volume),
        "usdVolume": dec(&candle.usd_volume),
        "trades": candle.trades,
        "startingOpenInterest": dec(&candle.starting_open_interest),
        "orderbookMidPriceOpen": opt_dec(&candle.orderbook_mid_price_open),
        "orderbookMidPriceClose": opt_dec(&candle.orderbook_mid_price_close),
    })
}

/// A trade with its (transaction index, event index).
type OrderedTrade = (i32, u32, Value);

fn contents_string(value: &Value) -> String {
    serde_json::to_string(value).expect("JSON values always serialise")
}

/// Turns a block's pending messages into outbox messages in publishing order (§4.9).
pub fn assemble(
    height: u32,
    block_time: &DateTime<Utc>,
    pending: Vec<Pending>,
) -> Vec<OutboxMessage> {
    let mut out = vec![block_height_message(height, block_time)];
    let mut subaccounts = Vec::new();
    let mut trades: BTreeMap<u32, (String, Vec<OrderedTrade>)> = BTreeMap::new();
    let mut markets = Vec::new();
    let mut candles = Vec::new();
    let mut vulcan = Vec::new();
    for message in pending {
        match message {
            Pending::Subaccount(s) => subaccounts.push(s),
            Pending::Trade {
                clob_pair_id,
                ticker,
                transaction_index,
                event_index,
                trade,
            } => trades
                .entry(clob_pair_id)
                .or_insert_with(|| (ticker, Vec::new()))
                .1
                .push((transaction_index, event_index, trade)),
            Pending::Market(contents) => markets.push(contents),
            Pending::Candle {
                clob_pair_id,
                candle,
            } => candles.push((clob_pair_id, candle)),
            Pending::Vulcan {
                key,
                payload,
                headers,
            } => vulcan.push(OutboxMessage {
                topic: topics::VULCAN.into(),
                partition_key: Some(key),
                payload,
                headers,
                channel: None,
            }),
        }
    }
    out.extend(
        merge_subaccount_messages(subaccounts)
            .into_iter()
            .map(|s| subaccount_message(height, s)),
    );
    out.extend(
        trades.into_iter().map(|(clob_pair_id, (ticker, list))| {
            trade_message(height, clob_pair_id, &ticker, list)
        }),
    );
    out.extend(markets.into_iter().map(|contents| {
        OutboxMessage {
            topic: topics::MARKETS.into(),
            partition_key: None,
            payload: socks::MarketMessage {
                contents: contents_string(&contents),
                version: versions::MARKETS.into(),
            }
            .encode_to_vec(),
            headers: source_header(),
            channel: Some(channels::markets()),
        }
    }));
    out.extend(
        candles
            .into_iter()
            .map(|(clob_pair_id, candle)| candle_message(clob_pair_id, &candle)),
    );
    out.extend(vulcan);
    out
}

fn block_height_message(height: u32, block_time: &DateTime<Utc>) -> OutboxMessage {
    let message = socks::BlockHeightMessage {
        block_height: height.to_string(),
        time: to_iso(block_time),
        version: versions::BLOCK_HEIGHT.into(),
    };
    OutboxMessage {
        topic: topics::BLOCK_HEIGHT.into(),
        partition_key: None,
        payload: message.encode_to_vec(),
        headers: source_header(),
        channel: Some(channels::block_height()),
    }
}

/// Fill messages of the same order keep only the last one, carrying every fill of the order in
/// processing order; then everything is sorted by (transaction index, event index).
fn merge_subaccount_messages(messages: Vec<SubaccountPending>) -> Vec<SubaccountPending> {
    // The message that survives for each order: the one of its latest event.
    let mut last_by_order: HashMap<Uuid, usize> = HashMap::new();
    for (i, m) in messages.iter().enumerate() {
        if let Some(order) = m.fill_of_order {
            let replace = last_by_order.get(&order).is_none_or(|&j| {
                (m.transaction_index, m.event_index)
                    >= (messages[j].transaction_index, messages[j].event_index)
            });
            if replace {
                last_by_order.insert(order, i);
            }
        }
    }
    // Fills of the dropped messages, moved onto the surviving one in processing order. Orders
    // with a single fill message, the common case, move nothing.
    let mut fills_by_order: HashMap<Uuid, Vec<Raw>> = HashMap::new();
    let mut kept: Vec<SubaccountPending> = Vec::with_capacity(messages.len());
    for (i, m) in messages.into_iter().enumerate() {
        match m.fill_of_order {
            Some(order) if last_by_order[&order] != i => {
                fills_by_order
                    .entry(order)
                    .or_default()
                    .extend(m.contents.fills);
            }
            _ => kept.push(m),
        }
    }
    for m in &mut kept {
        if let Some(mut earlier) = m
            .fill_of_order
            .and_then(|order| fills_by_order.remove(&order))
        {
            earlier.append(&mut m.contents.fills);
            m.contents.fills = earlier;
        }
    }
    kept.sort_by_key(|m| (m.transaction_index, m.event_index));
    kept
}

fn subaccount_message(height: u32, s: SubaccountPending) -> OutboxMessage {
    let channel = channels::subaccount(&s.subaccount.owner, s.subaccount.number);
    let key = s.subaccount.encode_to_vec();
    let message = socks::SubaccountMessage {
        block_height: height.to_string(),
        transaction_index: s.transaction_index,
        event_index: s.event_index,
        contents: serde_json::to_string(&s.contents).expect("contents always serialise"),
        subaccount_id: Some(s.subaccount),
        version: versions::SUBACCOUNTS.into(),
    };
    OutboxMessage {
        topic: topics::SUBACCOUNTS.into(),
        partition_key: Some(key),
        payload: message.encode_to_vec(),
        headers: source_header(),
        channel: Some(channel),
    }
}

fn trade_message(
    height: u32,
    clob_pair_id: u32,
    ticker: &str,
    mut trades: Vec<OrderedTrade>,
) -> OutboxMessage {
    trades.sort_by_key(|(tx, ev, _)| (*tx, *ev));
    let list: Vec<Value> = trades.into_iter().map(|(_, _, t)| t).collect();
    let message = socks::TradeMessage {
        block_height: height.to_string(),
        contents: contents_string(&json!({ "trades": list })),
        clob_pair_id: clob_pair_id.to_string(),
        version: versions::TRADES.into(),
    };
    OutboxMessage {
        topic: topics::TRADES.into(),
        partition_key: None,
        payload: message.encode_to_vec(),
        headers: source_header(),
        channel: Some(channels::trades(ticker)),
    }
}

fn candle_message(clob_pair_id: u32, candle: &Candle) -> OutboxMessage {
    let message = socks::CandleMessage {
        contents: contents_string(&candle_json(candle)),
        clob_pair_id: clob_pair_id.to_string(),
        resolution: candle.resolution.socks_resolution(),
        version: versions::CANDLES.into(),
    };
    OutboxMessage {
        topic: topics::CANDLES.into(),
        partition_key: None,
        payload: message.encode_to_vec(),
        headers: source_header(),
        channel: Some(channels::candles(&candle.ticker, candle.resolution)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(
        owner: &str,
        tx: i32,
        ev: u32,
        fill_of: Option<Uuid>,
        fill_id: &str,
    ) -> SubaccountPending {
        let contents = SubaccountContents {
            fills: vec![raw_value(&json!({ "id": fill_id }))],
            block_height: "5".into(),
            ..Default::default()
        };
        SubaccountPending {
            subaccount: IndexerSubaccountId {
                owner: owner.into(),
                number: 0,
            },
            transaction_index: tx,
            event_index: ev,
            contents,
            fill_of_order: fill_of,
        }
    }

    #[test]
    fn fills_of_one_order_merge_into_its_last_message_and_everything_sorts() {
        let order = Uuid::from_u128(7);
        let merged = merge_subaccount_messages(vec![
            sub("a", 1, 2, Some(order), "f1"),
            sub("b", 0, 0, None, "other"),
            sub("a", 3, 0, Some(order), "f2"),
            sub("c", -1, 0, None, "end-block"),
        ]);
        let ids: Vec<(i32, u32)> = merged
            .iter()
            .map(|m| (m.transaction_index, m.event_index))
            .collect();
        assert_eq!(ids, [(-1, 0), (0, 0), (3, 0)]);
        assert_eq!(
            serde_json::to_string(&merged[2].contents).unwrap(),
            r#"{"fills":[{"id":"f1"},{"id":"f2"}],"blockHeight":"5"}"#
        );
    }

    #[test]
    fn trades_are_one_message_per_clob_pair_in_event_order() {
        let trade = |tx, ev, id: &str| Pending::Trade {
            clob_pair_id: 0,
            ticker: "BTC-USD".into(),
            transaction_index: tx,
            event_index: ev,
            trade: json!({ "id": id }),
        };
        let time = chrono::DateTime::from_timestamp(0, 0).unwrap();
        let out = assemble(5, &time, vec![trade(2, 0, "late"), trade(1, 4, "early")]);
        assert_eq!(out.len(), 2, "block height + one trade message");
        assert_eq!(out[0].topic, topics::BLOCK_HEIGHT);
        let message = socks::TradeMessage::decode(out[1].payload.as_slice()).unwrap();
        assert_eq!(
            message.contents,
            r#"{"trades":[{"id":"early"},{"id":"late"}]}"#
        );
        assert_eq!(out[1].channel, Some(channels::trades("BTC-USD")));
    }
}
