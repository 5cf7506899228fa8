//! Public trades: the taker fills of a market (serve.md §4.2.3).

use chrono::{DateTime, Utc};
use indexer_domain::FillType;
use serde::Serialize;
use sqlx::{PgPool, Postgres, QueryBuilder};
use utoipa::ToSchema;

use crate::json::{IntString, IsoTime, Numeric};
use crate::page::{Paged, Pagination};
use crate::sql::push_created_before_or_at;
use crate::QueryError;

/// `TradeResponseObject`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TradeResponseObject)]
pub struct Trade {
    /// The taker fill's event id as 24 lowercase hex characters.
    pub id: String,
    /// The taker's side.
    #[schema(schema_with = crate::json::enums::order_side)]
    pub side: String,
    pub size: Numeric,
    pub price: Numeric,
    #[serde(rename = "type")]
    #[schema(schema_with = crate::json::enums::trade_type)]
    pub trade_type: String,
    pub created_at: IsoTime,
    pub created_at_height: IntString,
}

/// `{"trades": [...]}` plus `pageSize`, `totalResults`, `offset` when paged.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TradesResponse {
    pub trades: Vec<Trade>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub page: Option<crate::page::PageInfo>,
}

response_from_paged!(TradesResponse, trades, Trade);

/// Filters of `GET /v4/trades/perpetualMarket/{ticker}`.
#[derive(Debug, Clone, PartialEq)]
pub struct TradesFilter {
    pub clob_pair_id: i64,
    pub created_before_or_at_height: Option<i64>,
    pub created_before_or_at: Option<DateTime<Utc>>,
    pub pagination: Pagination,
}

#[derive(sqlx::FromRow)]
#[sqlx(rename_all = "camelCase")]
struct TradeRow {
    event_id: Vec<u8>,
    side: String,
    size: Numeric,
    price: Numeric,
    #[sqlx(rename = "type")]
    fill_type: String,
    created_at: IsoTime,
    created_at_height: IntString,
}

impl From<TradeRow> for Trade {
    fn from(row: TradeRow) -> Self {
        Trade {
            id: hex::encode(&row.event_id),
            side: row.side,
            size: row.size,
            price: row.price,
            trade_type: trade_type_of(&row.fill_type),
            created_at: row.created_at,
            created_at_height: row.created_at_height,
        }
    }
}

/// The trade type shown for a taker fill type; a type without a trade counterpart (never a
/// taker fill in practice) is shown as stored rather than failing the whole page.
fn trade_type_of(fill_type: &str) -> String {
    fill_type
        .parse::<FillType>()
        .ok()
        .and_then(FillType::trade_type)
        .map(|t| t.as_str().to_owned())
        .unwrap_or_else(|| fill_type.to_owned())
}

fn push_filters(query: &mut QueryBuilder<'_, Postgres>, filter: &TradesFilter) {
    query.push(r#" WHERE liquidity = 'TAKER' AND "clobPairId" = "#);
    query.push_bind(filter.clob_pair_id);
    push_created_before_or_at(
        query,
        filter.created_before_or_at_height,
        filter.created_before_or_at,
    );
}

/// Newest first without a page; oldest first (event id ascending) with a page, plus the
/// pagination keys. Event ids start with the block height, so ordering by
/// (`createdAtHeight`, `eventId`) is event-id order and can use the height index.
pub async fn trades(pool: &PgPool, filter: &TradesFilter) -> Result<Paged<Trade>, QueryError> {
    let pagination = filter.pagination;
    let mut query = QueryBuilder::new(
        r#"SELECT "eventId", side, size, price, type, "createdAt", "createdAtHeight" FROM fills"#,
    );
    push_filters(&mut query, filter);
    if pagination.page.is_some() {
        query.push(r#" ORDER BY "createdAtHeight" ASC, "eventId" ASC"#);
    } else {
        query.push(r#" ORDER BY "createdAtHeight" DESC, "eventId" DESC"#);
    }
    query.push(" LIMIT ").push_bind(i64::from(pagination.limit));
    query.push(" OFFSET ").push_bind(pagination.offset() as i64);
    let rows: Vec<TradeRow> = query.build_query_as().fetch_all(pool).await?;
    let page = match pagination.page {
        Some(_) => {
            let mut count = QueryBuilder::new("SELECT count(*) FROM fills");
            push_filters(&mut count, filter);
            let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
            pagination.info(total)
        }
        None => None,
    };
    Ok(Paged {
        items: rows.into_iter().map(Trade::from).collect(),
        page,
    })
}
