//! Historical PnL ticks (serve.md §4.3.11).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::json::{IntString, IsoTime, Numeric};
use crate::page::{Paged, Pagination};
use crate::sql::push_created_before_or_at;
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

response_from_paged!(HistoricalPnlResponse, historical_pnl, PnlTick);

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

/// `PnlResponseObject` (`/v4/pnl`): sums per hour or per day.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
#[sqlx(rename_all = "camelCase")]
#[schema(as = PnlResponseObject)]
pub struct Pnl {
    pub equity: Numeric,
    pub net_transfers: Numeric,
    pub total_pnl: Numeric,
    /// Start of the hour or day.
    pub created_at: IsoTime,
    pub created_at_height: IntString,
}

/// `{"pnl": [...]}` plus the pagination keys when paged.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PnlResponse {
    pub pnl: Vec<Pnl>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub page: Option<crate::page::PageInfo>,
}

response_from_paged!(PnlResponse, pnl, Pnl);

/// The rows of `pnl` the bounds select, as a SQL sub-query.
fn push_pnl_rows(query: &mut QueryBuilder<'_, Postgres>, ids: &[Uuid], filter: &PnlFilter) {
    query.push(r#"SELECT * FROM pnl WHERE "subaccountId" = ANY("#);
    query.push_bind(ids.to_vec()).push(")");
    push_created_before_or_at(
        query,
        filter.created_before_or_at_height,
        filter.created_before_or_at,
    );
    if let Some(height) = filter.created_on_or_after_height {
        query
            .push(r#" AND "createdAtHeight" >= "#)
            .push_bind(height);
    }
    if let Some(time) = filter.created_on_or_after {
        query.push(r#" AND "createdAt" >= "#).push_bind(time);
    }
}

/// The aggregation: hourly sums ordered by the latest height, or daily sums of each day's
/// earliest rows ordered by day (serve.md §4.3.12).
fn push_pnl_aggregate(
    query: &mut QueryBuilder<'_, Postgres>,
    ids: &[Uuid],
    filter: &PnlFilter,
    daily: bool,
) {
    query.push("WITH selected AS (");
    push_pnl_rows(query, ids, filter);
    query.push(")");
    if daily {
        query.push(
            r#", days AS (SELECT date_trunc('day', "createdAt", 'UTC') AS day,
                                min("createdAt") AS first
                         FROM selected GROUP BY 1)
               SELECT sum(r.equity) AS equity, sum(r."netTransfers") AS "netTransfers",
                      sum(r."totalPnl") AS "totalPnl", d.day AS "createdAt",
                      max(r."createdAtHeight") AS "createdAtHeight"
               FROM selected r JOIN days d ON r."createdAt" = d.first
               GROUP BY d.day ORDER BY d.day DESC"#,
        );
    } else {
        query.push(
            r#" SELECT sum(equity) AS equity, sum("netTransfers") AS "netTransfers",
                       sum("totalPnl") AS "totalPnl",
                       date_trunc('hour', "createdAt", 'UTC') AS "createdAt",
                       max("createdAtHeight") AS "createdAtHeight"
                FROM selected GROUP BY 4 ORDER BY max("createdAtHeight") DESC"#,
        );
    }
}

/// `GET /v4/pnl` (+ parent): 404 when `must_exist` (the subaccount, or for the parent route the
/// parent number itself) is missing.
pub async fn pnl(
    pool: &PgPool,
    selector: &SubaccountSelector,
    filter: &PnlFilter,
    daily: bool,
) -> Result<Paged<Pnl>, QueryError> {
    let must_exist = match selector {
        SubaccountSelector::Single { address, number }
        | SubaccountSelector::Parent {
            address,
            parent: number,
        } => indexer_domain::ids::subaccount_uuid(address, *number),
    };
    if !crate::subaccounts::subaccount_exists(pool, must_exist).await? {
        return Err(QueryError::NotFound(selector.not_found()));
    }
    let ids = selector.subaccount_ids();
    let pagination = filter.pagination;
    let mut query = QueryBuilder::new("");
    push_pnl_aggregate(&mut query, &ids, filter, daily);
    query.push(" LIMIT ").push_bind(i64::from(pagination.limit));
    query.push(" OFFSET ").push_bind(pagination.offset() as i64);
    let items: Vec<Pnl> = query.build_query_as().fetch_all(pool).await?;
    let page = match pagination.page {
        Some(_) => {
            let mut count = QueryBuilder::new("SELECT count(*) FROM (");
            push_pnl_aggregate(&mut count, &ids, filter, daily);
            count.push(") aggregated");
            pagination.info(count.build_query_scalar().fetch_one(pool).await?)
        }
        None => None,
    };
    Ok(Paged { items, page })
}

/// `GET /v4/historical-pnl/parentSubaccountNumber`: up to `limit` ticks of the children (newest
/// block first), then one aggregated tick per hour summing at most one tick per child (its
/// latest); each keeps the first tick's times and height. 404 without children.
pub async fn parent_historical_pnl(
    pool: &PgPool,
    selector: &SubaccountSelector,
    filter: &PnlFilter,
) -> Result<Vec<PnlTick>, QueryError> {
    let ids = selector.subaccount_ids();
    let existing = crate::subaccounts::subaccount_numbers(pool, &ids).await?;
    if existing.is_empty() {
        return Err(QueryError::NotFound(format!(
            "No subaccounts found with address {} and parentSubaccountNumber {}",
            selector.address(),
            match selector {
                SubaccountSelector::Parent { parent, .. } => *parent,
                SubaccountSelector::Single { number, .. } => *number,
            }
        )));
    }
    let child_ids: Vec<Uuid> = existing.keys().copied().collect();
    let mut query = QueryBuilder::new(
        r#"SELECT "subaccountId", equity, "totalPnl", "netTransfers", "createdAt", "blockHeight",
                  "blockTime"
           FROM pnl_ticks WHERE "subaccountId" = ANY("#,
    );
    query.push_bind(child_ids).push(")");
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
    query.push(r#" ORDER BY "blockHeight" DESC LIMIT "#);
    query.push_bind(i64::from(filter.pagination.limit));
    let rows: Vec<(Uuid, Numeric, Numeric, Numeric, IsoTime, IntString, IsoTime)> =
        query.build_query_as().fetch_all(pool).await?;
    Ok(aggregate_hourly(rows))
}

/// Groups ticks (newest first) by hour in order of first appearance, summing one tick per
/// subaccount per hour.
fn aggregate_hourly(
    rows: Vec<(Uuid, Numeric, Numeric, Numeric, IsoTime, IntString, IsoTime)>,
) -> Vec<PnlTick> {
    use chrono::Timelike;
    struct Group {
        hour: chrono::DateTime<Utc>,
        seen: Vec<Uuid>,
        tick: PnlTick,
    }
    let mut groups: Vec<Group> = Vec::new();
    for (subaccount, equity, total_pnl, net_transfers, created_at, height, block_time) in rows {
        let hour = created_at
            .0
            .with_nanosecond(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_minute(0))
            .unwrap_or(created_at.0);
        match groups.iter_mut().find(|g| g.hour == hour) {
            Some(group) if group.seen.contains(&subaccount) => {}
            Some(group) => {
                group.seen.push(subaccount);
                let tick = &mut group.tick;
                tick.equity = Numeric::computed(tick.equity.decimal() + equity.decimal());
                tick.total_pnl = Numeric::computed(tick.total_pnl.decimal() + total_pnl.decimal());
                tick.net_transfers =
                    Numeric::computed(tick.net_transfers.decimal() + net_transfers.decimal());
            }
            None => groups.push(Group {
                hour,
                seen: vec![subaccount],
                tick: PnlTick {
                    equity: Numeric::computed(equity.into_decimal()),
                    total_pnl: Numeric::computed(total_pnl.into_decimal()),
                    net_transfers: Numeric::computed(net_transfers.into_decimal()),
                    created_at,
                    block_height: height,
                    block_time,
                },
            }),
        }
    }
    groups.into_iter().map(|g| g.tick).collect()
}
