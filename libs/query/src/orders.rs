//! Orders (serve.md §3.5, §4.3.6, §4.3.7): Postgres rows merged with the open orders vulcan keeps
//! in Redis (`v4/subaccountOrderIds/{subaccount}`, `v4/orders/{order}`).

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeZone, Utc};
use indexer_cache::Cache;
use indexer_domain::{order_id, OrderSide, TimeInForce};
use indexer_proto::protocol::v1::indexer_order::GoodTilOneof;
use indexer_proto::redis::RedisOrder;
use prost::Message;
use serde::Serialize;
use sqlx::{PgPool, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::json::{IntString, IsoTime, Numeric};
use crate::markets::MarketsSnapshot;
use crate::sql::{push_any_of, push_none_of};
use crate::subaccounts::SubaccountSelector;
use crate::QueryError;

/// Status of an order known only from Redis (placed off chain, not yet seen in a block).
pub const BEST_EFFORT_OPENED: &str = "BEST_EFFORT_OPENED";

/// `OrderResponseObject`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OrderResponseObject)]
pub struct Order {
    pub id: Uuid,
    pub subaccount_id: Uuid,
    pub client_id: IntString,
    pub clob_pair_id: IntString,
    #[schema(schema_with = crate::json::enums::order_side)]
    pub side: String,
    /// Human size.
    pub size: String,
    pub total_filled: String,
    /// Human price.
    pub price: String,
    #[serde(rename = "type")]
    #[schema(schema_with = crate::json::enums::order_type)]
    pub order_type: String,
    #[schema(schema_with = crate::json::enums::api_order_status)]
    pub status: String,
    #[schema(schema_with = crate::json::enums::api_time_in_force)]
    pub time_in_force: String,
    pub reduce_only: bool,
    pub order_flags: IntString,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub good_til_block: Option<IntString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub good_til_block_time: Option<IsoTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at_height: Option<IntString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<IsoTime>,
    pub client_metadata: IntString,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger_price: Option<String>,
    /// Present (possibly null) on orders known to Postgres; absent on Redis-only orders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Option<IsoTime>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at_height: Option<Option<IntString>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub builder_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fee_ppm: Option<String>,
    pub order_router_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_tolerance: Option<String>,
    pub post_only: bool,
    pub ticker: String,
    pub subaccount_number: i32,
}

#[derive(Debug, Clone, sqlx::FromRow)]
#[sqlx(rename_all = "camelCase")]
struct OrderRow {
    id: Uuid,
    subaccount_id: Uuid,
    client_id: IntString,
    clob_pair_id: IntString,
    side: String,
    size: Numeric,
    total_filled: Numeric,
    price: Numeric,
    #[sqlx(rename = "type")]
    order_type: String,
    status: String,
    time_in_force: String,
    reduce_only: bool,
    order_flags: IntString,
    good_til_block: Option<IntString>,
    good_til_block_time: Option<IsoTime>,
    created_at_height: Option<IntString>,
    created_at: Option<IsoTime>,
    client_metadata: IntString,
    trigger_price: Option<Numeric>,
    updated_at: Option<IsoTime>,
    updated_at_height: Option<IntString>,
    builder_address: Option<String>,
    fee_ppm: Option<String>,
    order_router_address: Option<String>,
    duration: Option<String>,
    interval: Option<String>,
    price_tolerance: Option<String>,
}

const ORDER_COLUMNS: &str = r#"SELECT id, "subaccountId", "clientId", "clobPairId", side, size,
    "totalFilled", price, type, status, "timeInForce", "reduceOnly", "orderFlags", "goodTilBlock",
    "goodTilBlockTime", "createdAtHeight", "createdAt", "clientMetadata", "triggerPrice",
    "updatedAt", "updatedAtHeight", "builderAddress", "feePpm", "orderRouterAddress", duration,
    "interval", "priceTolerance"
    FROM orders"#;

/// Filters of `GET /v4/orders`.
#[derive(Debug, Clone, PartialEq)]
pub struct OrdersFilter {
    pub clob_pair_id: Option<i64>,
    pub side: Option<OrderSide>,
    pub order_type: Option<String>,
    pub include_types: Vec<String>,
    pub exclude_types: Vec<String>,
    /// API statuses to keep (empty: all).
    pub statuses: Vec<String>,
    pub good_til_block_before_or_at: Option<i64>,
    pub good_til_block_after: Option<i64>,
    pub good_til_block_time_before_or_at: Option<DateTime<Utc>>,
    pub good_til_block_time_after: Option<DateTime<Utc>>,
    /// Latest expiry first (the default) or last.
    pub descending: bool,
    pub limit: u32,
}

impl OrdersFilter {
    fn has_good_til_block_filter(&self) -> bool {
        self.good_til_block_before_or_at.is_some() || self.good_til_block_after.is_some()
    }

    fn has_good_til_block_time_filter(&self) -> bool {
        self.good_til_block_time_before_or_at.is_some() || self.good_til_block_time_after.is_some()
    }

    /// Whether a Redis order passes the ticker, side and expiry filters (an order lacking the
    /// filtered expiry kind is dropped).
    fn keeps_redis_order(&self, order: &Order) -> bool {
        let block = order.good_til_block.map(|b| b.0);
        let time = order.good_til_block_time.map(|t| t.0);
        self.clob_pair_id
            .is_none_or(|id| order.clob_pair_id.0 == id)
            && self.side.is_none_or(|side| order.side == side.as_str())
            && (!self.has_good_til_block_filter() || block.is_some())
            && self
                .good_til_block_before_or_at
                .is_none_or(|max| block.is_some_and(|b| b <= max))
            && self
                .good_til_block_after
                .is_none_or(|min| block.is_some_and(|b| b > min))
            && (!self.has_good_til_block_time_filter() || time.is_some())
            && self
                .good_til_block_time_before_or_at
                .is_none_or(|max| time.is_some_and(|t| t <= max))
            && self
                .good_til_block_time_after
                .is_none_or(|min| time.is_some_and(|t| t > min))
    }
}

/// `GET /v4/orders` (+ parent): Postgres and Redis merged, filtered by status, sorted by expiry
/// and cut to `limit` (serve.md §4.3.6 steps 1–6).
pub async fn orders(
    pool: &PgPool,
    cache: &Cache,
    markets: &MarketsSnapshot,
    selector: &SubaccountSelector,
    filter: &OrdersFilter,
) -> Result<Vec<Order>, QueryError> {
    let numbers = subaccount_numbers(selector);
    let ids: Vec<Uuid> = numbers.keys().copied().collect();
    let mut postgres = postgres_orders(pool, &ids, filter).await?;
    let skip_redis = filter.order_type.as_deref().is_some_and(|t| t != "LIMIT");
    let mut redis = if skip_redis {
        Vec::new()
    } else {
        redis_orders(cache, markets, &ids).await?
    };
    redis.retain(|order| filter.keeps_redis_order(order));

    let known: HashSet<Uuid> = postgres.iter().map(|row| row.id).collect();
    let missing: Vec<Uuid> = redis
        .iter()
        .map(|order| order.id)
        .filter(|id| !known.contains(id))
        .collect();
    if !missing.is_empty() {
        postgres.extend(orders_by_id(pool, &missing).await?);
    }

    let mut by_id: HashMap<Uuid, Order> =
        redis.into_iter().map(|order| (order.id, order)).collect();
    let mut merged = Vec::with_capacity(postgres.len() + by_id.len());
    for row in postgres {
        let number = numbers.get(&row.subaccount_id).copied().unwrap_or_default();
        let stored = postgres_order(markets, row, number)?;
        merged.push(match by_id.remove(&stored.id) {
            Some(open) => merge(stored, &open),
            None => stored,
        });
    }
    merged.extend(by_id.into_values());
    if !filter.statuses.is_empty() {
        merged.retain(|order| filter.statuses.contains(&order.status));
    }
    merged.sort_by(|a, b| {
        let ordering = compare_expiry(a, b).then_with(|| a.id.cmp(&b.id));
        if filter.descending {
            ordering.reverse()
        } else {
            ordering
        }
    });
    merged.truncate(filter.limit as usize);
    Ok(merged)
}

/// `GET /v4/orders/{orderId}`.
pub async fn order(
    pool: &PgPool,
    cache: &Cache,
    markets: &MarketsSnapshot,
    id: Uuid,
) -> Result<Order, QueryError> {
    let row = orders_by_id(pool, &[id]).await?.into_iter().next();
    let open = redis_order(cache, markets, id).await?;
    match (row, open) {
        (None, None) => Err(QueryError::NotFound(format!(
            "Unable to find order id {id}"
        ))),
        (None, Some(open)) => Ok(open),
        (Some(row), open) => {
            let number = match &open {
                Some(open) => open.subaccount_number,
                None => sqlx::query_scalar(
                    r#"SELECT "subaccountNumber" FROM subaccounts WHERE id = $1"#,
                )
                .bind(row.subaccount_id)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| {
                    QueryError::NotFound(format!(
                        "Unable to find subaccount id {}",
                        row.subaccount_id
                    ))
                })?,
            };
            let stored = postgres_order(markets, row, number)?;
            Ok(match open {
                Some(open) => merge(stored, &open),
                None => stored,
            })
        }
    }
}

fn subaccount_numbers(selector: &SubaccountSelector) -> HashMap<Uuid, i32> {
    match selector {
        SubaccountSelector::Single { address, number } => HashMap::from([(
            indexer_domain::ids::subaccount_uuid(address, *number),
            *number as i32,
        )]),
        SubaccountSelector::Parent { address, parent } => {
            crate::subaccounts::child_subaccount_numbers(*parent)
                .map(|n| (indexer_domain::ids::subaccount_uuid(address, n), n as i32))
                .collect()
        }
    }
}

async fn postgres_orders(
    pool: &PgPool,
    ids: &[Uuid],
    filter: &OrdersFilter,
) -> Result<Vec<OrderRow>, QueryError> {
    let mut query = QueryBuilder::new(ORDER_COLUMNS);
    if let [id] = ids {
        query.push(r#" WHERE "subaccountId" = "#).push_bind(*id);
    } else {
        query
            .push(r#" WHERE "subaccountId" = ANY("#)
            .push_bind(ids.to_vec())
            .push(")");
    }
    if let Some(clob_pair_id) = filter.clob_pair_id {
        query
            .push(r#" AND "clobPairId" = "#)
            .push_bind(clob_pair_id);
    }
    if let Some(side) = filter.side {
        query.push(" AND side = ").push_bind(side.as_str());
    }
    if let Some(order_type) = &filter.order_type {
        query.push(" AND type = ").push_bind(order_type.clone());
    }
    push_any_of(&mut query, "type", &filter.include_types);
    push_none_of(&mut query, "type", &filter.exclude_types);
    push_any_of(&mut query, "status", &filter.statuses);
    if let Some(max) = filter.good_til_block_before_or_at {
        query.push(r#" AND "goodTilBlock" <= "#).push_bind(max);
    }
    if let Some(min) = filter.good_til_block_after {
        query.push(r#" AND "goodTilBlock" > "#).push_bind(min);
    }
    if let Some(max) = filter.good_til_block_time_before_or_at {
        query.push(r#" AND "goodTilBlockTime" <= "#).push_bind(max);
    }
    if let Some(min) = filter.good_til_block_time_after {
        query.push(r#" AND "goodTilBlockTime" > "#).push_bind(min);
    }
    // NULL goodTilBlock (stateful orders) sorts first descending and last ascending, matching the
    // in-memory order where every good-til-block order is below every good-til-time order.
    let direction = if filter.descending { "DESC" } else { "ASC" };
    query.push(format!(
        r#" ORDER BY "goodTilBlock" {direction}, "goodTilBlockTime" {direction}, id {direction} LIMIT "#
    ));
    query.push_bind(i64::from(filter.limit));
    Ok(query.build_query_as().fetch_all(pool).await?)
}

async fn orders_by_id(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<OrderRow>, QueryError> {
    Ok(
        sqlx::query_as(&format!("{ORDER_COLUMNS} WHERE id = ANY($1)"))
            .bind(ids)
            .fetch_all(pool)
            .await?,
    )
}

/// The open orders of the subaccounts, from Redis: one pipeline for the id hashes, one for the
/// orders.
async fn redis_orders(
    cache: &Cache,
    markets: &MarketsSnapshot,
    subaccount_ids: &[Uuid],
) -> Result<Vec<Order>, QueryError> {
    let keys = cache.keys();
    let mut conn = cache.conn();
    let mut pipe = redis::pipe();
    for id in subaccount_ids {
        pipe.hkeys(keys.subaccount_order_ids(&id.to_string()));
    }
    let order_ids: Vec<Vec<String>> = pipe.query_async(&mut conn).await?;
    let order_ids: Vec<String> = order_ids.into_iter().flatten().collect();
    if order_ids.is_empty() {
        return Ok(Vec::new());
    }
    let order_keys: Vec<String> = order_ids.iter().map(|id| keys.order(id)).collect();
    let encoded: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
        .arg(&order_keys)
        .query_async(&mut conn)
        .await?;
    encoded
        .into_iter()
        .flatten()
        .map(|bytes| redis_order_response(markets, &bytes))
        .collect()
}

async fn redis_order(
    cache: &Cache,
    markets: &MarketsSnapshot,
    id: Uuid,
) -> Result<Option<Order>, QueryError> {
    let encoded: Option<Vec<u8>> = redis::cmd("GET")
        .arg(cache.keys().order(&id.to_string()))
        .query_async(&mut cache.conn())
        .await?;
    encoded
        .map(|bytes| redis_order_response(markets, &bytes))
        .transpose()
}

/// An order known only from Redis: `BEST_EFFORT_OPENED`, `LIMIT`, nothing filled.
fn redis_order_response(markets: &MarketsSnapshot, bytes: &[u8]) -> Result<Order, QueryError> {
    let invalid = |what: &str| QueryError::Inconsistent(format!("redis order {what}"));
    let redis_order =
        RedisOrder::decode(bytes).map_err(|e| invalid(&format!("undecodable: {e}")))?;
    let order = redis_order
        .order
        .as_ref()
        .ok_or_else(|| invalid("without order"))?;
    let order_id = order
        .order_id
        .as_ref()
        .ok_or_else(|| invalid("without order id"))?;
    let subaccount = order_id
        .subaccount_id
        .as_ref()
        .ok_or_else(|| invalid("without subaccount"))?;
    let id = Uuid::parse_str(&redis_order.id).map_err(|_| invalid("with a malformed id"))?;
    let side = OrderSide::from_proto(order.side).map_err(|e| invalid(&e.to_string()))?;
    let time_in_force =
        TimeInForce::from_proto(order.time_in_force).map_err(|e| invalid(&e.to_string()))?;
    let (good_til_block, good_til_block_time) = expiry(order.good_til_oneof.as_ref());
    let clob_pair_id = i64::from(order_id.clob_pair_id);
    let builder = order.builder_code_params.as_ref();
    Ok(Order {
        id,
        subaccount_id: order_id::subaccount_uuid(subaccount),
        client_id: IntString(i64::from(order_id.client_id)),
        clob_pair_id: IntString(clob_pair_id),
        side: side.as_str().to_owned(),
        size: redis_order.size.clone(),
        total_filled: "0".to_owned(),
        price: redis_order.price.clone(),
        order_type: "LIMIT".to_owned(),
        status: BEST_EFFORT_OPENED.to_owned(),
        time_in_force: time_in_force.api().as_str().to_owned(),
        reduce_only: order.reduce_only,
        order_flags: IntString(i64::from(order_id.order_flags)),
        good_til_block,
        good_til_block_time,
        created_at_height: None,
        created_at: None,
        client_metadata: IntString(i64::from(order.client_metadata)),
        trigger_price: None,
        updated_at: None,
        updated_at_height: None,
        builder_address: builder.map(|b| b.builder_address.clone()),
        fee_ppm: builder.map(|b| b.fee_ppm.to_string()),
        order_router_address: Some(order.order_router_address.clone()),
        duration: None,
        interval: None,
        price_tolerance: None,
        post_only: time_in_force.is_post_only(),
        ticker: markets.ticker_of_clob_pair(clob_pair_id)?.to_owned(),
        subaccount_number: subaccount.number as i32,
    })
}

fn expiry(good_til: Option<&GoodTilOneof>) -> (Option<IntString>, Option<IsoTime>) {
    match good_til {
        Some(GoodTilOneof::GoodTilBlock(block)) => (Some(IntString(i64::from(*block))), None),
        Some(GoodTilOneof::GoodTilBlockTime(seconds)) => (
            None,
            Utc.timestamp_opt(i64::from(*seconds), 0)
                .single()
                .map(IsoTime),
        ),
        None => (None, None),
    }
}

fn postgres_order(
    markets: &MarketsSnapshot,
    row: OrderRow,
    subaccount_number: i32,
) -> Result<Order, QueryError> {
    let time_in_force: TimeInForce = row
        .time_in_force
        .parse()
        .map_err(|_| QueryError::Inconsistent(format!("order {} time in force", row.id)))?;
    Ok(Order {
        ticker: markets.ticker_of_clob_pair(row.clob_pair_id.0)?.to_owned(),
        id: row.id,
        subaccount_id: row.subaccount_id,
        client_id: row.client_id,
        clob_pair_id: row.clob_pair_id,
        side: row.side,
        size: row.size.to_string(),
        total_filled: row.total_filled.to_string(),
        price: row.price.to_string(),
        order_type: row.order_type,
        status: row.status,
        time_in_force: time_in_force.api().as_str().to_owned(),
        reduce_only: row.reduce_only,
        order_flags: row.order_flags,
        good_til_block: row.good_til_block,
        good_til_block_time: row.good_til_block_time,
        created_at_height: row.created_at_height,
        created_at: row.created_at,
        client_metadata: row.client_metadata,
        trigger_price: row.trigger_price.map(|p| p.to_string()),
        updated_at: Some(row.updated_at),
        updated_at_height: Some(row.updated_at_height),
        builder_address: row.builder_address,
        fee_ppm: row.fee_ppm,
        order_router_address: row.order_router_address,
        duration: row.duration,
        interval: row.interval,
        price_tolerance: row.price_tolerance,
        post_only: time_in_force.is_post_only(),
        subaccount_number,
    })
}

/// Postgres values overridden by the resting order's size, price, expiry, time in force and
/// flags (serve.md §3.5).
fn merge(stored: Order, open: &Order) -> Order {
    Order {
        size: open.size.clone(),
        price: open.price.clone(),
        good_til_block: open.good_til_block,
        good_til_block_time: open.good_til_block_time,
        time_in_force: open.time_in_force.clone(),
        post_only: open.post_only,
        reduce_only: open.reduce_only,
        ..stored
    }
}

/// Good-til-block orders sort below good-til-time orders; within a kind by block or time.
fn compare_expiry(a: &Order, b: &Order) -> Ordering {
    match (a.good_til_block, b.good_til_block) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.good_til_block_time.cmp(&b.good_til_block_time),
    }
}
