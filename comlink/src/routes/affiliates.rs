//! `GET /v4/affiliates/snapshot` (serve.md §4.6).

use axum::Json;
use indexer_query::affiliates::{self, AffiliateSnapshotResponse, SnapshotFilter};

use crate::ctx::Ctx;
use crate::error::{ApiResult, ErrorBody, Location, ValidationErrorBody};
use crate::params::{parse_int, Validator};

/// The reference's messages, typo included.
const MSG_ADDRESS_FILTER: &str =
    "addressFilter must be a non-empy array of comma separated strings";
const MSG_OFFSET: &str = "offset must be a valid integer";
const MSG_LIMIT: &str = "limit must be a valid integer";
const MSG_SORT: &str = "sortByAffiliateEarning must be a boolean";
const SORT: &str = "sortByAffiliateEarning";
/// What the Python and Rust clients send (serve.md D13).
const SORT_ALIAS: &str = "sortByAffiliateEarnings";
const DEFAULT_LIMIT: u64 = 1000;

/// Affiliate statistics, optionally for some addresses, highest earnings first on request.
#[utoipa::path(get, path = "/v4/affiliates/snapshot", tag = "affiliates",
    params(
        ("addressFilter" = Option<String>, Query, description = "comma-separated affiliate addresses"),
        ("offset" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("sortByAffiliateEarning" = Option<bool>, Query),
        ("sortByAffiliateEarnings" = Option<bool>, Query, description = "alias of sortByAffiliateEarning"),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = AffiliateSnapshotResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_affiliate_snapshot(ctx: Ctx) -> ApiResult<Json<AffiliateSnapshotResponse>> {
    let mut v = ctx.validator();
    let addresses = address_filter(&ctx, &mut v);
    let offset = v.check(Location::Query, "offset", false, MSG_OFFSET, |text| {
        parse_int(text).and_then(|n| u64::try_from(n).ok())
    });
    let limit = v.check(Location::Query, "limit", false, MSG_LIMIT, |text| {
        parse_int(text)
            .filter(|n| *n >= 1)
            .and_then(|n| u64::try_from(n).ok())
    });
    let sort_param = if v.has(SORT) || !v.has(SORT_ALIAS) {
        SORT
    } else {
        SORT_ALIAS
    };
    let by_earnings = v.check(Location::Query, sort_param, false, MSG_SORT, parse_bool);
    ctx.finish(v)?;
    let filter = SnapshotFilter {
        addresses: addresses.unwrap_or_default(),
        offset: offset.unwrap_or(0),
        limit: limit.unwrap_or(DEFAULT_LIMIT),
        by_earnings: by_earnings.unwrap_or(false),
    };
    let db = ctx.reader().await?;
    Ok(Json(
        affiliates::affiliate_snapshot(&db.pool, &filter).await?,
    ))
}

/// Comma lists and repeats concatenated, case kept; an empty element fails the whole list.
fn address_filter(ctx: &Ctx, v: &mut Validator<'_>) -> Option<Vec<String>> {
    let values = ctx.query.all("addressFilter");
    if values.is_empty() {
        return None;
    }
    let addresses: Option<Vec<String>> = values
        .iter()
        .flat_map(|value| value.split(','))
        .map(|item| {
            let item = item.trim();
            (!item.is_empty()).then(|| item.to_owned())
        })
        .collect();
    if addresses.is_none() {
        v.error(Location::Query, "addressFilter", MSG_ADDRESS_FILTER);
    }
    addresses
}

/// Case-insensitive `true`/`false`/`1`/`0` (serve.md D2).
fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}
