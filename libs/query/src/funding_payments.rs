//! Funding payments of a subaccount or parent (serve.md §4.3.13).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::json::{IntString, IsoTime, Numeric};
use crate::page::{PageInfo, Paged, Pagination};
use crate::QueryError;

/// `FundingPaymentResponseObject`; `subaccountNumber` is a string here (reference quirk).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FundingPaymentResponseObject)]
pub struct FundingPayment {
    pub created_at: IsoTime,
    pub created_at_height: IntString,
    pub perpetual_id: IntString,
    pub ticker: String,
    pub oracle_price: Numeric,
    pub size: Numeric,
    #[schema(schema_with = crate::json::enums::position_side)]
    pub side: String,
    pub rate: Numeric,
    pub payment: Numeric,
    pub subaccount_number: String,
    pub funding_index: Numeric,
}

/// `{"fundingPayments": [...]}` plus the pagination keys when paged.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FundingPaymentsResponse {
    pub funding_payments: Vec<FundingPayment>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub page: Option<PageInfo>,
}

response_from_paged!(FundingPaymentsResponse, funding_payments, FundingPayment);

/// Filters of `GET /v4/fundingPayments`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FundingPaymentsFilter {
    pub ticker: Option<String>,
    pub created_on_or_after: Option<DateTime<Utc>>,
    pub show_zero_payments: bool,
    pub pagination: Pagination,
}

#[derive(sqlx::FromRow)]
#[sqlx(rename_all = "camelCase")]
struct PaymentRow {
    subaccount_id: Uuid,
    created_at: IsoTime,
    created_at_height: IntString,
    perpetual_id: IntString,
    ticker: String,
    oracle_price: Numeric,
    size: Numeric,
    side: String,
    rate: Numeric,
    payment: Numeric,
    funding_index: Numeric,
}

fn push_filters(
    query: &mut QueryBuilder<'_, Postgres>,
    ids: &[Uuid],
    filter: &FundingPaymentsFilter,
) {
    query
        .push(r#" WHERE "subaccountId" = ANY("#)
        .push_bind(ids.to_vec())
        .push(")");
    if let Some(ticker) = &filter.ticker {
        query.push(" AND ticker = ").push_bind(ticker.clone());
    }
    if let Some(time) = filter.created_on_or_after {
        query.push(r#" AND "createdAt" >= "#).push_bind(time);
    }
    if !filter.show_zero_payments {
        query.push(" AND payment <> 0");
    }
}

/// Payments of the subaccounts in `numbers` (id → number), newest first.
pub async fn funding_payments(
    pool: &PgPool,
    numbers: &HashMap<Uuid, i32>,
    filter: &FundingPaymentsFilter,
) -> Result<Paged<FundingPayment>, QueryError> {
    let pagination = filter.pagination;
    let ids: Vec<Uuid> = numbers.keys().copied().collect();
    let mut query = QueryBuilder::new(
        r#"SELECT "subaccountId", "createdAt", "createdAtHeight", "perpetualId", ticker,
                  "oraclePrice", size, side, rate, payment, "fundingIndex"
           FROM funding_payments"#,
    );
    push_filters(&mut query, &ids, filter);
    query.push(if pagination.page.is_some() {
        r#" ORDER BY "createdAtHeight" DESC, ticker"#
    } else {
        r#" ORDER BY "createdAt" DESC, ticker"#
    });
    query.push(" LIMIT ").push_bind(i64::from(pagination.limit));
    query.push(" OFFSET ").push_bind(pagination.offset() as i64);
    let rows: Vec<PaymentRow> = query.build_query_as().fetch_all(pool).await?;
    let page = match pagination.page {
        Some(_) => {
            let mut count = QueryBuilder::new("SELECT count(*) FROM funding_payments");
            push_filters(&mut count, &ids, filter);
            pagination.info(count.build_query_scalar().fetch_one(pool).await?)
        }
        None => None,
    };
    let items = rows
        .into_iter()
        .map(|row| FundingPayment {
            subaccount_number: numbers
                .get(&row.subaccount_id)
                .copied()
                .unwrap_or_default()
                .to_string(),
            created_at: row.created_at,
            created_at_height: row.created_at_height,
            perpetual_id: row.perpetual_id,
            ticker: row.ticker,
            oracle_price: row.oracle_price,
            size: row.size,
            side: row.side,
            rate: row.rate,
            payment: row.payment,
            funding_index: row.funding_index,
        })
        .collect();
    Ok(Paged { items, page })
}
