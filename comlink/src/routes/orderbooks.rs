//! `GET /v4/orderbooks/perpetualMarket/{ticker}` (serve.md §4.2.2).

use axum::Json;
use indexer_query::markets::not_a_perpetual_market;
use indexer_query::orderbook::{self, OrderbookResponse};

use crate::ctx::Ctx;
use crate::error::{ApiError, ApiResult, ErrorBody, ValidationErrorBody};

/// The L2 book from Redis: bids descending, asks ascending, uncrossed, 100 levels per side.
#[utoipa::path(get, path = "/v4/orderbooks/perpetualMarket/{ticker}", tag = "markets",
    params(("ticker" = String, Path, description = "e.g. BTC-USD")),
    responses(
        (status = 200, body = OrderbookResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 404, description = "`{ticker} not found in markets of type PERPETUAL`", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_orderbook(ctx: Ctx) -> ApiResult<Json<OrderbookResponse>> {
    ctx.finish(ctx.validator())?;
    let ticker = ctx.path_param("ticker").unwrap_or_default().to_owned();
    let snapshot = ctx.markets(Some(&ticker)).await;
    let market = snapshot
        .by_ticker(&ticker)
        .ok_or_else(|| ApiError::NotFound(not_a_perpetual_market(&ticker)))?;
    ctx.reader().await?;
    let book = orderbook::orderbook(
        ctx.state.cache(),
        market,
        ctx.state.settings().orderbook_levels_per_side,
    )
    .await?;
    Ok(Json(book.book))
}
