//! `GET /v4/perpetualPositions` and `…/parentSubaccountNumber` (serve.md §4.3.5).

use axum::Json;
use indexer_domain::PerpetualPositionStatus;
use indexer_query::subaccounts::{
    self, PerpetualPositionsFilter, PerpetualPositionsResponse, SubaccountSelector,
};

use crate::ctx::Ctx;
use crate::error::{ApiResult, ErrorBody, ValidationErrorBody};
use crate::params::Validator;
use crate::routes::{account_request, AccountScope};

const MSG_STATUS: &str = "status must be a valid Position Status (OPEN, etc)";

/// Positions of a subaccount, newest opened first; open ones include unsettled funding.
#[utoipa::path(get, path = "/v4/perpetualPositions", tag = "accounts",
    params(("address" = String, Query), ("subaccountNumber" = u32, Query),
        ("status" = Option<String>, Query, description = "OPEN, CLOSED, LIQUIDATED (comma list or repeated)"),
        ("limit" = Option<u32>, Query),
        ("createdBeforeOrAtHeight" = Option<u64>, Query),
        ("createdBeforeOrAt" = Option<String>, Query),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = PerpetualPositionsResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_perpetual_positions(ctx: Ctx) -> ApiResult<Json<PerpetualPositionsResponse>> {
    let (selector, filter) = account_request(&ctx, AccountScope::Subaccount, filter)?;
    respond(&ctx, selector, filter).await
}

/// The same over every child of a parent.
#[utoipa::path(get, path = "/v4/perpetualPositions/parentSubaccountNumber", tag = "accounts",
    params(("address" = String, Query), ("parentSubaccountNumber" = u32, Query),
        ("status" = Option<String>, Query), ("limit" = Option<u32>, Query),
        ("createdBeforeOrAtHeight" = Option<u64>, Query),
        ("createdBeforeOrAt" = Option<String>, Query),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = PerpetualPositionsResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_parent_perpetual_positions(
    ctx: Ctx,
) -> ApiResult<Json<PerpetualPositionsResponse>> {
    let (selector, filter) = account_request(&ctx, AccountScope::ParentSubaccount, filter)?;
    respond(&ctx, selector, filter).await
}

fn filter(v: &mut Validator<'_>) -> PerpetualPositionsFilter {
    let statuses: Option<Vec<PerpetualPositionStatus>> = v.list_of("status", MSG_STATUS);
    let limit = v.limit();
    let height = v.non_negative_int("createdBeforeOrAtHeight");
    let before = v.iso_time("createdBeforeOrAt");
    PerpetualPositionsFilter {
        statuses: statuses
            .unwrap_or_default()
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
        limit,
        created_before_or_at_height: height.filter(|h| *h != 0),
        created_before_or_at: before,
    }
}

async fn respond(
    ctx: &Ctx,
    selector: SubaccountSelector,
    filter: PerpetualPositionsFilter,
) -> ApiResult<Json<PerpetualPositionsResponse>> {
    ctx.check_compliance(Some(selector.address())).await?;
    let db = ctx.reader().await?;
    let markets = ctx.markets(None).await;
    let positions =
        subaccounts::perpetual_positions(&db.pool, &markets, &selector, &filter).await?;
    Ok(Json(PerpetualPositionsResponse { positions }))
}
