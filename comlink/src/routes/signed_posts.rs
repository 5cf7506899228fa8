//! The P2 POSTs of the dYdX web front end (serve.md §4.4.3, §4.4.4, §4.6): geoblock checks and
//! referral-code changes signed by the wallet, and the operators' `setStatus`. Not rate
//! limited (as in the reference); every write goes to the primary.

use axum::body::Bytes;
use axum::Json;
use chrono::Utc;
use indexer_query::affiliates::{self, ReferralCodeError};
use indexer_query::compliance::{self, ComplianceStatus};
use indexer_query::IsoTime;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::wallet::{SignedBy, WalletSignatureError};
use crate::ctx::Ctx;
use crate::error::{ApiError, ApiResult, ErrorBody, RouteNotFoundBody, ValidationErrorBody};
use crate::routes::body::Body;
use crate::routes::validated;

const ACTIONS: &[&str] = &["CONNECT", "VALID_SURVEY", "INVALID_SURVEY"];
const STATUSES: &[&str] = &[
    "COMPLIANT",
    "FIRST_STRIKE_CLOSE_ONLY",
    "FIRST_STRIKE",
    "CLOSE_ONLY",
    "BLOCKED",
];
const REASONS: &[&str] = &[
    "MANUAL",
    "US_GEO",
    "CA_GEO",
    "GB_GEO",
    "SANCTIONED_GEO",
    "COMPLIANCE_PROVIDER",
];
/// The action a referral-code change is signed with.
const UPDATE_CODE: &str = "UPDATE_CODE";

/// Which signature a route expects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Signer {
    /// Direct secp256k1 signature with a timestamp.
    Direct,
    /// ADR-036 amino signature from Keplr (no timestamp).
    Keplr,
}

impl From<WalletSignatureError> for ApiError {
    fn from(error: WalletSignatureError) -> Self {
        ApiError::BadRequest(error.to_string())
    }
}

/// Records a wallet's geoblock check (direct signature).
#[utoipa::path(post, path = "/v4/compliance/geoblock", tag = "compliance",
    request_body(content = GeoblockRequest, content_type = "application/json"),
    responses(
        (status = 200, body = ComplianceStatus),
        (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn post_geoblock(ctx: Ctx, body: Bytes) -> ApiResult<Json<ComplianceStatus>> {
    geoblock(&ctx, &body, Signer::Direct).await
}

/// Records a wallet's geoblock check (Keplr ADR-036 signature over `message`).
#[utoipa::path(post, path = "/v4/compliance/geoblock-keplr", tag = "compliance",
    request_body(content = GeoblockKeplrRequest, content_type = "application/json"),
    responses(
        (status = 200, body = ComplianceStatus),
        (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn post_geoblock_keplr(ctx: Ctx, body: Bytes) -> ApiResult<Json<ComplianceStatus>> {
    geoblock(&ctx, &body, Signer::Keplr).await
}

/// Body of `POST /v4/compliance/geoblock` (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "camelCase")]
pub struct GeoblockRequest {
    address: String,
    message: String,
    /// `CONNECT`, `VALID_SURVEY` or `INVALID_SURVEY`.
    action: String,
    current_status: Option<String>,
    /// Base64 secp256k1 signature (64 bytes r‖s).
    signed_message: String,
    /// Base64 compressed secp256k1 public key.
    pubkey: String,
    /// Unix seconds, within 30 s of the server's clock.
    timestamp: i64,
}

/// Body of `POST /v4/compliance/geoblock-keplr` (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "camelCase")]
pub struct GeoblockKeplrRequest {
    address: String,
    message: String,
    action: String,
    signed_message: String,
    pubkey: String,
}

async fn geoblock(ctx: &Ctx, body: &[u8], signer: Signer) -> ApiResult<Json<ComplianceStatus>> {
    let mut body = Body::parse(body)?;
    let address = body.string("address");
    let message = body.string("message");
    let action = body.one_of("action", true, ACTIONS);
    let current_status = match signer {
        Signer::Direct => body.one_of("currentStatus", false, STATUSES),
        Signer::Keplr => None,
    };
    let signed_message = body.string("signedMessage");
    let pubkey = body.string("pubkey");
    let timestamp = match signer {
        Signer::Direct => body.integer("timestamp"),
        Signer::Keplr => None,
    };
    body.finish()?;
    let (address, message) = (validated(address), validated(message));
    let signed = SignedBy {
        address: &address,
        pubkey: &validated(pubkey),
        signed_message: &validated(signed_message),
    };
    match signer {
        Signer::Direct => signed.verify_direct(
            &message,
            &validated(action),
            current_status.as_deref(),
            validated(timestamp),
            Utc::now().timestamp(),
        )?,
        Signer::Keplr => signed.verify_keplr(&message)?,
    }
    let settings = ctx.state.settings();
    if settings.whitelisted_addresses.contains(&address) {
        return Ok(Json(ComplianceStatus {
            status: "COMPLIANT".to_owned(),
            reason: None,
            updated_at: Some(IsoTime(Utc::now())),
        }));
    }
    if settings.geoblocking_enabled && !crate::compliance::geo_origin_ok(ctx) {
        return Err(ApiError::Geoblocked);
    }
    let primary = &ctx.state.pools().primary;
    Ok(Json(compliance::ensure_status(primary, &address).await?))
}

/// `{status, reason}` after `setStatus`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SetStatusResponse {
    pub status: String,
    pub reason: Option<String>,
}

/// Body of `POST /v4/compliance/setStatus` (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SetStatusRequest {
    address: String,
    status: String,
    reason: Option<String>,
}

/// Sets an address's compliance status (operators only; served when
/// `EXPOSE_SET_COMPLIANCE_ENDPOINT=true`).
#[utoipa::path(post, path = "/v4/compliance/setStatus", tag = "compliance",
    request_body(content = SetStatusRequest, content_type = "application/json"),
    responses(
        (status = 200, body = SetStatusResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 404, body = RouteNotFoundBody,
            description = "the endpoint is not exposed (EXPOSE_SET_COMPLIANCE_ENDPOINT=false)")))]
pub async fn post_set_status(ctx: Ctx, body: Bytes) -> ApiResult<Json<SetStatusResponse>> {
    let mut body = Body::parse(&body)?;
    let address = body.string("address");
    let status = body.one_of("status", true, STATUSES);
    let reason = body.one_of("reason", false, REASONS);
    body.finish()?;
    let address = validated(address);
    if !address.starts_with("dydx") {
        return Err(ApiError::BadRequest(format!(
            "Address {address} is not a dydx address"
        )));
    }
    let primary = &ctx.state.pools().primary;
    let row =
        compliance::set_status(primary, &address, &validated(status), reason.as_deref()).await?;
    tracing::info!(
        address,
        status = row.status,
        "compliance status set by an operator"
    );
    Ok(Json(SetStatusResponse {
        status: row.status,
        reason: row.reason.flatten(),
    }))
}

/// `{"referralCode": "<new code>"}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReferralCodeResponse {
    pub referral_code: String,
}

/// Body of `POST /v4/affiliates/referralCode` (documentation only; `-keplr` has no
/// `timestamp`).
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "camelCase")]
pub struct ReferralCodeRequest {
    address: String,
    /// 3–32 letters and digits.
    new_code: String,
    signed_message: String,
    pub_key: String,
    timestamp: Option<i64>,
}

/// Changes a wallet's referral code (direct signature over `newCode:UPDATE_CODE"":timestamp`).
#[utoipa::path(post, path = "/v4/affiliates/referralCode", tag = "affiliates",
    request_body(content = ReferralCodeRequest, content_type = "application/json"),
    responses(
        (status = 200, body = ReferralCodeResponse),
        (status = 400, body = ErrorBody),
        (status = 500, body = ErrorBody)))]
pub async fn post_referral_code(ctx: Ctx, body: Bytes) -> ApiResult<Json<ReferralCodeResponse>> {
    referral_code(&ctx, &body, Signer::Direct).await
}

/// Changes a wallet's referral code (Keplr ADR-036 signature over `newCode`).
#[utoipa::path(post, path = "/v4/affiliates/referralCode-keplr", tag = "affiliates",
    request_body(content = ReferralCodeRequest, content_type = "application/json"),
    responses(
        (status = 200, body = ReferralCodeResponse),
        (status = 400, body = ErrorBody),
        (status = 500, body = ErrorBody)))]
pub async fn post_referral_code_keplr(
    ctx: Ctx,
    body: Bytes,
) -> ApiResult<Json<ReferralCodeResponse>> {
    referral_code(&ctx, &body, Signer::Keplr).await
}

fn is_valid_code(code: &str) -> bool {
    (3..=32).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric())
}

async fn referral_code(
    ctx: &Ctx,
    body: &[u8],
    signer: Signer,
) -> ApiResult<Json<ReferralCodeResponse>> {
    let mut body = Body::parse(body)?;
    let address = body.string("address");
    let code = body.check("newCode", true, crate::params::MSG_INVALID, |value| {
        value
            .as_str()
            .filter(|code| is_valid_code(code))
            .map(str::to_owned)
    });
    let signed_message = body.string("signedMessage");
    let pubkey = body.string("pubKey");
    let timestamp = match signer {
        Signer::Direct => body.integer("timestamp"),
        Signer::Keplr => None,
    };
    body.finish()?;
    let (address, code) = (validated(address), validated(code));
    let signed = SignedBy {
        address: &address,
        pubkey: &validated(pubkey),
        signed_message: &validated(signed_message),
    };
    match signer {
        Signer::Direct => signed.verify_direct(
            &code,
            UPDATE_CODE,
            None,
            validated(timestamp),
            Utc::now().timestamp(),
        )?,
        Signer::Keplr => signed.verify_keplr(&code)?,
    }
    let primary = &ctx.state.pools().primary;
    match affiliates::update_referral_code(primary, &address, &code).await {
        Ok(()) => Ok(Json(ReferralCodeResponse {
            referral_code: code,
        })),
        Err(ReferralCodeError::Query(error)) => Err(error.into()),
        Err(refused) => Err(ApiError::BadRequest(refused.to_string())),
    }
}
