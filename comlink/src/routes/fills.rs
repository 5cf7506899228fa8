//! `GET /v4/fills` and `…/parentSubaccountNumber` (serve.md §4.3.8).

use axum::Json;
use indexer_domain::{FillType, MarketType};
use indexer_query::fills::{self, FillsFilter, FillsResponse};
use indexer_query::subaccounts::SubaccountSelector;
use indexer_query::Pagination;

use crate::ctx::Ctx;
use crate::error::{ApiResult, ErrorBody, ValidationErrorBody};
use crate::params::Validator;
use crate::routes::{
    account_request, clob_pair_of, market_with_type, subaccount_number_map, AccountScope,
};

const FILL_TYPES: &str = "LIMIT,LIQUIDATED,LIQUIDATION,DELEVERAGED,OFFSETTING,TWAP_SUBORDER";

/// The validated filter before the market is resolved.
struct Params {
    market: Option<(String, MarketType)>,
    filter: FillsFilter,
}

/// Fills of a subaccount: newest first, or oldest first with `page`.
#[utoipa::path(get, path = "/v4/fills", tag = "accounts",
    params(("address" = String, Query), ("subaccountNumber" = u32, Query),
        ("market" = Option<String>, Query), ("marketType" = Option<String>, Query, description = "PERPETUAL or SPOT"),
        ("includeTypes" = Option<String>, Query), ("excludeTypes" = Option<String>, Query),
        ("limit" = Option<u32>, Query), ("createdBeforeOrAtHeight" = Option<u64>, Query),
        ("createdBeforeOrAt" = Option<String>, Query), ("page" = Option<u32>, Query),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = FillsResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_fills(ctx: Ctx) -> ApiResult<Json<FillsResponse>> {
    let (selector, params) = account_request(&ctx, AccountScope::Subaccount, params)?;
    respond(&ctx, selector, params).await
}

/// Fills of every child of a parent.
#[utoipa::path(get, path = "/v4/fills/parentSubaccountNumber", tag = "accounts",
    params(("address" = String, Query), ("parentSubaccountNumber" = u32, Query),
        ("market" = Option<String>, Query), ("marketType" = Option<String>, Query),
        ("limit" = Option<u32>, Query), ("page" = Option<u32>, Query),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = FillsResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_parent_fills(ctx: Ctx) -> ApiResult<Json<FillsResponse>> {
    let (selector, params) = account_request(&ctx, AccountScope::ParentSubaccount, params)?;
    respond(&ctx, selector, params).await
}

fn params(v: &mut Validator<'_>) -> Params {
    let market = market_with_type(v);
    let include: Option<Vec<FillType>> = v.list_of(
        "includeTypes",
        &format!("includeTypes must be one of {FILL_TYPES}"),
    );
    let exclude: Option<Vec<FillType>> = v.list_of(
        "excludeTypes",
        &format!("excludeTypes must be one of {FILL_TYPES}"),
    );
    let limit = v.limit();
    let height = v.non_negative_int("createdBeforeOrAtHeight");
    let before = v.iso_time("createdBeforeOrAt");
    let page = v.page();
    let names = |types: Option<Vec<FillType>>| {
        types
            .unwrap_or_default()
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect()
    };
    Params {
        market,
        filter: FillsFilter {
            clob_pair_id: None,
            include_types: names(include),
            exclude_types: names(exclude),
            created_before_or_at_height: height,
            created_before_or_at: before,
            pagination: Pagination::new(limit, page),
        },
    }
}

async fn respond(
    ctx: &Ctx,
    selector: SubaccountSelector,
    mut params: Params,
) -> ApiResult<Json<FillsResponse>> {
    ctx.check_compliance(Some(selector.address())).await?;
    let db = ctx.reader().await?;
    let markets = ctx
        .markets(params.market.as_ref().map(|(m, _)| m.as_str()))
        .await;
    if let Some(market) = &params.market {
        params.filter.clob_pair_id = Some(clob_pair_of(&markets, market)?);
    }
    let numbers = subaccount_number_map(&db.pool, &selector).await?;
    let paged = fills::fills(&db.pool, &markets, &numbers, &params.filter).await?;
    Ok(Json(paged.into()))
}
