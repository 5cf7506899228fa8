//! `GET /v4/trader/search` (serve.md §4.7) and the affiliate reads (§4.6).

use axum::Json;
use indexer_query::social::{
    self, AffiliateAddressResponse, AffiliateMetadataResponse, AffiliateTotalVolumeResponse,
    TraderSearchResponse,
};
use indexer_query::Numeric;

use crate::ctx::Ctx;
use crate::error::{ApiError, ApiResult, ErrorBody, Location, ValidationErrorBody};
use crate::params::MSG_INVALID;
use crate::routes::validated;

/// Wallet volume (USDC) from which an address is affiliate-eligible (`VOLUME_ELIGIBILITY_THRESHOLD`).
const VOLUME_ELIGIBILITY_THRESHOLD: u32 = 10_000;

/// A trader by address (subaccount 0) or by username.
#[utoipa::path(get, path = "/v4/trader/search", tag = "social",
    params(("searchParam" = String, Query, description = "dydx address or username")),
    responses(
        (status = 200, body = TraderSearchResponse),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_trader_search(ctx: Ctx) -> ApiResult<Json<TraderSearchResponse>> {
    ctx.finish(ctx.validator())?;
    let search = ctx
        .query_param("searchParam")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::BadRequest("searchParam is required".to_owned()))?
        .to_owned();
    let db = ctx.reader().await?;
    Ok(Json(social::search_trader(&db.pool, &search).await?))
}

/// Referral code, volume eligibility and affiliate status of a wallet.
#[utoipa::path(get, path = "/v4/affiliates/metadata", tag = "affiliates",
    params(("address" = String, Query)),
    responses(
        (status = 200, body = AffiliateMetadataResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get_affiliate_metadata(ctx: Ctx) -> ApiResult<Json<AffiliateMetadataResponse>> {
    let mut v = ctx.validator();
    let address = required_string(&mut v, "address");
    ctx.finish(v)?;
    let db = ctx.reader().await?;
    let threshold = Numeric::stored(VOLUME_ELIGIBILITY_THRESHOLD.into());
    Ok(Json(
        social::affiliate_metadata(&db.pool, &validated(address), &threshold).await?,
    ))
}

/// The address behind a referral code.
#[utoipa::path(get, path = "/v4/affiliates/address", tag = "affiliates",
    params(("referralCode" = String, Query)),
    responses(
        (status = 200, body = AffiliateAddressResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get_affiliate_address(ctx: Ctx) -> ApiResult<Json<AffiliateAddressResponse>> {
    let mut v = ctx.validator();
    let code = required_string(&mut v, "referralCode");
    ctx.finish(v)?;
    let db = ctx.reader().await?;
    Ok(Json(
        social::affiliate_address(&db.pool, &validated(code)).await?,
    ))
}

/// A wallet's total trading volume (a JSON number, or null).
#[utoipa::path(get, path = "/v4/affiliates/total_volume", tag = "affiliates",
    params(("address" = String, Query)),
    responses(
        (status = 200, body = AffiliateTotalVolumeResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get_affiliate_total_volume(ctx: Ctx) -> ApiResult<Json<AffiliateTotalVolumeResponse>> {
    let mut v = ctx.validator();
    let address = required_string(&mut v, "address");
    ctx.finish(v)?;
    let db = ctx.reader().await?;
    Ok(Json(
        social::affiliate_total_volume(&db.pool, &validated(address)).await?,
    ))
}

fn required_string(v: &mut crate::params::Validator<'_>, name: &str) -> Option<String> {
    // A NUL byte cannot be stored in Postgres text, so no stored value contains one.
    v.check(Location::Query, name, true, MSG_INVALID, |text| {
        (!text.is_empty() && !text.contains('\0')).then(|| text.to_owned())
    })
}
