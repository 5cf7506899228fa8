//! `GET /v4/tradeHistory` and `…/parentSubaccountNumber` (serve.md §4.3.14).

use axum::Json;
use indexer_domain::MarketType;
use indexer_query::subaccounts::SubaccountSelector;
use indexer_query::trade_history::{self, TradeHistoryResponse};
use indexer_query::Pagination;

use crate::ctx::Ctx;
use crate::error::{ApiError, ApiResult, ErrorBody, Location, ValidationErrorBody};
use crate::params::{Validator, MSG_INVALID};
use crate::routes::{account_request, subaccount_number_map, AccountScope};

const MSG_MARKET_TYPE: &str = "marketType must be a valid market type (PERPETUAL/SPOT)";
const MSG_MARKET_NEEDS_TYPE: &str = "marketType must be provided if market is provided";
const MSG_TYPE_NEEDS_MARKET: &str = "market must be provided if marketType is provided";

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
    let (selector, params) = account_request(&ctx, AccountScope::Subaccount, |v| params(v))?;
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
    let (selector, params) = account_request(&ctx, AccountScope::ParentSubaccount, |v| params(v))?;
    respond(&ctx, selector, params).await
}

fn params(v: &mut Validator<'_>) -> Params {
    let market = v.check(Location::Query, "market", false, MSG_INVALID, |t| {
        Some(t.to_owned())
    });
    let market_type: Option<MarketType> = v.one_of("marketType", false, MSG_MARKET_TYPE);
    match (v.has("market"), v.has("marketType")) {
        (true, false) => v.error(Location::Query, "marketType", MSG_MARKET_NEEDS_TYPE),
        (false, true) => v.error(Location::Query, "market", MSG_TYPE_NEEDS_MARKET),
        _ => {}
    }
    let limit = v.limit();
    let page = v.page();
    Params {
        market: market.zip(market_type),
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
    let clob_pair_id = match &params.market {
        Some((market, market_type)) => {
            let found = match market_type {
                MarketType::Perpetual => markets.by_ticker(market),
                MarketType::Spot => None,
            };
            let found = found.ok_or_else(|| {
                ApiError::NotFound(format!(
                    "{market} not found in markets of type {market_type}"
                ))
            })?;
            Some(found.clob_pair_id)
        }
        None => None,
    };
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
