//! `GET /v4/tradeHistory` and `…/parentSubaccountNumber` (serve.md §4.3.14).

use axum::Json;
use indexer_domain::MarketType;
use indexer_query::subaccounts::SubaccountSelector;
use indexer_query::trade_history::{self, TradeHistoryResponse};
use indexer_query::Pagination;

use crate::ctx::Ctx;
use crate::error::{ApiResult, ErrorBody, ValidationErrorBody};
use crate::params::Validator;
use crate::routes::{
    account_request, clob_pair_of, market_with_type, subaccount_number_map, AccountScope,
};

struct Params {
    market: Option<(String, MarketType)>,
    pagination: Pagination,
}

/// Position lifecycle rows of a subaccount, newest first (always with pagination keys).
#[utoipa::path(get, path = "/v4/tradeHistory", tag = "accounts",
    params(("address" = String, Query), ("subaccountNumber" = u32, Query),
        ("market" = Option<String>, Query), ("marketType" = Option<String>, Query),
        ("limit" = Option<u32>, Query), ("page" = Option<u32>, Query),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = TradeHistoryResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_trade_history(ctx: Ctx) -> ApiResult<Json<TradeHistoryResponse>> {
    let (selector, params) = account_request(&ctx, AccountScope::Subaccount, params)?;
    respond(&ctx, selector, params).await
}

/// The same over every child of a parent.
#[utoipa::path(get, path = "/v4/tradeHistory/parentSubaccountNumber", tag = "accounts",
    params(("address" = String, Query), ("parentSubaccountNumber" = u32, Query),
        ("market" = Option<String>, Query), ("marketType" = Option<String>, Query),
        ("limit" = Option<u32>, Query), ("page" = Option<u32>, Query),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = TradeHistoryResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_parent_trade_history(ctx: Ctx) -> ApiResult<Json<TradeHistoryResponse>> {
    let (selector, params) = account_request(&ctx, AccountScope::ParentSubaccount, params)?;
    respond(&ctx, selector, params).await
}

fn params(v: &mut Validator<'_>) -> Params {
    let market = market_with_type(v);
    let limit = v.limit();
    let page = v.page();
    Params {
        market,
        pagination: Pagination::new(limit, page),
    }
}

async fn respond(
    ctx: &Ctx,
    selector: SubaccountSelector,
    params: Params,
) -> ApiResult<Json<TradeHistoryResponse>> {
    ctx.check_compliance(Some(selector.address())).await?;
    let db = ctx.reader().await?;
    let markets = ctx
        .markets(params.market.as_ref().map(|(m, _)| m.as_str()))
        .await;
    let clob_pair_id = params
        .market
        .as_ref()
        .map(|market| clob_pair_of(&markets, market))
        .transpose()?;
    let numbers = subaccount_number_map(&db.pool, &selector).await?;
    let history = trade_history::trade_history(
        &db.pool,
        &markets,
        &numbers,
        clob_pair_id,
        params.pagination,
    )
    .await?;
    Ok(Json(history))
}
