//! `GET /v4/screen` and `GET /v4/compliance/screen/{address}` (serve.md §4.4.1–§4.4.2) with the
//! pluggable provider off: only verdicts already stored in `compliance_data` count.

use axum::Json;
use indexer_query::compliance::{self, ComplianceStatus};
use serde::Serialize;
use utoipa::ToSchema;

use crate::ctx::Ctx;
use crate::error::{ApiResult, ErrorBody, Location, ValidationErrorBody, COMPLIANCE_BLOCKED_TEXT};
use crate::params::{is_plain_address, MSG_ADDRESS, MSG_INVALID};
use crate::routes::validated;

/// `{"restricted": false}` or `{"restricted": true, "reason": "<legal text>"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScreenResponse {
    pub restricted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// Whether an address (of any chain) is restricted.
#[utoipa::path(get, path = "/v4/screen", tag = "compliance",
    params(("address" = String, Query)),
    responses(
        (status = 200, body = ScreenResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_screen(ctx: Ctx) -> ApiResult<Json<ScreenResponse>> {
    let mut v = ctx.validator();
    // Any string, except one Postgres cannot hold (a NUL byte), which no address contains.
    let address = v.check(Location::Query, "address", true, MSG_INVALID, |t| {
        (!t.contains('\0')).then(|| t.to_owned())
    });
    ctx.finish(v)?;
    let db = ctx.reader().await?;
    let restricted = compliance::is_blocked(&db.pool, &validated(address)).await?;
    Ok(Json(ScreenResponse {
        restricted,
        reason: restricted.then_some(COMPLIANCE_BLOCKED_TEXT),
    }))
}

/// The compliance status of an address; a restricted dYdX address gets a stored status.
#[utoipa::path(get, path = "/v4/compliance/screen/{address}", tag = "compliance",
    params(("address" = String, Path)),
    responses(
        (status = 200, body = ComplianceStatus),
        (status = 400, body = ValidationErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_compliance_screen(ctx: Ctx) -> ApiResult<Json<ComplianceStatus>> {
    let mut v = ctx.validator();
    let address = v.check(Location::Params, "address", true, MSG_ADDRESS, |t| {
        is_plain_address(t).then(|| t.to_owned())
    });
    ctx.finish(v)?;
    let address = validated(address);
    if ctx
        .state
        .settings()
        .whitelisted_addresses
        .contains(&address)
    {
        return Ok(Json(ComplianceStatus::bare("COMPLIANT", None)));
    }
    let db = ctx.reader().await?;
    let restricted = compliance::is_blocked(&db.pool, &address).await?;
    if !address.starts_with("dydx") {
        return Ok(Json(if restricted {
            ComplianceStatus::bare("BLOCKED", Some("COMPLIANCE_PROVIDER"))
        } else {
            ComplianceStatus::bare("COMPLIANT", None)
        }));
    }
    let primary = &ctx.state.pools().primary;
    let status = if restricted {
        compliance::record_restricted(primary, &address).await?
    } else {
        compliance::status(primary, &address)
            .await?
            .unwrap_or_else(|| ComplianceStatus::bare("COMPLIANT", None))
    };
    Ok(Json(status))
}
