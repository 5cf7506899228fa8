//! Fills of a subaccount or of a parent's children (serve.md §3.6, §4.3.8).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::json::{IntString, IsoTime, Numeric};
use crate::markets::MarketsSnapshot;
use crate::page::{Paged, Pagination};
use crate::sql::{push_any_of, push_created_before_or_at, push_none_of};
use crate::QueryError;

/// `FillResponseObject`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FillResponseObject)]
pub struct Fill {
    pub id: Uuid,
    #[schema(schema_with = crate::json::enums::order_side)]
    pub side: String,
    #[schema(schema_with = crate::json::enums::liquidity)]
    pub liquidity: String,
    #[serde(rename = "type")]
    #[schema(schema_with = crate::json::enums::fill_type)]
    pub fill_type: String,
    pub market: String,
    #[schema(schema_with = crate::json::enums::market_type)]
    pub market_type: String,
    pub price: Numeric,
    pub size: Numeric,
    /// Negative for a rebate (stored as a decimal string).
    pub fee: String,
    pub affiliate_rev_share: Numeric,
    pub created_at: IsoTime,
    pub created_at_height: IntString,
    pub order_id: Option<Uuid>,
    pub client_metadata: Option<IntString>,
    pub subaccount_number: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub builder_fee: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub builder_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_router_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_router_fee: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position_size_before: Option<Numeric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_price_before: Option<Numeric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::json::enums::position_side)]
    pub position_side_before: Option<String>,
}

/// `{"fills": [...]}` plus the pagination keys when paged.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FillsResponse {
    pub fills: Vec<Fill>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub page: Option<crate::page::PageInfo>,
}

response_from_paged!(FillsResponse, fills, Fill);

#[derive(sqlx::FromRow)]
#[sqlx(rename_all = "camelCase")]
struct FillRow {
    id: Uuid,
    subaccount_id: Uuid,
    side: String,
    liquidity: String,
    #[sqlx(rename = "type")]
    fill_type: String,
    clob_pair_id: i64,
    price: Numeric,
    size: Numeric,
    fee: String,
    affiliate_rev_share: Numeric,
    created_at: IsoTime,
    created_at_height: IntString,
    order_id: Option<Uuid>,
    client_metadata: Option<IntString>,
    builder_fee: Option<String>,
    builder_address: Option<String>,
    order_router_address: Option<String>,
    order_router_fee: Option<String>,
    position_size_before: Option<Numeric>,
    entry_price_before: Option<Numeric>,
    position_side_before: Option<String>,
}

/// Filters of `GET /v4/fills`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FillsFilter {
    /// Only fills of this clob pair (from `market` + `marketType`).
    pub clob_pair_id: Option<i64>,
    pub include_types: Vec<String>,
    pub exclude_types: Vec<String>,
    pub created_before_or_at_height: Option<i64>,
    pub created_before_or_at: Option<DateTime<Utc>>,
    pub pagination: Pagination,
}

fn push_filters(query: &mut QueryBuilder<'_, Postgres>, ids: &[Uuid], filter: &FillsFilter) {
    if let [id] = ids {
        query.push(r#" WHERE "subaccountId" = "#).push_bind(*id);
    } else {
        query
            .push(r#" WHERE "subaccountId" = ANY("#)
            .push_bind(ids.to_vec())
            .push(")");
    }
    push_fill_filters(query, filter);
}

/// The filter clauses after the subaccount clause (each starts with ` AND`).
fn push_fill_filters(query: &mut QueryBuilder<'_, Postgres>, filter: &FillsFilter) {
    if let Some(clob_pair_id) = filter.clob_pair_id {
        query
            .push(r#" AND "clobPairId" = "#)
            .push_bind(clob_pair_id);
    }
    push_any_of(query, "type", &filter.include_types);
    push_none_of(query, "type", &filter.exclude_types);
    push_created_before_or_at(
        query,
        filter.created_before_or_at_height,
        filter.created_before_or_at,
    );
}

/// Fills of the subaccounts in `numbers` (id → subaccount number). Newest first without a page;
/// oldest first (event-id order) with a page, plus the pagination keys. Event ids start with the
/// block height, so (`createdAtHeight`, `eventId`) order is event-id order and uses the
/// (`subaccountId`, `createdAtHeight`) index.
pub async fn fills(
    pool: &PgPool,
    markets: &MarketsSnapshot,
    numbers: &HashMap<Uuid, i32>,
    filter: &FillsFilter,
) -> Result<Paged<Fill>, QueryError> {
    let pagination = filter.pagination;
    if numbers.is_empty() {
        return Ok(Paged {
            items: Vec::new(),
            page: pagination.info(0),
        });
    }
    let ids: Vec<Uuid> = numbers.keys().copied().collect();
    let mut query = QueryBuilder::new(format!("SELECT {FILL_COLUMNS} FROM fills"));
    push_filters(&mut query, &ids, filter);
    let direction = if pagination.page.is_some() {
        "ASC"
    } else {
        "DESC"
    };
    query.push(format!(
        r#" ORDER BY "createdAtHeight" {direction}, "eventId" {direction} LIMIT "#
    ));
    query.push_bind(i64::from(pagination.limit));
    query.push(" OFFSET ").push_bind(pagination.offset() as i64);
    let rows: Vec<FillRow> = query.build_query_as().fetch_all(pool).await?;
    let page = match pagination.page {
        Some(_) => {
            let mut count = QueryBuilder::new("SELECT count(*) FROM fills");
            push_filters(&mut count, &ids, filter);
            pagination.info(count.build_query_scalar().fetch_one(pool).await?)
        }
        None => None,
    };
    let items = rows
        .into_iter()
        .map(|row| fill_response(markets, numbers, row))
        .collect::<Result<_, _>>()?;
    Ok(Paged { items, page })
}

/// The columns every fills query selects (the `FillRow` fields).
const FILL_COLUMNS: &str = r#"id, "subaccountId", side, liquidity, type, "clobPairId", price, size, fee,
    "affiliateRevShare", "createdAt", "createdAtHeight", "orderId", "clientMetadata",
    "builderFee", "builderAddress", "orderRouterAddress", "orderRouterFee",
    "positionSizeBefore", "entryPriceBefore", "positionSideBefore""#;

/// [`fills`] of each subaccount in `numbers` separately (the limit, order and page apply per
/// subaccount), in one query plus one count query when paged: what GraphQL's data loader runs
/// when a request asks for the fills of several subaccounts at once.
pub async fn fills_per_subaccount(
    pool: &PgPool,
    markets: &MarketsSnapshot,
    numbers: &HashMap<Uuid, i32>,
    filter: &FillsFilter,
) -> Result<HashMap<Uuid, Paged<Fill>>, QueryError> {
    let pagination = filter.pagination;
    let ids: Vec<Uuid> = numbers.keys().copied().collect();
    let direction = if pagination.page.is_some() {
        "ASC"
    } else {
        "DESC"
    };
    let mut query = QueryBuilder::new("SELECT f.* FROM unnest(");
    query.push_bind(ids.clone());
    query.push(format!(
        r#"::uuid[]) AS s(id) CROSS JOIN LATERAL (SELECT {FILL_COLUMNS} FROM fills
           WHERE "subaccountId" = s.id"#
    ));
    push_fill_filters(&mut query, filter);
    query.push(format!(
        r#" ORDER BY "createdAtHeight" {direction}, "eventId" {direction} LIMIT "#
    ));
    query.push_bind(i64::from(pagination.limit));
    query.push(" OFFSET ").push_bind(pagination.offset() as i64);
    query.push(") f");
    let rows: Vec<FillRow> = query.build_query_as().fetch_all(pool).await?;
    let mut totals: HashMap<Uuid, i64> = HashMap::new();
    if pagination.page.is_some() {
        let mut count = QueryBuilder::new(r#"SELECT "subaccountId", count(*) FROM fills"#);
        push_filters(&mut count, &ids, filter);
        count.push(r#" GROUP BY "subaccountId""#);
        let counted: Vec<(Uuid, i64)> = count.build_query_as().fetch_all(pool).await?;
        totals.extend(counted);
    }
    let mut by_subaccount: HashMap<Uuid, Paged<Fill>> = ids
        .iter()
        .map(|id| {
            let page = pagination.info(totals.get(id).copied().unwrap_or(0));
            (
                *id,
                Paged {
                    items: Vec::new(),
                    page,
                },
            )
        })
        .collect();
    for row in rows {
        let id = row.subaccount_id;
        let fill = fill_response(markets, numbers, row)?;
        if let Some(paged) = by_subaccount.get_mut(&id) {
            paged.items.push(fill);
        }
    }
    Ok(by_subaccount)
}

fn fill_response(
    markets: &MarketsSnapshot,
    numbers: &HashMap<Uuid, i32>,
    row: FillRow,
) -> Result<Fill, QueryError> {
    Ok(Fill {
        id: row.id,
        side: row.side,
        liquidity: row.liquidity,
        fill_type: row.fill_type,
        market: markets.ticker_of_clob_pair(row.clob_pair_id)?.to_owned(),
        market_type: "PERPETUAL".to_owned(),
        price: row.price,
        size: row.size,
        fee: row.fee,
        affiliate_rev_share: row.affiliate_rev_share,
        created_at: row.created_at,
        created_at_height: row.created_at_height,
        order_id: row.order_id,
        client_metadata: row.client_metadata,
        subaccount_number: numbers.get(&row.subaccount_id).copied().unwrap_or_default(),
        builder_fee: row.builder_fee,
        builder_address: row.builder_address,
        order_router_address: row.order_router_address,
        order_router_fee: row.order_router_fee,
        position_size_before: row.position_size_before,
        entry_price_before: row.entry_price_before,
        position_side_before: row.position_side_before,
    })
}
