//! `GET /v4/trades/perpetualMarket/{ticker}` (serve.md §4.2.3).

use axum::Json;
use indexer_query::trades::{self, TradesFilter, TradesResponse};
use indexer_query::Pagination;

use crate::ctx::Ctx;
use crate::error::{ApiResult, ErrorBody, Location, ValidationErrorBody};
use crate::routes::validated;

/// Taker fills of the market: newest first, or oldest first with `page`.
#[utoipa::path(get, path = "/v4/trades/perpetualMarket/{ticker}", tag = "markets",
    params(
        ("ticker" = String, Path),
        ("limit" = Option<u32>, Query),
        ("createdBeforeOrAtHeight" = Option<u64>, Query),
        ("createdBeforeOrAt" = Option<String>, Query, description = "ISO-8601"),
        ("page" = Option<u32>, Query),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = TradesResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_trades(ctx: Ctx) -> ApiResult<Json<TradesResponse>> {
    let snapshot = ctx.markets(ctx.path_param("ticker")).await;
    let mut v = ctx.validator();
    let market = v.ticker(Location::Params, "ticker", true, &snapshot);
    let limit = v.limit();
    let height = v.non_negative_int("createdBeforeOrAtHeight");
    let before = v.iso_time("createdBeforeOrAt");
    let page = v.page();
    ctx.finish(v)?;
    let db = ctx.reader().await?;
    let filter = TradesFilter {
        clob_pair_id: validated(market).clob_pair_id,
        // A height of 0 is falsy in the reference: no filter.
        created_before_or_at_height: height.filter(|h| *h != 0),
        created_before_or_at: before,
        pagination: Pagination::new(limit, page),
    };
    Ok(Json(trades::trades(&db.pool, &filter).await?.into()))
}
