//! `GET /v4/pnl` and `…/parentSubaccountNumber` (serve.md §4.3.12).

use axum::Json;
use indexer_query::pnl::{self, PnlFilter, PnlResponse};
use indexer_query::subaccounts::SubaccountSelector;
use indexer_query::Pagination;

use crate::ctx::Ctx;
use crate::error::{ApiResult, ErrorBody, ValidationErrorBody};
use crate::params::Validator;
use crate::routes::{account_request, AccountScope};

/// PnL summed per hour (or per day with `daily=true`), newest first.
#[utoipa::path(get, path = "/v4/pnl", tag = "accounts",
    params(("address" = String, Query), ("subaccountNumber" = u32, Query),
        ("limit" = Option<u32>, Query),
        ("createdBeforeOrAtHeight" = Option<u64>, Query), ("createdBeforeOrAt" = Option<String>, Query),
        ("createdOnOrAfterHeight" = Option<u64>, Query), ("createdOnOrAfter" = Option<String>, Query),
        ("page" = Option<u32>, Query), ("daily" = Option<bool>, Query),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = PnlResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_pnl(ctx: Ctx) -> ApiResult<Json<PnlResponse>> {
    let (selector, (filter, daily)) =
        account_request(&ctx, AccountScope::Subaccount, |v| filter(v, true))?;
    respond(&ctx, selector, filter, daily).await
}

/// The same summed over every child of a parent (no paging).
#[utoipa::path(get, path = "/v4/pnl/parentSubaccountNumber", tag = "accounts",
    params(("address" = String, Query), ("parentSubaccountNumber" = u32, Query),
        ("limit" = Option<u32>, Query), ("daily" = Option<bool>, Query),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = PnlResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_parent_pnl(ctx: Ctx) -> ApiResult<Json<PnlResponse>> {
    let (selector, (filter, daily)) =
        account_request(&ctx, AccountScope::ParentSubaccount, |v| filter(v, false))?;
    respond(&ctx, selector, filter, daily).await
}

fn filter(v: &mut Validator<'_>, paged: bool) -> (PnlFilter, bool) {
    let limit = v.limit();
    let before_height = v.non_negative_int("createdBeforeOrAtHeight");
    let before = v.iso_time("createdBeforeOrAt");
    let after_height = v.non_negative_int("createdOnOrAfterHeight");
    let after = v.iso_time("createdOnOrAfter");
    let page = if paged { v.page() } else { None };
    let daily = v.boolean("daily").unwrap_or(false);
    let filter = PnlFilter {
        created_before_or_at_height: before_height.filter(|h| *h != 0),
        created_before_or_at: before,
        created_on_or_after_height: after_height,
        created_on_or_after: after,
        pagination: Pagination::new(limit, page),
    };
    (filter, daily)
}

async fn respond(
    ctx: &Ctx,
    selector: SubaccountSelector,
    filter: PnlFilter,
    daily: bool,
) -> ApiResult<Json<PnlResponse>> {
    ctx.check_compliance(Some(selector.address())).await?;
    let db = ctx.reader().await?;
    Ok(Json(
        pnl::pnl(&db.pool, &selector, &filter, daily).await?.into(),
    ))
}
