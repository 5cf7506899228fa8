//! `GET /v4/historical-pnl` (serve.md §4.3.11).

use axum::Json;
use indexer_query::pnl::{self, HistoricalPnlResponse, PnlFilter};
use indexer_query::Pagination;

use crate::ctx::Ctx;
use crate::error::{ApiResult, ErrorBody, ValidationErrorBody};
use crate::params::Validator;
use crate::routes::{account_request, AccountScope};

/// Hourly equity / PnL ticks of a subaccount, newest first.
#[utoipa::path(get, path = "/v4/historical-pnl", tag = "accounts",
    params(("address" = String, Query), ("subaccountNumber" = u32, Query),
        ("limit" = Option<u32>, Query),
        ("createdBeforeOrAtHeight" = Option<u64>, Query), ("createdBeforeOrAt" = Option<String>, Query),
        ("createdOnOrAfterHeight" = Option<u64>, Query), ("createdOnOrAfter" = Option<String>, Query),
        ("page" = Option<u32>, Query), ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = HistoricalPnlResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_historical_pnl(ctx: Ctx) -> ApiResult<Json<HistoricalPnlResponse>> {
    let (selector, filter) = account_request(&ctx, AccountScope::Subaccount, filter)?;
    ctx.check_compliance(Some(selector.address())).await?;
    let db = ctx.reader().await?;
    Ok(Json(
        pnl::historical_pnl(&db.pool, &selector, &filter)
            .await?
            .into(),
    ))
}

/// Ticks of every child summed per hour (at most `limit` ticks are read before aggregating).
#[utoipa::path(get, path = "/v4/historical-pnl/parentSubaccountNumber", tag = "accounts",
    params(("address" = String, Query), ("parentSubaccountNumber" = u32, Query),
        ("limit" = Option<u32>, Query),
        ("createdBeforeOrAtHeight" = Option<u64>, Query), ("createdBeforeOrAt" = Option<String>, Query),
        ("createdOnOrAfterHeight" = Option<u64>, Query), ("createdOnOrAfter" = Option<String>, Query),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = HistoricalPnlResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_parent_historical_pnl(ctx: Ctx) -> ApiResult<Json<HistoricalPnlResponse>> {
    let (selector, filter) = account_request(&ctx, AccountScope::ParentSubaccount, filter)?;
    ctx.check_compliance(Some(selector.address())).await?;
    let db = ctx.reader().await?;
    let ticks = pnl::parent_historical_pnl(&db.pool, &selector, &filter).await?;
    Ok(Json(HistoricalPnlResponse {
        historical_pnl: ticks,
        page: None,
    }))
}

fn filter(v: &mut Validator<'_>) -> PnlFilter {
    let limit = v.limit();
    let before_height = v.non_negative_int("createdBeforeOrAtHeight");
    let before = v.iso_time("createdBeforeOrAt");
    let after_height = v.non_negative_int("createdOnOrAfterHeight");
    let after = v.iso_time("createdOnOrAfter");
    let page = v.page();
    PnlFilter {
        created_before_or_at_height: before_height.filter(|h| *h != 0),
        created_before_or_at: before,
        created_on_or_after_height: after_height,
        created_on_or_after: after,
        pagination: Pagination::new(limit, page),
    }
}
