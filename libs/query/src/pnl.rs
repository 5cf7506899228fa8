//! Historical PnL ticks (serve.md §4.3.11).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::json::{IntString, IsoTime, Numeric};
use crate::page::{Paged, Pagination};
use crate::subaccounts::SubaccountSelector;
use crate::QueryError;

/// `PnlTicksResponseObject`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
#[sqlx(rename_all = "camelCase")]
#[schema(as = PnlTicksResponseObject)]
pub struct PnlTick {
    pub equity: Numeric,
    pub total_pnl: Numeric,
    pub net_transfers: Numeric,
    pub created_at: IsoTime,
    pub block_height: IntString,
    pub block_time: IsoTime,
}

/// `{"historicalPnl": [...]}` plus the pagination keys when paged.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoricalPnlResponse {
    pub historical_pnl: Vec<PnlTick>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub page: Option<crate::page::PageInfo>,
}

impl From<Paged<PnlTick>> for HistoricalPnlResponse {
    fn from(paged: Paged<PnlTick>) -> Self {
        Self {
            historical_pnl: paged.items,
            page: paged.page,
        }
    }
}

/// Filters of `GET /v4/historical-pnl`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PnlFilter {
    pub created_before_or_at_height: Option<i64>,
    pub created_before_or_at: Option<DateTime<Utc>>,
    pub created_on_or_after_height: Option<i64>,
    pub created_on_or_after: Option<DateTime<Utc>>,
    pub pagination: Pagination,
}

fn push_filters(query: &mut QueryBuilder<'_, Postgres>, id: Uuid, filter: &PnlFilter) {
    query.push(r#" WHERE "subaccountId" = "#).push_bind(id);
    if let Some(height) = filter.created_before_or_at_height {
        query.push(r#" AND "blockHeight" <= "#).push_bind(height);
    }
    if let Some(time) = filter.created_before_or_at {
        query.push(r#" AND "createdAt" <= "#).push_bind(time);
    }
    if let Some(height) = filter.created_on_or_after_height {
        query.push(r#" AND "blockHeight" >= "#).push_bind(height);
    }
    if let Some(time) = filter.created_on_or_after {
        query.push(r#" AND "createdAt" >= "#).push_bind(time);
    }
}

/// PnL ticks of one subaccount, newest block first; 404 when the subaccount is missing.
pub async fn historical_pnl(
    pool: &PgPool,
    selector: &SubaccountSelector,
    filter: &PnlFilter,
) -> Result<Paged<PnlTick>, QueryError> {
    let [id] = selector.subaccount_ids()[..] else {
        return Err(QueryError::Inconsistent(
            "historical PnL of a single subaccount was asked for a parent".to_owned(),
        ));
    };
    if !crate::subaccounts::subaccount_exists(pool, id).await? {
        return Err(QueryError::NotFound(selector.not_found()));
    }
    let pagination = filter.pagination;
    let mut query = QueryBuilder::new(
        r#"SELECT equity, "totalPnl", "netTransfers", "createdAt", "blockHeight", "blockTime"
           FROM pnl_ticks"#,
    );
    push_filters(&mut query, id, filter);
    query.push(r#" ORDER BY "blockHeight" DESC LIMIT "#);
    query.push_bind(i64::from(pagination.limit));
    query.push(" OFFSET ").push_bind(pagination.offset() as i64);
    let items: Vec<PnlTick> = query.build_query_as().fetch_all(pool).await?;
    let page = match pagination.page {
        Some(_) => {
            let mut count = QueryBuilder::new("SELECT count(*) FROM pnl_ticks");
            push_filters(&mut count, id, filter);
            pagination.info(count.build_query_scalar().fetch_one(pool).await?)
        }
        None => None,
    };
    Ok(Paged { items, page })
}
