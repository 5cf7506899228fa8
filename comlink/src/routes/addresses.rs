//! `GET /v4/addresses/{address}`, `…/subaccountNumber/{n}` and `…/parentSubaccountNumber/{n}`
//! (serve.md §4.3.1–§4.3.3).

use std::sync::Arc;

use axum::Json;
use indexer_query::subaccounts::{
    self, AddressResponse, ParentSubaccountResponse, SubaccountResponse,
};
use indexer_query::MarketsSnapshot;

use crate::ctx::Ctx;
use crate::error::{ApiResult, ErrorBody, Location, ValidationErrorBody};
use crate::height::ReadDb;
use crate::params::{MSG_ADDRESS, MSG_DYDX_ADDRESS};
use crate::routes::validated;

/// Every subaccount of the address with equity, free collateral and positions.
#[utoipa::path(get, path = "/v4/addresses/{address}", tag = "accounts",
    params(("address" = String, Path, description = "dydx bech32 address"),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = AddressResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, description = "`No subaccounts found for address {address}`", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_address(ctx: Ctx) -> ApiResult<Json<AddressResponse>> {
    let mut v = ctx.validator();
    let address = v.dydx_address(Location::Params, MSG_ADDRESS);
    ctx.finish(v)?;
    let address = validated(address);
    let (db, markets) = open_account(&ctx, &address).await?;
    Ok(Json(
        subaccounts::address(&db.pool, &markets, &address).await?,
    ))
}

/// One subaccount.
#[utoipa::path(get, path = "/v4/addresses/{address}/subaccountNumber/{subaccountNumber}",
    tag = "accounts",
    params(("address" = String, Path), ("subaccountNumber" = u32, Path, description = "0…128000"),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = SubaccountResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_subaccount(ctx: Ctx) -> ApiResult<Json<SubaccountResponse>> {
    let mut v = ctx.validator();
    let address = v.dydx_address(Location::Params, MSG_DYDX_ADDRESS);
    let number = v.subaccount_number(Location::Params);
    ctx.finish(v)?;
    let address = validated(address);
    let (db, markets) = open_account(&ctx, &address).await?;
    let subaccount =
        subaccounts::subaccount(&db.pool, &markets, &address, validated(number)).await?;
    Ok(Json(SubaccountResponse { subaccount }))
}

/// A parent subaccount: its existing children and their summed equity and free collateral.
#[utoipa::path(get,
    path = "/v4/addresses/{address}/parentSubaccountNumber/{parentSubaccountNumber}",
    tag = "accounts",
    params(("address" = String, Path), ("parentSubaccountNumber" = u32, Path, description = "0…127"),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = ParentSubaccountResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_parent_subaccount(ctx: Ctx) -> ApiResult<Json<ParentSubaccountResponse>> {
    let mut v = ctx.validator();
    let address = v.dydx_address(Location::Params, MSG_DYDX_ADDRESS);
    let parent = v.parent_subaccount_number(Location::Params);
    ctx.finish(v)?;
    let address = validated(address);
    let (db, markets) = open_account(&ctx, &address).await?;
    let subaccount =
        subaccounts::parent_subaccount(&db.pool, &markets, &address, validated(parent)).await?;
    Ok(Json(ParentSubaccountResponse { subaccount }))
}

/// Refuses blocked addresses, then opens the read connection and the market snapshot every
/// address route reads.
async fn open_account(ctx: &Ctx, address: &str) -> ApiResult<(ReadDb, Arc<MarketsSnapshot>)> {
    ctx.check_compliance(Some(address)).await?;
    let db = ctx.reader().await?;
    let markets = ctx.markets(None).await;
    Ok((db, markets))
}
