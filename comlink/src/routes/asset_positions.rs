//! `GET /v4/assetPositions` and `…/parentSubaccountNumber` (serve.md §4.3.4).

use axum::Json;
use indexer_query::subaccounts::{self, AssetPositionsResponse, SubaccountSelector};

use crate::ctx::Ctx;
use crate::error::{ApiResult, ErrorBody, ValidationErrorBody};
use crate::routes::{account_request, AccountScope};

/// Non-zero asset positions of a subaccount, USDC adjusted by unsettled funding.
#[utoipa::path(get, path = "/v4/assetPositions", tag = "accounts",
    params(("address" = String, Query), ("subaccountNumber" = u32, Query),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = AssetPositionsResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_asset_positions(ctx: Ctx) -> ApiResult<Json<AssetPositionsResponse>> {
    let (selector, ()) = account_request(&ctx, AccountScope::Subaccount, |_| ())?;
    respond(&ctx, selector).await
}

/// The same over every existing child of a parent (never 404).
#[utoipa::path(get, path = "/v4/assetPositions/parentSubaccountNumber", tag = "accounts",
    params(("address" = String, Query), ("parentSubaccountNumber" = u32, Query),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = AssetPositionsResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 403, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_parent_asset_positions(ctx: Ctx) -> ApiResult<Json<AssetPositionsResponse>> {
    let (selector, ()) = account_request(&ctx, AccountScope::ParentSubaccount, |_| ())?;
    respond(&ctx, selector).await
}

async fn respond(
    ctx: &Ctx,
    selector: SubaccountSelector,
) -> ApiResult<Json<AssetPositionsResponse>> {
    ctx.check_compliance(Some(selector.address())).await?;
    let db = ctx.reader().await?;
    let markets = ctx.markets(None).await;
    let positions = subaccounts::asset_positions(&db.pool, &markets, &selector).await?;
    Ok(Json(AssetPositionsResponse { positions }))
}
