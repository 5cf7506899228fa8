//! Trader search (serve.md §4.7) and affiliate reads (§4.6).

use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::json::Numeric;
use crate::QueryError;

/// `{"result": {address, subaccountNumber, subaccountId, username}}`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TraderSearchResponse {
    pub result: TraderSearchResult,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
#[sqlx(rename_all = "camelCase")]
pub struct TraderSearchResult {
    pub address: String,
    pub subaccount_number: i32,
    pub subaccount_id: Uuid,
    pub username: String,
}

/// An address (`dydx` + 39 lowercase alphanumerics) finds its subaccount 0; anything else is a
/// username.
pub async fn search_trader(
    pool: &PgPool,
    search: &str,
) -> Result<TraderSearchResponse, QueryError> {
    let is_address = search.len() == 43
        && search.starts_with("dydx")
        && search[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase());
    let condition = if is_address {
        r#"s.address = $1 AND s."subaccountNumber" = 0"#
    } else {
        "u.username = $1"
    };
    let result: Option<TraderSearchResult> = sqlx::query_as(&format!(
        r#"SELECT s.address, s."subaccountNumber", s.id AS "subaccountId", u.username
           FROM subaccounts s JOIN subaccount_usernames u ON u."subaccountId" = s.id
           WHERE {condition}"#
    ))
    .bind(search)
    .fetch_optional(pool)
    .await?;
    result
        .map(|result| TraderSearchResponse { result })
        .ok_or_else(|| QueryError::NotFound(format!("Subaccount not found:{search}")))
}

/// `GET /v4/affiliates/metadata`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AffiliateMetadataResponse {
    pub referral_code: String,
    pub is_volume_eligible: bool,
    pub is_affiliate: bool,
}

/// `GET /v4/affiliates/address`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AffiliateAddressResponse {
    pub address: String,
}

/// `GET /v4/affiliates/total_volume`: a JSON number (or null).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AffiliateTotalVolumeResponse {
    #[schema(value_type = Option<f64>)]
    pub total_volume: Option<serde_json::Number>,
}

fn wallet_not_found(address: &str) -> QueryError {
    QueryError::NotFound(format!("Wallet with address {address} not found"))
}

/// Referral code (the username of subaccount 0), volume eligibility and whether anyone was
/// referred.
pub async fn affiliate_metadata(
    pool: &PgPool,
    address: &str,
    volume_threshold: &Numeric,
) -> Result<AffiliateMetadataResponse, QueryError> {
    let volume: Option<Numeric> =
        sqlx::query_scalar(r#"SELECT "totalVolume" FROM wallets WHERE address = $1"#)
            .bind(address)
            .fetch_optional(pool)
            .await?;
    let volume = volume.ok_or_else(|| wallet_not_found(address))?;
    let username: Option<String> = sqlx::query_scalar(
        r#"SELECT u.username FROM subaccount_usernames u
           JOIN subaccounts s ON s.id = u."subaccountId"
           WHERE s.address = $1 AND s."subaccountNumber" = 0"#,
    )
    .bind(address)
    .fetch_optional(pool)
    .await?;
    let referral_code = username.ok_or_else(|| {
        QueryError::Inconsistent(format!("no username for subaccount 0 of {address}"))
    })?;
    let is_affiliate: bool = sqlx::query_scalar(
        r#"SELECT EXISTS (SELECT 1 FROM affiliate_referred_users WHERE "affiliateAddress" = $1)"#,
    )
    .bind(address)
    .fetch_one(pool)
    .await?;
    Ok(AffiliateMetadataResponse {
        referral_code,
        is_volume_eligible: volume.decimal() >= volume_threshold.decimal(),
        is_affiliate,
    })
}

/// The address whose subaccount-0 username is `code`.
pub async fn affiliate_address(
    pool: &PgPool,
    code: &str,
) -> Result<AffiliateAddressResponse, QueryError> {
    let address: Option<String> = sqlx::query_scalar(
        r#"SELECT s.address FROM subaccount_usernames u
           JOIN subaccounts s ON s.id = u."subaccountId"
           WHERE u.username = $1"#,
    )
    .bind(code)
    .fetch_optional(pool)
    .await?;
    address
        .map(|address| AffiliateAddressResponse { address })
        .ok_or_else(|| QueryError::NotFound(format!("Referral code {code} does not exist")))
}

/// The wallet's total volume as a JSON number (the reference returns a JavaScript number).
pub async fn affiliate_total_volume(
    pool: &PgPool,
    address: &str,
) -> Result<AffiliateTotalVolumeResponse, QueryError> {
    let volume: Option<Option<Numeric>> =
        sqlx::query_scalar(r#"SELECT "totalVolume" FROM wallets WHERE address = $1"#)
            .bind(address)
            .fetch_optional(pool)
            .await?;
    let volume = volume.ok_or_else(|| wallet_not_found(address))?;
    Ok(AffiliateTotalVolumeResponse {
        total_volume: volume.and_then(|v| v.decimal().to_string().parse().ok()),
    })
}
