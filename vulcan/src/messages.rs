//! Websocket message contents vulcan publishes (ingest.md §5.3–§5.5, serve.md §5.8.1 / §5.8.3),
//! with keys in the reference's order. Pure functions of the order and, when loaded, its row.

use chrono::{TimeZone, Utc};
use indexer_domain::time::to_iso;
use indexer_domain::{Decimal, OrderType, TimeInForce};
use indexer_proto::protocol::v1::indexer_order::GoodTilOneof;
use indexer_proto::protocol::v1::IndexerOrder;
use indexer_store::write::OrderRow;
use serde::Serialize;

use crate::markets::Market;
use crate::plan::OrderRef;

/// Websocket message versions (ingest.md §3.8).
pub const ORDERBOOK_VERSION: &str = "1.0.0";
pub const SUBACCOUNT_VERSION: &str = "3.0.0";

/// `{"bids":[[price,size]]}` or `{"asks":[[price,size]]}`: the new total at one level.
pub fn orderbook_contents(is_buy: bool, price: &str, size: &str) -> String {
    #[derive(Serialize)]
    struct Bids<'a> {
        bids: [[&'a str; 2]; 1],
    }
    #[derive(Serialize)]
    struct Asks<'a> {
        asks: [[&'a str; 2]; 1],
    }
    let level = [[price, size]];
    if is_buy {
        serde_json::to_string(&Bids { bids: level })
    } else {
        serde_json::to_string(&Asks { asks: level })
    }
    .expect("plain strings serialize")
}

/// `{"orders":[order],"blockHeight":"…"}`.
pub fn subaccount_contents<T: Serialize>(order: &T, block_height: Option<i64>) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Contents<'a, T> {
        orders: [&'a T; 1],
        #[serde(skip_serializing_if = "Option::is_none")]
        block_height: Option<String>,
    }
    serde_json::to_string(&Contents {
        orders: [order],
        block_height: block_height.map(|h| h.to_string()),
    })
    .expect("order json serializes")
}

/// `LIMIT` / `STOP_LIMIT` / `TAKE_PROFIT` by condition type (the reference ignores the flags here).
fn order_type(condition_type: i32) -> &'static str {
    match condition_type {
        1 => OrderType::StopLimit.as_str(),
        2 => OrderType::TakeProfit.as_str(),
        _ => OrderType::Limit.as_str(),
    }
}

fn time_in_force(tif: i32) -> TimeInForce {
    TimeInForce::from_proto(tif).unwrap_or(TimeInForce::Gtt)
}

fn good_til_block(order: &IndexerOrder) -> Option<String> {
    match order.good_til_oneof {
        Some(GoodTilOneof::GoodTilBlock(b)) => Some(b.to_string()),
        _ => None,
    }
}

fn good_til_block_time(order: &IndexerOrder) -> Option<String> {
    match order.good_til_oneof {
        Some(GoodTilOneof::GoodTilBlockTime(t)) => Utc
            .timestamp_opt(i64::from(t), 0)
            .single()
            .map(|t| to_iso(&t)),
        _ => None,
    }
}

fn trigger_price(order: &IndexerOrder, market: &Market) -> Option<String> {
    (order.condition_type != 0).then(|| market.price(order.conditional_order_trigger_subticks))
}

fn row_time(t: &Option<chrono::DateTime<Utc>>) -> Option<String> {
    t.as_ref().map(to_iso)
}

fn dec(d: &bigdecimal::BigDecimal) -> String {
    Decimal::from(d.clone()).to_string()
}

/// Row fields every order message adds when the order has a Postgres row.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RowTimes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at_height: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at_height: Option<String>,
}

impl RowTimes {
    pub fn of(row: Option<&OrderRow>) -> Self {
        row.map(|r| RowTimes {
            created_at_height: r.created_at_height.map(|h| h.to_string()),
            updated_at: row_time(&r.updated_at),
            updated_at_height: r.updated_at_height.map(|h| h.to_string()),
        })
        .unwrap_or_default()
    }
}

/// A placed order (ingest.md §5.3 step 6).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlacedOrder {
    pub id: String,
    pub subaccount_id: String,
    pub client_id: String,
    pub clob_pair_id: String,
    pub side: &'static str,
    pub size: String,
    pub price: String,
    pub status: &'static str,
    #[serde(rename = "type")]
    pub order_type: &'static str,
    pub time_in_force: &'static str,
    pub post_only: bool,
    pub reduce_only: bool,
    pub order_flags: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub good_til_block: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub good_til_block_time: Option<String>,
    pub ticker: String,
    #[serde(flatten)]
    pub row: RowTimes,
    pub client_metadata: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger_price: Option<String>,
}

fn side_str(side: i32) -> &'static str {
    if side == 1 {
        "BUY"
    } else {
        "SELL"
    }
}

impl PlacedOrder {
    pub fn new(
        order: &OrderRef,
        io: &IndexerOrder,
        price: &str,
        size: &str,
        status: &'static str,
        row: Option<&OrderRow>,
    ) -> Self {
        let tif = time_in_force(io.time_in_force);
        PlacedOrder {
            id: order.uuid.to_string(),
            subaccount_id: order.subaccount_uuid.to_string(),
            client_id: order.id.client_id.to_string(),
            clob_pair_id: order.id.clob_pair_id.to_string(),
            side: side_str(io.side),
            size: size.to_string(),
            price: price.to_string(),
            status,
            order_type: order_type(io.condition_type),
            time_in_force: tif.api().as_str(),
            post_only: tif.is_post_only(),
            reduce_only: io.reduce_only,
            order_flags: order.id.order_flags.to_string(),
            good_til_block: good_til_block(io),
            good_til_block_time: good_til_block_time(io),
            ticker: order.market.ticker.clone(),
            row: RowTimes::of(row),
            client_metadata: io.client_metadata.to_string(),
            trigger_price: trigger_price(io, &order.market),
        }
    }
}

/// A removed order built from the Redis order (ingest.md §5.5 step 4).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovedOrder {
    pub id: String,
    pub subaccount_id: String,
    pub client_id: String,
    pub clob_pair_id: String,
    pub side: &'static str,
    pub size: String,
    pub total_optimistic_filled: String,
    pub price: String,
    #[serde(rename = "type")]
    pub order_type: &'static str,
    pub status: &'static str,
    pub time_in_force: &'static str,
    pub post_only: bool,
    pub reduce_only: bool,
    pub order_flags: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub good_til_block: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub good_til_block_time: Option<String>,
    pub ticker: String,
    pub removal_reason: &'static str,
    #[serde(flatten)]
    pub row: RowTimes,
    pub client_metadata: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger_price: Option<String>,
}

impl RemovedOrder {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        order: &OrderRef,
        io: &IndexerOrder,
        price: &str,
        size: &str,
        total_filled: u64,
        status: &'static str,
        removal_reason: &'static str,
        row: Option<&OrderRow>,
    ) -> Self {
        let tif = time_in_force(io.time_in_force);
        RemovedOrder {
            id: order.uuid.to_string(),
            subaccount_id: order.subaccount_uuid.to_string(),
            client_id: order.id.client_id.to_string(),
            clob_pair_id: order.id.clob_pair_id.to_string(),
            side: side_str(io.side),
            size: size.to_string(),
            total_optimistic_filled: order.market.size(total_filled),
            price: price.to_string(),
            order_type: order_type(io.condition_type),
            status,
            time_in_force: tif.api().as_str(),
            post_only: tif.is_post_only(),
            reduce_only: io.reduce_only,
            order_flags: order.id.order_flags.to_string(),
            good_til_block: good_til_block(io),
            good_til_block_time: good_til_block_time(io),
            ticker: order.market.ticker.clone(),
            removal_reason,
            row: RowTimes::of(row),
            client_metadata: io.client_metadata.to_string(),
            trigger_price: trigger_price(io, &order.market),
        }
    }
}

/// A stateful order canceled by its owner, built from its Postgres row (ingest.md §5.5 step 3).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CanceledStatefulOrder {
    pub id: String,
    pub subaccount_id: String,
    pub client_id: String,
    pub clob_pair_id: String,
    pub side: String,
    pub size: String,
    pub total_filled: String,
    pub price: String,
    #[serde(rename = "type")]
    pub order_type: String,
    pub status: &'static str,
    pub time_in_force: &'static str,
    pub post_only: bool,
    pub reduce_only: bool,
    pub order_flags: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub good_til_block: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub good_til_block_time: Option<String>,
    pub ticker: String,
    pub removal_reason: &'static str,
    #[serde(flatten)]
    pub row: RowTimes,
    pub client_metadata: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger_price: Option<String>,
}

fn row_tif(row: &OrderRow) -> TimeInForce {
    row.time_in_force.parse().unwrap_or(TimeInForce::Gtt)
}

impl CanceledStatefulOrder {
    pub fn new(row: &OrderRow, ticker: &str, removal_reason: &'static str) -> Self {
        let tif = row_tif(row);
        CanceledStatefulOrder {
            id: row.id.to_string(),
            subaccount_id: row.subaccount_id.to_string(),
            client_id: row.client_id.to_string(),
            clob_pair_id: row.clob_pair_id.to_string(),
            side: row.side.clone(),
            size: dec(&row.size),
            total_filled: dec(&row.total_filled),
            price: dec(&row.price),
            order_type: row.order_type.clone(),
            status: "CANCELED",
            time_in_force: tif.api().as_str(),
            post_only: tif.is_post_only(),
            reduce_only: row.reduce_only,
            order_flags: row.order_flags.to_string(),
            good_til_block: row.good_til_block.map(|b| b.to_string()),
            good_til_block_time: row_time(&row.good_til_block_time),
            ticker: ticker.to_string(),
            removal_reason,
            row: RowTimes::of(Some(row)),
            client_metadata: row.client_metadata.to_string(),
            trigger_price: row.trigger_price.as_ref().map(dec),
        }
    }
}

/// A removal of an order vulcan does not hold (ingest.md §5.5 step 4, first bullet): the id
/// fields, plus the row's fields that are set (`reduceOnly` only when true, as in the reference).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MissingOrderRemoval {
    pub id: String,
    pub subaccount_id: String,
    pub client_id: String,
    pub clob_pair_id: String,
    pub status: &'static str,
    pub order_flags: String,
    pub ticker: String,
    pub removal_reason: &'static str,
    #[serde(flatten)]
    pub row: RowTimes,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_metadata: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reduce_only: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_in_force: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_filled: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub good_til_block: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub good_til_block_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger_price: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub order_type: Option<String>,
}

impl MissingOrderRemoval {
    pub fn new(
        order: &OrderRef,
        status: &'static str,
        removal_reason: &'static str,
        row: Option<&OrderRow>,
    ) -> Self {
        MissingOrderRemoval {
            id: order.uuid.to_string(),
            subaccount_id: order.subaccount_uuid.to_string(),
            client_id: order.id.client_id.to_string(),
            clob_pair_id: order.id.clob_pair_id.to_string(),
            status,
            order_flags: order.id.order_flags.to_string(),
            ticker: order.market.ticker.clone(),
            removal_reason,
            row: RowTimes::of(row),
            price: row.map(|r| dec(&r.price)),
            size: row.map(|r| dec(&r.size)),
            client_metadata: row.map(|r| r.client_metadata.to_string()),
            reduce_only: row.and_then(|r| r.reduce_only.then_some(true)),
            side: row.map(|r| r.side.clone()),
            time_in_force: row.map(|r| row_tif(r).api().as_str()),
            total_filled: row.map(|r| dec(&r.total_filled)),
            good_til_block: row.and_then(|r| r.good_til_block.map(|b| b.to_string())),
            good_til_block_time: row.and_then(|r| row_time(&r.good_til_block_time)),
            trigger_price: row.and_then(|r| r.trigger_price.as_ref().map(dec)),
            order_type: row.map(|r| r.order_type.clone()),
        }
    }
}
