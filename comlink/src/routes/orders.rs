//! `GET /v4/orders`, `…/parentSubaccountNumber` and `GET /v4/orders/{orderId}`
//! (serve.md §4.3.6–§4.3.7).

use axum::Json;
use indexer_domain::{ApiOrderStatus, OrderSide, OrderType};
use indexer_query::orders::{self, Order, OrdersFilter};
use indexer_query::subaccounts::SubaccountSelector;

use crate::ctx::Ctx;
use crate::error::{ApiResult, ErrorBody, Location, ValidationErrorBody};
use crate::params::Validator;
use crate::routes::{account_request, validated, AccountScope};

const MSG_SIDE: &str = "side must be one of BUY,SELL";
const ORDER_TYPES: &str =
    "LIMIT,MARKET,STOP_LIMIT,STOP_MARKET,TRAILING_STOP,TAKE_PROFIT,TAKE_PROFIT_MARKET,TWAP,TWAP_SUBORDER";
const MSG_STATUS: &str =
    "status must be one of OPEN,FILLED,CANCELED,BEST_EFFORT_CANCELED,UNTRIGGERED,ERROR,BEST_EFFORT_OPENED";
const MSG_BOTH_EXPIRIES: &str = "Cannot provide both goodTilBlock and goodTilBlockTime";

/// Orders of a subaccount from Postgres and Redis, latest expiry first (a bare array).
#[utoipa::path(get, path = "/v4/orders", tag = "accounts",
    params(("address" = String, Query), ("subaccountNumber" = u32, Query),
        ("limit" = Option<u32>, Query), ("ticker" = Option<String>, Query),
        ("side" = Option<String>, Query), ("type" = Option<String>, Query),
        ("includeTypes" = Option<String>, Query), ("excludeTypes" = Option<String>, Query),
        ("status" = Option<String>, Query),
        ("goodTilBlockBeforeOrAt" = Option<u64>, Query), ("goodTilBlockAfter" = Option<u64>, Query),
        ("goodTilBlockTimeBeforeOrAt" = Option<String>, Query),
        ("goodTilBlockTimeAfter" = Option<String>, Query),
        ("returnLatestOrders" = Option<bool>, Query, description = "false: earliest expiry first"),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = Vec<Order>),
        (status = 400, body = ValidationErrorBody),
        (status = 403, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_orders(ctx: Ctx) -> ApiResult<Json<Vec<Order>>> {
    let snapshot = ctx.markets(ctx.query_param("ticker")).await;
    let (selector, filter) =
        account_request(&ctx, AccountScope::Subaccount, |v| filter(v, &snapshot))?;
    respond(&ctx, selector, filter).await
}

/// The same over every child of a parent.
#[utoipa::path(get, path = "/v4/orders/parentSubaccountNumber", tag = "accounts",
    params(("address" = String, Query), ("parentSubaccountNumber" = u32, Query),
        ("limit" = Option<u32>, Query), ("ticker" = Option<String>, Query),
        ("side" = Option<String>, Query), ("type" = Option<String>, Query),
        ("status" = Option<String>, Query), ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = Vec<Order>),
        (status = 400, body = ValidationErrorBody),
        (status = 403, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_parent_orders(ctx: Ctx) -> ApiResult<Json<Vec<Order>>> {
    let snapshot = ctx.markets(ctx.query_param("ticker")).await;
    let (selector, filter) = account_request(&ctx, AccountScope::ParentSubaccount, |v| {
        filter(v, &snapshot)
    })?;
    respond(&ctx, selector, filter).await
}

/// One order by id (no rate limit, no compliance check).
#[utoipa::path(get, path = "/v4/orders/{orderId}", tag = "accounts",
    params(("orderId" = String, Path, description = "order UUID"), ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = Order),
        (status = 400, body = ValidationErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get_order(ctx: Ctx) -> ApiResult<Json<Order>> {
    let mut v = ctx.validator();
    let id = v.uuid(Location::Params, "orderId");
    ctx.finish(v)?;
    let db = ctx.reader().await?;
    let markets = ctx.markets(None).await;
    let order = orders::order(&db.pool, ctx.state.cache(), &markets, validated(id)).await?;
    Ok(Json(order))
}

fn filter(v: &mut Validator<'_>, markets: &indexer_query::MarketsSnapshot) -> OrdersFilter {
    let limit = v.limit();
    let market = v.ticker(Location::Query, "ticker", false, markets);
    let side: Option<OrderSide> = v.one_of("side", false, MSG_SIDE);
    let order_type: Option<OrderType> =
        v.one_of("type", false, &format!("type must be one of {ORDER_TYPES}"));
    let include: Option<Vec<OrderType>> = v.list_of(
        "includeTypes",
        &format!("includeTypes must be one of {ORDER_TYPES}"),
    );
    let exclude: Option<Vec<OrderType>> = v.list_of(
        "excludeTypes",
        &format!("excludeTypes must be one of {ORDER_TYPES}"),
    );
    let statuses: Option<Vec<ApiOrderStatus>> = v.list_of("status", MSG_STATUS);
    let good_til_block_before_or_at = v.positive_int("goodTilBlockBeforeOrAt");
    let good_til_block_after = v.positive_int("goodTilBlockAfter");
    let good_til_block_time_before_or_at = v.iso_time("goodTilBlockTimeBeforeOrAt");
    let good_til_block_time_after = v.iso_time("goodTilBlockTimeAfter");
    let return_latest = v.boolean("returnLatestOrders");
    if v.has("goodTilBlock") && v.has("goodTilBlockTime") {
        v.error(Location::Query, "goodTilBlock", MSG_BOTH_EXPIRIES);
    }
    let names = |types: Option<Vec<OrderType>>| {
        types
            .unwrap_or_default()
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect()
    };
    OrdersFilter {
        clob_pair_id: market.map(|m| m.clob_pair_id),
        side,
        order_type: order_type.map(|t| t.as_str().to_owned()),
        include_types: names(include),
        exclude_types: names(exclude),
        statuses: statuses
            .unwrap_or_default()
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
        good_til_block_before_or_at,
        good_til_block_after,
        good_til_block_time_before_or_at,
        good_til_block_time_after,
        // Absent or true: latest expiry first (serve.md decision D3).
        descending: return_latest.unwrap_or(true),
        limit,
    }
}

async fn respond(
    ctx: &Ctx,
    selector: SubaccountSelector,
    filter: OrdersFilter,
) -> ApiResult<Json<Vec<Order>>> {
    ctx.check_compliance(Some(selector.address())).await?;
    let db = ctx.reader().await?;
    let markets = ctx.markets(None).await;
    let orders = orders::orders(&db.pool, ctx.state.cache(), &markets, &selector, &filter).await?;
    Ok(Json(orders))
}
